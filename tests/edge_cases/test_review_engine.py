"""Regression tests for a hostile review of the engine paths of ``feols`` and ``att_gt``:
numbers that drifted from the in-memory path, untyped crashes, inputs accepted that the
in-memory path refuses, and damage to a user's DuckDB connection."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import (
    ClusterError,
    ColumnTypeError,
    EngineError,
    ImpactWarning,
    InvalidWeightsError,
)

duckdb = pytest.importorskip("duckdb")
from impact.engine import DuckDBEngine  # noqa: E402

#: The engine paths' closed-form bound (tests/unit/test_engine_*.py).
ENGINE_RTOL = 1e-10
KW = dict(y="y", unit="firm_id", time="year", cohort="join_year")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = impact.datasets.load("cluster_panel")
    return df.assign(y=df["log_emp"])


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return fn(*args, **kw)


def test_att_gt_standard_errors_ignore_the_outcome_level(panel):
    """Outcomes in levels (1e7 added) lost 8e-3 of the SE to cancellation of raw second
    moments; moments of outcomes less unit and period means keep every digit."""
    shifted = panel.assign(y=panel["y"] + 1e7)
    want = _quiet(impact.att_gt, shifted, **KW)
    got = _quiet(impact.att_gt, shifted, **KW, engine="duckdb")
    np.testing.assert_allclose(got.table["std_error"], want.table["std_error"], rtol=ENGINE_RTOL)


def test_att_gt_of_an_outcome_that_changes_alike_for_everyone(panel):
    """y = year: every influence function is zero; the rounding of the moments must not
    make the variance indefinite (it raised) nor positive."""
    got = _quiet(impact.att_gt, panel.assign(y=panel["year"] * 1.0), **KW, engine="duckdb")
    assert np.nanmax(np.abs(got.table["std_error"])) < 1e-12


def test_feols_regressor_whose_firm_levels_dwarf_its_changes():
    rng = np.random.default_rng(3)
    firm = np.repeat(np.arange(400), 6)
    df = pd.DataFrame({"firm": firm, "year": np.tile(np.arange(6), 400)})
    df["x"] = rng.normal(size=len(df)) + 30 * (firm % 17) ** 2  # between sd ~ 2,500 x within
    df["y"] = 0.5 * df["x"] + rng.normal(size=len(df))
    want = impact.feols("y ~ x | firm + year", df, vcov={"cluster": "firm"})
    got = impact.feols("y ~ x | firm + year", df, vcov={"cluster": "firm"}, engine="duckdb")
    np.testing.assert_allclose(got.coef, want.coef, rtol=ENGINE_RTOL)
    np.testing.assert_allclose(got.se, want.se, rtol=ENGINE_RTOL)


def test_inputs_the_in_memory_path_refuses_are_refused(panel):
    mixed = panel.assign(cl=np.where(panel["firm_id"] % 2 == 0, panel["cell"], panel["cell"]
                                     .astype(str)).astype(object))  # fmt: skip
    with pytest.raises(ColumnTypeError, match="mixes values"):
        impact.feols("y ~ log_k | firm_id + year", mixed, vcov={"cluster": "cl"},
                     engine="duckdb")  # fmt: skip
    with pytest.raises(InvalidWeightsError, match="numeric"):
        impact.att_gt(panel.assign(wb=True), **KW, weights="wb", engine="duckdb")
    with pytest.raises(ColumnTypeError, match="True/False"):
        impact.att_gt(panel.assign(pool=0.5), **KW, control_pool="pool", engine="duckdb")
    with pytest.raises(InvalidWeightsError, match="zero on every row"):
        impact.att_gt(panel.assign(w=0.0), **KW, weights="w", engine="duckdb")
    gap = panel.assign(cl=panel["cell"].where(panel.index != panel.index[5]))
    with pytest.raises(ClusterError):
        impact.att_gt(gap, **KW, vcov={"cluster": "cl"}, engine="duckdb")
    con = duckdb.connect()
    con.register("p", panel)
    rel = con.sql("SELECT *, CAST(cell AS HUGEINT) AS big FROM p")
    with pytest.raises(ColumnTypeError, match="128-bit"):
        impact.att_gt(rel, **KW, vcov={"cluster": "big"}, engine=DuckDBEngine(con))


def test_a_cohort_equal_to_the_old_never_code_is_a_cohort(panel):
    """-1e300 was the engine's never-treated code: such units became controls."""
    coded = panel.assign(join_year=panel["join_year"].where(panel["firm_id"] % 9 != 0, -1e300))
    want = _quiet(impact.att_gt, coded, **KW)
    got = _quiet(impact.att_gt, coded, **KW, engine="duckdb")
    assert got.sample_log == want.sample_log
    np.testing.assert_allclose(got.aggregate("simple").estimate, want.aggregate("simple").estimate,
                               rtol=ENGINE_RTOL)  # fmt: skip


def test_fits_share_a_connection_and_leave_the_users_objects_alone(panel):
    con = duckdb.connect()
    con.execute("CREATE VIEW impact_view_0 AS SELECT 42 AS answer")
    con.register("panel_view", panel)
    fits = [
        impact.feols("y ~ log_k | firm_id + year", con.table("panel_view"),
                     engine=DuckDBEngine(con)).coef.iloc[0]
        for _ in range(3)  # engines on one connection: their names must not collide
    ]  # fmt: skip
    assert fits[0] == pytest.approx(fits[1], rel=1e-12) == pytest.approx(fits[2], rel=1e-12)
    assert con.sql("SELECT * FROM impact_view_0").fetchall() == [(42,)]


def test_bad_parquet_sources_give_typed_errors(tmp_path, panel):
    with pytest.raises(FileNotFoundError, match="no Parquet file matches"):
        impact.feols("y ~ log_k | firm_id + year", str(tmp_path / "none-*.parquet"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(EngineError, match="reading"):
        impact.feols("y ~ log_k | firm_id + year", str(bad))


def test_cluster_by_the_unit_column_on_the_pandas_engine(panel):
    want = _quiet(impact.att_gt, panel, **KW, vcov={"cluster": "firm_id"})
    got = _quiet(impact.att_gt, panel, **KW, vcov={"cluster": "firm_id"}, engine="pandas")
    np.testing.assert_allclose(got.table["std_error"], want.table["std_error"], rtol=ENGINE_RTOL)
