"""Conformance of ``att_gt`` with covariates on the engines (outcome regression, IPW and
doubly robust): the nuisance fits, cell estimates and influence functions computed by the
pandas engine, by DuckDB on a frame and by DuckDB over Parquet under a memory limit,
against the in-memory fit (itself checked against R did and csdid in tests/reference),
on a slice of the shipped cluster panel made unbalanced with missing outcomes and
covariates, weights, text unit ids beyond 2^31 and 0-coded never-treated units, in
shuffled row order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import ENGINES, parquet_shards, spilling_engine
from test_engine_att_gt import ENGINE_RTOL, _close, _fit, _same

import impact
from impact.errors import (
    CollinearityError,
    ColumnTypeError,
    EmptySampleError,
    ImpactWarning,
    InvalidOptionError,
    SeparationWarning,
)

pytest.importorskip("duckdb")

# Compared at test_engine_att_gt's ENGINE_RTOL (1e-10, the closed-form bound): the
# propensity logits stop at the same Newton step on both paths (the same start and
# criteria), so only the order of the sums differs (3e-13 relative measured here).
KW = dict(y="y", unit="fid", time="year", cohort="g0", covariates=["log_k", "high_tech"])
CASES = [
    {"method": "dr", "weights": "w"},
    {"method": "ipw", "control": "notyet", "base_period": "universal"},
    {"method": "reg", "vcov": {"cluster": "cell"}},
    {"method": "dr", "panel": "balanced", "anticipation": 1},
    {"method": "dr", "control_pool": "pool", "control": "notyet", "vcov": {"cluster": "cell"}},
    {"method": "ipw", "vcov": {"cluster": "region"}, "bootstrap": 49, "seed": 3},
]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = impact.datasets.load("cluster_panel")
    df = df[df["year"].between(2009, 2015) & df["join_year"].isin([2012.0, 2014.0, np.nan])]
    rng = np.random.default_rng(4)
    firms = df["firm_id"].unique()
    w = pd.Series(rng.uniform(0.5, 2.0, len(firms)), index=firms)
    return df.assign(
        w=df["firm_id"].map(w),
        y=df["log_emp"].where(rng.uniform(size=len(df)) > 0.03),
        log_k=df["log_k"].where(rng.uniform(size=len(df)) > 0.02),
        g0=df["join_year"].fillna(0),
        fid="f" + (df["firm_id"] + 2**33).astype(str),
        pool=df["cluster_cell"] == 0,
    ).sample(frac=1.0, random_state=2)


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_att_gt_with_covariates_equals_in_memory(panel, case, engine):
    before = panel.copy()
    want = _fit(panel, **KW, **case)
    got = _fit(panel, **KW, **case, engine=engine)
    assert np.isfinite(want.table["std_error"]).sum() > 5
    _same(want, got)
    assert got.engine_use.passes > 0
    pd.testing.assert_frame_equal(panel, before)


#: The improved DR's calibrated score halves a Newton step when the loss does not fall,
#: and near the optimum that comparison reads rounding, so the paths may stop 1e-10 apart
#: in its coefficients. The ATT is doubly robust (insensitive to them at first order:
#: 1e-14 measured), its influence function is not: SEs 3e-10 relative measured here.
IMPROVED_RTOL_SE = 1e-8


@pytest.mark.parametrize(
    "case", [{"weights": "w"}, {"control": "notyet", "vcov": {"cluster": "cell"}}], ids=str
)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_improved_dr_equals_in_memory(panel, case, engine):
    want = _fit(panel, **KW, method="dr_improved", **case)
    got = _fit(panel, **KW, method="dr_improved", engine=engine, **case)
    assert got.sample_log == want.sample_log
    for col, rtol in (("estimate", ENGINE_RTOL), ("std_error", IMPROVED_RTOL_SE)):
        np.testing.assert_allclose(got.table[col], want.table[col], rtol=rtol, err_msg=col)
    for kind in ("simple", "dynamic"):
        x, y = want.aggregate(kind), got.aggregate(kind)
        np.testing.assert_allclose(y.estimate, x.estimate, rtol=ENGINE_RTOL)
        np.testing.assert_allclose(y.std_error, x.std_error, rtol=IMPROVED_RTOL_SE)


def test_parquet_shards_under_a_memory_limit(panel, tmp_path):
    glob = parquet_shards(panel, tmp_path)
    case = {"method": "dr", "control": "notyet", "weights": "w"}
    want = _fit(panel, **KW, **case)
    _same(want, _fit(glob, **KW, **case, engine=spilling_engine(tmp_path)))


def test_missing_covariates_are_logged_as_in_memory(panel):
    want, got = _fit(panel, **KW), _fit(panel, **KW, engine="duckdb")
    detail = dict(got.sample_log.records[0].detail)
    assert detail["log_k"] > 0 and got.sample_log == want.sample_log


def test_bad_covariates_give_the_in_memory_errors(panel):
    kw = {k: v for k, v in KW.items() if k != "covariates"}
    text = panel.assign(sector=panel["sector"].astype(str))
    for engine in (None, "duckdb"):
        with pytest.raises(ColumnTypeError, match="sector"):
            impact.att_gt(text, **kw, covariates=["sector"], engine=engine)
        with pytest.raises(EmptySampleError, match="missing or infinite on all"):
            impact.att_gt(panel.assign(z=np.nan), **kw, covariates=["z"], engine=engine)


def _small(seed: int, x: np.ndarray | None = None) -> pd.DataFrame:
    """400 treated (cohort 3) and 600 never-treated units over 4 periods."""
    rng = np.random.default_rng(seed)
    n, T = 1000, 4
    g = np.r_[np.full(400, 3.0), np.zeros(600)]
    x1 = rng.normal(size=n) if x is None else x
    x2 = rng.normal(size=n)
    i, t = np.repeat(np.arange(n), T), np.tile(np.arange(1, T + 1), n)
    y = x1[i] + 0.1 * t + (g[i] > 0) * (t >= g[i]) + rng.normal(size=n * T)
    return pd.DataFrame({"id": i, "t": t, "g": g[i], "x1": x1[i], "x2": x2[i], "y": y})


SMALL = dict(y="y", unit="id", time="t", cohort="g")


@pytest.mark.parametrize("method", ["dr", "ipw", "reg", "dr_improved"])
def test_collinear_covariates_are_refused_on_every_path(method):
    """A constant, repeated or collinear covariate leaves the nuisance fits resting on
    rounding (they fitted numbers 8e-2 off, different on each path): refused alike."""
    df = _small(1).assign(z=1.0, x3=lambda d: d["x1"] + d["x2"], big=lambda d: d["x1"] + 1e6)
    bad = (["x1", "z"], ["x1", "x2", "x3"], ["x1", "x1"], ["big"])
    for engine in (None, "pandas", "duckdb"):
        for cov in bad:
            with pytest.raises(CollinearityError, match="covariate"):
                impact.att_gt(df, **SMALL, covariates=cov, method=method, engine=engine)
    ok = _fit(df, **SMALL, covariates=["x1", "x2"], method=method)
    assert abs(ok.aggregate("simple").estimate - 1.0) < 0.2


def test_a_saturated_propensity_is_fitted_in_closed_form_on_every_path():
    """A constant and one 0/1 covariate: the propensity scores are the treated shares,
    exactly (one control at x = 1 beside 199 treated has score 0.995 and is trimmed on
    every path; Newton's method stops at 0.9949999999999999 and kept it: 0.6 off)."""
    x = np.r_[np.ones(199), np.zeros(201), np.ones(1), np.zeros(599)]
    df = _small(2, x)
    for method in ("ipw", "dr"):
        want = _fit(df, **SMALL, covariates=["x1"], method=method)
        for engine in ("pandas", "duckdb"):
            _same(want, _fit(df, **SMALL, covariates=["x1"], method=method, engine=engine))


def test_event_study_cs_with_covariates_runs_in_the_engine(panel):
    kw = dict(y="y", unit="fid", time="year", cohort="g0", covariates=["log_k"], window=(-3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        want = impact.event_study(panel, **kw, estimator="cs")
        got = impact.event_study(panel, **kw, estimator="cs", engine="duckdb")
    assert got.engine_use is not None
    _close(got.table["estimate"], want.table["estimate"], "estimate")
    _close(got.table["std_error"], want.table["std_error"], "std_error")


def _shifted(seed: int) -> pd.DataFrame:
    """Cohorts 3 and 4 and never-treated units over 5 periods, selection on x."""
    rng = np.random.default_rng(seed)
    n, T = 1200, 5
    x, z = rng.normal(size=n), rng.normal(size=n)
    g = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-x)), rng.choice([3.0, 4.0], n), 0.0)
    i, t = np.repeat(np.arange(n), T), np.tile(np.arange(1, T + 1), n)
    y = x[i] + 0.2 * t * z[i] + (g[i] > 0) * (t >= g[i]) + rng.normal(size=n * T)
    return pd.DataFrame({"id": i, "t": t, "g": g[i], "x": x[i], "z": z[i], "y": y})


def test_improved_dr_is_exact_for_covariates_with_large_levels():
    """Shifting a covariate changes nothing with an intercept: the engine's odds-weighted
    regression uses covariates centred in the engine (on the raw Gram its condition number
    was squared and SEs 9e-2 off at a shift of 1e4)."""
    df = _shifted(5).assign(x=lambda d: d["x"] + 1e4)
    kw = dict(SMALL, covariates=["x", "z"], method="dr_improved")
    want = _fit(df, **kw)
    for engine in ("pandas", "duckdb"):
        got = _fit(df, **kw, engine=engine)
        np.testing.assert_allclose(got.table["std_error"], want.table["std_error"],
                                   rtol=IMPROVED_RTOL_SE)  # fmt: skip
        x, y = want.aggregate("simple"), got.aggregate("simple")
        np.testing.assert_allclose(y.std_error, x.std_error, rtol=IMPROVED_RTOL_SE)


def test_improved_dr_ignores_units_outside_a_comparison():
    """A cohort of three units at x = 2000 whose cells are empty: its units' exp(x'g)
    overflowed in the engine's sums (0 * inf) although no comparison uses them."""
    df = _shifted(6)
    far = df["id"].isin(df.loc[df["g"] == 0, "id"].unique()[:3])
    df = df.assign(g=df["g"].mask(far, 5.0), x=df["x"].mask(far, 2000.0))
    kw = dict(SMALL, covariates=["x"], method="dr_improved", min_cell_units=5)
    want = _fit(df, **kw)
    got = _fit(df, **kw, engine="duckdb")
    np.testing.assert_allclose(got.table["estimate"], want.table["estimate"], rtol=ENGINE_RTOL)
    np.testing.assert_allclose(got.table["std_error"], want.table["std_error"],
                               rtol=IMPROVED_RTOL_SE)  # fmt: skip


def test_a_separated_propensity_warns_on_every_path():
    """A covariate that almost determines treatment: the comparison units' scores reach 0,
    no overlap is left and the cells rest on rounding (the paths differed by 2e-3): both
    warn."""
    df = _small(3)
    df = df.assign(sep=(df["g"] > 0) + 0.01 * df["x1"])
    for engine in (None, "duckdb"):
        with pytest.warns(SeparationWarning, match="overlap fails"):
            impact.att_gt(df, **SMALL, covariates=["sep"], method="dr", engine=engine)


def test_clustered_sums_beyond_the_collection_bound_are_refused(panel, monkeypatch):
    """The clusters' influence sums reach the driver: a clustering whose sums exceed the
    bound is a typed error before anything is collected, not a driver out of memory."""
    import impact.estimators.att_gt_engine_rows as rows

    monkeypatch.setattr(rows, "MAX_CLUSTER_SUMS", 1000)
    with pytest.raises(InvalidOptionError, match="coarser level"):
        impact.att_gt(panel, **KW, vcov={"cluster": "fid"}, bootstrap=9, seed=1, engine="duckdb")
