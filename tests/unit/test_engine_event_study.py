"""Conformance of ``event_study`` on the engines (TWFE, Sun-Abraham, imputation, did2s and
Callaway-Sant'Anna summed by unit type in the engine) against the in-memory fit (itself
checked against pyfixest, diff-diff and R did in tests/reference): estimates, standard
errors, simultaneous bands, the overall effect, sample logs and counts, on the shipped
cluster panel made unbalanced with missing outcomes, text unit ids beyond 2^31,
0-coded never-treated units and shuffled rows; and without never-treated units (Sun and
Abraham's last-treated controls; imputation's not-yet-treated)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import QUERY_ENGINES, parquet_shards, spilling_engine

import impact
from impact.errors import ImpactError, ImpactWarning, InvalidOptionError

pytest.importorskip("duckdb")

#: Estimates are the same sums in another order; standard errors come from
#: cross-products per unit type of outcomes less each unit's and each period's mean
#: instead of every unit's residuals (1e-14 to 3e-14 relative here). The issue's bound.
ENGINE_RTOL = 1e-10
KW = dict(y="y", unit="fid", time="year", cohort="g0", never_treated=0)
ESTIMATORS = ["twfe", "sun_abraham", "imputation", "did2s", "cs"]
CASES = [
    {},
    {"vcov": {"cluster": "cell"}, "window": (-3, 4), "reference": -2},
    {"control_pool": "pool"},
    {"vcov": {"cluster": "region"}},
]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = impact.datasets.load("cluster_panel")
    rng = np.random.default_rng(3)
    return df.assign(
        y=df["log_emp"].where(rng.uniform(size=len(df)) > 0.04),  # missing outcomes
        g0=df["join_year"].fillna(0),
        fid="f" + (df["firm_id"] + 2**33).astype(str),
        pool=df["cluster_cell"] == 0,
    ).sample(frac=1.0, random_state=2)


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return impact.event_study(data, **kw)


def _same(a, b) -> None:
    ta, tb = a.table, b.table
    pd.testing.assert_series_equal(ta["rel_time"], tb["rel_time"])
    for col in ("estimate", "std_error", "conf_low", "band_low", "band_high"):
        np.testing.assert_allclose(tb[col], ta[col], rtol=ENGINE_RTOL, atol=1e-15, err_msg=col)
    np.testing.assert_allclose([b.att, b.att_se], [a.att, a.att_se], rtol=ENGINE_RTOL)
    np.testing.assert_allclose(  # imputation, did2s: the treated-observation weighted ATT
        [b.att_treated, b.att_treated_se], [a.att_treated, a.att_treated_se],
        rtol=ENGINE_RTOL, equal_nan=True,
    )  # fmt: skip
    assert b.sample_log == a.sample_log
    assert (b.n_obs, b.n_units, b.clusters, b.inference) == (
        a.n_obs, a.n_units, a.clusters, a.inference,
    )  # fmt: skip
    pa, pb = a.pretrend_test(), b.pretrend_test()
    np.testing.assert_allclose(pb["statistic"], pa["statistic"], rtol=1e-8, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("engine", QUERY_ENGINES)
def test_engine_event_study_equals_in_memory(panel, estimator, case, engine):
    before = panel.copy()
    want = _fit(panel, **KW, **case, estimator=estimator)
    got = _fit(panel, **KW, **case, estimator=estimator, engine=engine)
    _same(want, got)
    assert got.engine_use.engine == engine and got.engine_use.passes > 0
    pd.testing.assert_frame_equal(panel, before)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_pandas_engine_and_no_never_treated_units(panel, estimator):
    """Without never-treated units Sun-Abraham's controls are the last-treated cohort
    (its periods from its treatment on dropped) and TWFE and imputation lean on the
    not-yet-treated; the pandas engine runs the same algorithm."""
    late = panel[panel["g0"] > 0]
    case = {"window": (-4, 3)}
    if estimator == "cs":
        case["vcov"] = {"cluster": "cell"}
    want = _fit(late, **KW, **case, estimator=estimator)
    _same(want, _fit(late, **KW, **case, estimator=estimator, engine="pandas"))


def test_parquet_shards_under_a_memory_limit(panel, tmp_path):
    glob = parquet_shards(panel, tmp_path)
    engine = spilling_engine(tmp_path)
    for estimator in ("sun_abraham", "did2s"):
        want = _fit(panel, **KW, estimator=estimator, vcov={"cluster": "cell"})
        got = _fit(glob, **KW, estimator=estimator, vcov={"cluster": "cell"}, engine=engine)
        _same(want, got)
    _same(_fit(panel, **KW), _fit(glob, **KW))  # a path runs in DuckDB


def test_collected_bytes_do_not_grow_with_units(panel):
    """Doubling the units (a copy with new ids) leaves the collected tables' size alone."""
    twice = pd.concat([panel, panel.assign(fid=panel["fid"] + "b")], ignore_index=True)
    for estimator in ("sun_abraham", "imputation", "did2s"):
        uses = [_fit(d, **KW, estimator=estimator, engine="duckdb").engine_use
                for d in (panel, twice)]  # fmt: skip
        assert uses[0].passes == uses[1].passes
        assert uses[1].bytes_collected == uses[0].bytes_collected  # a row per unit type


def test_limits_and_bad_input_are_typed(panel):
    for bad in (
        {"estimator": "etwfe"},
        {"covariates": ["log_k"]},
        {"fixed_effects": "sector^year"},
        {"vcov": "hc1"},
    ):
        with pytest.raises(InvalidOptionError):
            impact.event_study(panel, **KW, engine="duckdb", **bad)
    moving = panel.assign(cl=panel["year"] % 3)  # clusters must contain whole units
    with pytest.raises(ImpactError, match="varies within"):
        impact.event_study(moving, **KW, vcov={"cluster": "cl"}, engine="duckdb")
    no_ref = panel[panel["year"] != 2009]  # a gap: cohort 2010's reference is missing
    with pytest.raises(ImpactError, match="reference event time"):
        _fit(no_ref, **KW, estimator="sun_abraham", engine="duckdb")
