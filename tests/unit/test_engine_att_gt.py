"""Conformance of ``att_gt`` on the engines: the panel validated and summed by the pandas
engine, by DuckDB on a frame and by DuckDB over partitioned Parquet under a memory limit,
against the in-memory fit (itself checked against R did and csdid in tests/reference):
cell estimates, standard errors, sample logs, every aggregation, and multiplier
bootstraps with clusters (the same draws), on the shipped cluster panel made unbalanced
with missing outcomes, weights, text unit ids beyond 2^31, 0-coded never-treated units,
in shuffled row order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import ENGINES, parquet_shards, spilling_engine

import impact
from impact.errors import (
    CohortError,
    ColumnNotFoundError,
    DuplicateRowsError,
    ImpactError,
    ImpactWarning,
    InvalidOptionError,
    InvalidTimeError,
)

duckdb = pytest.importorskip("duckdb")
from impact.engine import DuckDBEngine  # noqa: E402

#: Estimates are the same sums in another order (1e-15 here). Standard errors come from
#: cross-products per unit type (of outcomes less each unit's mean) rather than from each
#: unit's influence function: 3e-13 (relative) here. The issue's closed-form bound.
ENGINE_RTOL = 1e-10
KW = dict(y="y", unit="fid", time="year", cohort="g0")
CASES = [
    {},
    {"control": "notyet", "base_period": "universal"},
    {"anticipation": 1, "weights": "w"},
    {"panel": "balanced"},
    {"control_pool": "pool", "vcov": {"cluster": "cell"}},
    {"vcov": {"cluster": "region"}, "bootstrap": 99, "seed": 5, "bootstrap_weights": "mammen"},
]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = impact.datasets.load("cluster_panel")
    rng = np.random.default_rng(0)
    firms = df["firm_id"].unique()
    w = pd.Series(rng.uniform(0.5, 2.0, len(firms)), index=firms)
    return df.assign(
        w=df["firm_id"].map(w),
        y=df["log_emp"].where(rng.uniform(size=len(df)) > 0.03),  # missing outcomes
        g0=df["join_year"].fillna(0),  # 0: never treated (R did's coding)
        fid="f" + (df["firm_id"] + 2**33).astype(str),
        pool=df["cluster_cell"] == 0,
    ).sample(frac=1.0, random_state=1)


def _fit(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return impact.att_gt(*args, **kw)


def _close(got, want, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=ENGINE_RTOL, atol=1e-15, err_msg=what)


def _same(a, b) -> None:
    ta, tb = a.table, b.table
    pd.testing.assert_frame_equal(
        ta.drop(columns=["estimate", "std_error", "conf_low", "conf_high", "band_low",
                         "band_high"]),
        tb.drop(columns=["estimate", "std_error", "conf_low", "conf_high", "band_low",
                         "band_high"]),
    )  # fmt: skip
    for col in ("estimate", "std_error", "band_low", "band_high"):
        _close(tb[col], ta[col], col)
    assert b.sample_log == a.sample_log and b.notes == a.notes
    assert (b.n_units, b.n_clusters) == (a.n_units, a.n_clusters)
    for kind in ("simple", "group", "calendar", "dynamic"):
        x, y = a.aggregate(kind), b.aggregate(kind)
        _close([y.estimate, y.std_error], [x.estimate, x.std_error], kind)
        _close(y.table["std_error"], x.table["std_error"], kind)
    if a.table["rel_time"].lt(-1).any():
        pa, pb = a.aggregate("dynamic").pretrend_test(), b.aggregate("dynamic").pretrend_test()
        _close(pb["statistic"], pa["statistic"], "pretrend")


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_att_gt_equals_in_memory(panel, case, engine):
    before = panel.copy()
    want = _fit(panel, **KW, **case)
    got = _fit(panel, **KW, **case, engine=engine)
    _same(want, got)
    assert got.engine_use.engine == engine and got.engine_use.passes > 0
    pd.testing.assert_frame_equal(panel, before)


def test_parquet_shards_under_a_memory_limit(panel, tmp_path):
    glob = parquet_shards(panel, tmp_path)
    case = {"vcov": {"cluster": "cell"}, "control": "notyet"}
    want = _fit(panel, **KW, **case)
    _same(want, _fit(glob, **KW, **case, engine=spilling_engine(tmp_path)))
    _same(want, _fit(glob, **KW, **case))  # a path: DuckDB


def test_collected_bytes_do_not_grow_with_units(panel):
    """Doubling the units (a copy with new ids) leaves the collected tables' size alone."""
    twice = pd.concat([panel, panel.assign(fid=panel["fid"] + "b")], ignore_index=True)
    uses = [_fit(d, **KW, engine="duckdb").engine_use for d in (panel, twice)]
    assert uses[0].passes == uses[1].passes
    assert uses[1].bytes_collected == uses[0].bytes_collected  # a table per unit type


def test_bad_panels_give_the_in_memory_errors(panel, tmp_path):
    dup = pd.concat([panel, panel.iloc[:3]])
    con = duckdb.connect()
    con.register("dup", dup)
    with pytest.raises(DuplicateRowsError):
        impact.att_gt(dup, **KW)
    with pytest.raises(DuplicateRowsError, match="pairs have more than one row"):
        impact.att_gt(con.table("dup"), **KW, engine=DuckDBEngine(con))
    path = tmp_path / "no_y.parquet"
    panel.drop(columns=["y"]).to_parquet(path)
    with pytest.raises(ColumnNotFoundError, match="'y'"):
        impact.att_gt(str(path), **KW)
    moving = panel.assign(g0=np.where(np.arange(len(panel)) == 5, 2011.0, panel["g0"]))
    with pytest.raises(ImpactError, match="varies within"):
        impact.att_gt(moving, **KW, engine="duckdb")
    with pytest.raises(CohortError, match="not a period"):
        impact.att_gt(panel.assign(g0=panel["g0"].replace(2010.0, 2010.5)), **KW,
                      engine="duckdb")  # fmt: skip
    with pytest.raises(InvalidTimeError, match="integer periods"):
        impact.att_gt(panel.assign(year=panel["year"].astype(str)), **KW, engine="duckdb")
    for bad in ({"bootstrap": 99}, {"panel": "rcs"}):
        with pytest.raises(InvalidOptionError, match="in-memory"):
            impact.att_gt(panel, **KW, **bad, engine="duckdb")
    fit = _fit(panel, **KW, engine="duckdb")
    with pytest.raises(InvalidOptionError, match="query engine"):
        terms = fit.tidy()["term"]
        impact.adjust([(fit, terms.iloc[-1]), (fit, terms.iloc[-2])], B=99, seed=1)
    clustered = _fit(panel, **KW, vcov={"cluster": "cell"}, engine="duckdb")
    for agg in (clustered.aggregate("simple"), fit.aggregate("simple")):  # rows: clusters
        with pytest.raises(InvalidOptionError, match="query engine"):
            impact.adjust([(agg, "ATT"), (fit, terms.iloc[-1])], B=99, seed=1)
