"""The DuckDB engine's primitives against the in-memory engine (an independent
implementation: numpy bincounts) on the same data: in memory, and over partitioned
Parquet files read under a small memory limit; column names a user's file could hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.engine import PandasEngine
from impact.errors import ColumnNotFoundError, EngineError, InvalidOptionError

duckdb = pytest.importorskip("duckdb")
from impact.engine.duckdb_engine import DuckDBEngine  # noqa: E402

#: Sums of products in another order (DuckDB's parallel aggregation vs bincount).
SUM_RTOL = 1e-12

X, Y = 'x "1"', "y|z"
SUMS = {"sy": f"`{Y}`", "sxy": f"`{X}` * `{Y}`", "sf": f"log1p(abs(`{X}`)) - 2.5 * `{Y}` ** 2"}


def _frame(seed: int, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "firm": rng.integers(0, 40, n) + 2**33,  # ids beyond 2^31
        "sector": rng.choice(["b", "a", "c d"], n),
        X: rng.normal(size=n),
        Y: rng.normal(size=n),
    })  # fmt: skip


def _same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert got[keys].astype(str).equals(want[keys].astype(str))
    for c in want.columns:
        if c in keys:
            continue
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float),
                                   rtol=SUM_RTOL, atol=1e-11)  # fmt: skip


@pytest.mark.parametrize("keys", [["firm"], ["sector"], ["sector", "firm"], []])
def test_group_sums_equal_in_memory_engine(keys):
    df = _frame(1)
    before = df.copy()
    eng = DuckDBEngine()
    got = eng.group_sums(eng.source(df), keys, SUMS)
    want = PandasEngine().group_sums(df, keys, SUMS)
    pd.testing.assert_frame_equal(df, before)
    _same(got, want, keys)


def test_with_columns_and_join_small_equal_in_memory_engine():
    df = _frame(2)
    pe, de = PandasEngine(), DuckDBEngine()
    means = pe.group_sums(df, ["firm"], {"s": f"`{Y}`"}).assign(m=lambda t: t["s"] / t["n"])
    small = means[["firm", "m"]]
    new = {"e": f"`{Y}` - m", "e2": "(`" + Y + "` - m) ** 2", X: f"`{X}` * 2"}  # X replaced
    p_src = pe.with_columns(pe.join_small(df, small, ["firm"]), new)
    d_src = de.with_columns(de.join_small(de.source(df), small, ["firm"]), new)
    sums = {"se": "e", "se2": "e2", "sx": f"`{X}`"}
    _same(de.group_sums(d_src, ["sector"], sums), pe.group_sums(p_src, ["sector"], sums),
          ["sector"])  # fmt: skip
    within = de.group_sums(d_src, ["firm"], {"se": "e"})
    assert np.abs(within["se"]).max() < 1e-10  # demeaned within firm


@pytest.mark.parametrize("op", ["<", "<=", "==", "!=", ">=", ">"])
def test_flag_equals_in_memory_engine_and_numpy(op):
    """1.0 where the comparison holds, 0.0 elsewhere (also on missing values); a column
    of that name is replaced."""
    df = _frame(3).assign(v=lambda d: d[X].round(1))
    df.loc[[4, 9], "v"] = np.nan
    pe, de = PandasEngine(), DuckDBEngine()
    sums = {"k": f"`{Y}`", "kx": f"`{Y}` * `{X}`"}
    got = de.group_sums(de.flag(de.source(df), "v", op, 0.0, Y), ["sector"], sums)
    want = pe.group_sums(pe.flag(df, "v", op, 0.0, Y), ["sector"], sums)
    _same(got, want, ["sector"])
    ops = {"<": np.less, "<=": np.less_equal, "==": np.equal, "!=": np.not_equal,
           ">=": np.greater_equal, ">": np.greater}  # fmt: skip
    with np.errstate(invalid="ignore"):
        truth = ops[op](df["v"].to_numpy(), 0.0) & df["v"].notna().to_numpy()
    counts = pd.Series(truth.astype(float)).groupby(df["sector"].to_numpy()).sum()
    np.testing.assert_array_equal(got["k"].to_numpy(), counts.sort_index().to_numpy())
    with pytest.raises(InvalidOptionError, match="comparison"):
        de.flag(de.source(df), "v", "=~", 0.0, "f")
    specs = [("v", op, 0.0, "f1"), (X, ">", 0.0, "f2"), ("v", "<", 1.0, Y)]
    many = de.group_sums(de.flags(de.source(df), specs), ["sector"], {"a": "f1", "b": "f2"})
    one = de.flag(de.flag(de.source(df), "v", op, 0.0, "f1"), X, ">", 0.0, "f2")
    _same(many, de.group_sums(one, ["sector"], {"a": "f1", "b": "f2"}), ["sector"])
    _same(many, pe.group_sums(pe.flags(df, specs), ["sector"], {"a": "f1", "b": "f2"}),
          ["sector"])  # fmt: skip


def test_fits_leave_no_tables_or_views_on_a_users_connection():
    """Every estimator's engine path drops the tables and views it made, also on error (a
    loop of fits on a long-lived connection must not grow its memory and spill)."""
    import warnings

    import impact

    df = impact.datasets.load("cluster_panel")
    con = duckdb.connect()
    con.register("p", df)
    engine, rel = DuckDBEngine(con), con.table("p")

    def made() -> tuple[int, int]:
        tables = con.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
        views = con.sql("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall()
        return tables[0][0], views[0][0]

    before = made()
    did = dict(y="log_emp", unit="firm_id", time="year", cohort="join_year", engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        impact.feols("log_va ~ log_k | firm_id + year", rel, engine=engine)
        impact.fepois("emp ~ log_k | firm_id + year", rel, engine=engine)
        impact.att_gt(rel, **did)
        impact.event_study(rel, **did, estimator="imputation")
        with pytest.raises(ColumnNotFoundError):
            impact.att_gt(rel, **{**did, "y": "nope"})
    assert made() == before
    # inside a transaction of the user's that the failing step aborts, the fit's own typed
    # error surfaces (dropping its views then fails; the rollback removes them)
    con.execute("BEGIN TRANSACTION")
    bad = con.sql(
        "SELECT *, CAST(CASE WHEN year > 2015 THEN 'abc' ELSE '1' END AS DOUBLE) AS x FROM p"
    )
    with pytest.raises(EngineError):
        impact.feols("log_emp ~ x | firm_id", bad, engine=engine)
    con.execute("ROLLBACK")
    assert made() == before


def test_parquet_glob_under_a_small_memory_limit(tmp_path):
    df = _frame(3, n=200_000)
    cuts = [0, 70_000, 140_000, len(df)]
    for k in range(3):  # three files: a glob over partitions
        df.iloc[cuts[k] : cuts[k + 1]].to_parquet(tmp_path / f"part{k}.parquet")
    con = duckdb.connect()
    con.execute("SET memory_limit = '40MB'")
    con.execute(f"SET temp_directory = '{tmp_path / 'spill'}'")
    con.execute("SET threads = 2")
    eng = DuckDBEngine(con)
    src = eng.source(str(tmp_path / "part*.parquet"))
    got = eng.group_sums(src, ["sector", "firm"], SUMS)
    _same(got, PandasEngine().group_sums(df, ["sector", "firm"], SUMS), ["sector", "firm"])


def test_bad_input_is_typed():
    df = _frame(4, n=50)
    eng = DuckDBEngine()
    src = eng.source(df)
    with pytest.raises(ColumnNotFoundError, match="did you mean|not in the data"):
        eng.group_sums(src, ["firm"], {"s": "`y|zz`"})
    with pytest.raises(ColumnNotFoundError):
        eng.group_sums(src, ["firmm"], {"s": f"`{Y}`"})
    dup = pd.DataFrame({"firm": [df["firm"].iloc[0]] * 2, "m": [1.0, 2.0]})
    with pytest.raises(InvalidOptionError, match="more than one row"):
        eng.join_small(src, dup, ["firm"])
    with pytest.raises(FileNotFoundError):
        eng.source("nothing_here.parquet")
    with pytest.raises(InvalidOptionError, match="Parquet"):
        eng.source("data.csv")
    holes = df.assign(sector=df["sector"].where(df.index > 3))
    with pytest.raises(InvalidOptionError, match="missing"):
        eng.group_sums(eng.source(holes), ["sector"], {"s": f"`{Y}`"})


def test_a_hostile_column_name_is_one_identifier():
    """A name written as an injection reads as one column (the table survives)."""
    evil = 'x" FROM t; DROP TABLE t; --'
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a INTEGER)")
    eng = DuckDBEngine(con)
    df = pd.DataFrame({"g": [1, 1, 2], evil: [1.0, 2.0, 4.0]})
    got = eng.group_sums(eng.with_columns(eng.source(df), {"twice": f"2 * `{evil}`"}), ["g"],
                         {"s": "twice"})  # fmt: skip
    assert got["s"].tolist() == [6.0, 8.0]
    assert con.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
