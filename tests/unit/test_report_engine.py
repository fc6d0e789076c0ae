"""The report on a panel held by DuckDB (``impact replicate --data panel.parquet``): the
checks, the member counts and the estimators with an engine path run in the engine, and the
tables equal the in-memory report's; the tables whose estimators have none read the panel
into memory once, and the report says which."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.datasets import load
from impact.errors import InvalidOptionError, SpecError
from impact.report.evaluate import evaluate
from impact.report.provenance import source_sha256
from impact.report.replication import replicate
from impact.report.spec import Spec
from impact.report.spec_roles import OutcomeFamily
from tests.helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, RTOL_ITERATIVE_SE

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

EXAMPLES = Path(__file__).resolve().parents[2] / "replication" / "examples"
#: Values near zero (a reference period's effect, a p-value of 1e-20) compared absolutely.
ATOL_ZERO = 1e-12


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _assert_tables_equal(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        if pd.api.types.is_numeric_dtype(a[col]) and not pd.api.types.is_bool_dtype(a[col]):
            x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
            np.testing.assert_allclose(y, x, rtol=rtol, atol=ATOL_ZERO, err_msg=col)
        else:
            assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), col


@pytest.fixture(scope="module")
def mpdta_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine_report") / "mpdta.parquet"
    load("mpdta").to_parquet(path)
    return path


def test_mpdta_report_runs_whole_in_the_engine(mpdta_parquet):
    """R did's county panel (cohort 0: never treated) with unit and year effects: every
    estimator of tables 5 and 6 and the event-study figure runs in DuckDB, no row is read
    into memory, and the tables equal the in-memory report's at closed-form precision
    (two-pass Schur TWFE, cell sums of Sun-Abraham, imputation and ATT(g,t))."""
    spec = Spec.from_toml(EXAMPLES / "mpdta.toml").replace(
        tables=("main", "dynamic"), figures=("event_study",)
    )
    mem = _quiet(evaluate, load("mpdta"), spec)
    eng = _quiet(evaluate, str(mpdta_parquet), spec)
    for name in ("main", "dynamic"):
        _assert_tables_equal(mem.table(name), eng.table(name), RTOL_CLOSED_FORM)
        assert mem.tables[name].note == eng.tables[name].note
    assert eng.table("main").loc[0, "estimator"] == "static TWFE"
    note = eng.provenance["notes"][-1]
    assert note.startswith("held by duckdb (2,500 rows)") and "no rows were read" in note
    assert eng.provenance["data_sha256"] == source_sha256(str(mpdta_parquet))
    assert set(eng.figures) == set(mem.figures)


def test_cluster_report_reads_rows_only_for_tables_without_engine_path(tmp_path):
    """The synthetic cluster panel (sector-by-year effects, the out-of-cell control pool):
    Callaway-Sant'Anna and static TWFE run in the engine, Sun-Abraham with sector-by-year
    effects and the trajectories figure read the panel into memory, once; every number
    equals the in-memory report's (static TWFE absorbs firm and 150 sector-year levels by
    alternating projections: iterative precision). Without covariates: the engine's
    doubly robust ATT(g,t) sums O(cells^2) cross-products, about 17 s on this panel's 200
    cells whatever its rows (its conformance tests are in test_engine_att_gt_covariates)."""
    panel = load("cluster_panel")
    panel = panel[panel["firm_id"] <= panel["firm_id"].unique()[600]]
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path)
    jobs = OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs", "sun_abraham"))
    spec = Spec().replace(families=(jobs,), tables=("main", "dynamic"),
                          figures=("trajectories",), production=None, covariates=())  # fmt: skip
    mem = _quiet(evaluate, panel, spec)
    eng = _quiet(evaluate, str(path), spec)
    main_m, main_e = mem.table("main"), eng.table("main")
    _assert_tables_equal(main_m.drop(columns=["std_error", "conf_low", "conf_high"]),
                         main_e.drop(columns=["std_error", "conf_low", "conf_high"]),
                         RTOL_ITERATIVE)  # fmt: skip
    np.testing.assert_allclose(main_e["std_error"], main_m["std_error"], rtol=RTOL_ITERATIVE_SE)
    _assert_tables_equal(mem.table("dynamic"), eng.table("dynamic"), RTOL_CLOSED_FORM)
    note = eng.provenance["notes"][-1]
    assert note.endswith(
        "read into memory (once) for table main, table dynamic, figure trajectories"
    )


def test_bad_parquet_input_lists_every_problem_before_estimation(tmp_path):
    """A file missing a column, duplicate (unit, year) rows, a cohort changing within a
    unit and a binary outcome holding 2: one SpecError naming each, from engine counts."""
    df = load("mpdta")
    bad = df.drop(columns=["lpop"]).copy()
    bad = pd.concat([bad, bad.iloc[:3]], ignore_index=True)  # 3 duplicate pairs
    bad.loc[bad.index[10], "first.treat"] = 2006.0 if bad.loc[10, "first.treat"] != 2006 else 2007
    bad["treat"] = bad["treat"].astype(float)
    bad.loc[bad.index[20], "treat"] = 2.0
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    spec = Spec.from_toml(EXAMPLES / "mpdta.toml").replace(covariates=("lpop",))
    binary = OutcomeFamily("binary", ("treat",), "binary", ("cs",))
    spec = spec.replace(families=(binary, *spec.families))
    with pytest.raises(SpecError) as err:
        evaluate(str(path), spec)
    text = "\n".join(err.value.problems)
    assert "'lpop'" in text
    assert "6 rows share a (countyreal, year) pair" in text
    assert "cohort column 'first.treat' changes within 1 units" in text
    assert "outcome 'treat' (family 'binary', scale binary): 1 rows are not 0 or 1" in text


def test_treatment_derived_cohort_is_refused_in_the_engine(tmp_path):
    df = load("mpdta")
    df = df.assign(d=((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int))
    path = tmp_path / "t.parquet"
    df.drop(columns=["first.treat"]).to_parquet(path)
    spec = Spec.from_toml(EXAMPLES / "mpdta.toml")
    spec = spec.replace(columns=dataclasses.replace(spec.columns, cohort="", treatment="d"))
    with pytest.raises(SpecError, match="cohort derived from the treatment column"):
        evaluate(str(path), spec)
    # in memory the same spec runs
    report = _quiet(evaluate, df.drop(columns=["first.treat"]), spec.replace(tables=("main",),
                    figures=()))  # fmt: skip
    assert len(report.table("main"))


def test_replicate_holds_parquet_in_duckdb_unless_told(tmp_path, mpdta_parquet):
    """``replicate --data x.parquet`` runs on DuckDB; ``engine="numpy"`` reads it into
    memory and gives the CSV run's tables to the last digit; ``engine="duckdb"`` with a
    CSV file is a typed error."""
    csv = tmp_path / "m.csv"
    load("mpdta").to_csv(csv, index=False)
    kw = dict(spec=EXAMPLES / "mpdta.toml", tables=("main",), figures=())
    _quiet(replicate, tmp_path / "csv", data=csv, **kw)
    _quiet(replicate, tmp_path / "np", data=mpdta_parquet, engine="numpy", **kw)
    _quiet(replicate, tmp_path / "db", data=mpdta_parquet, **kw)
    a, b, c = (pd.read_csv(tmp_path / d / "tables" / "main.csv") for d in ("csv", "np", "db"))
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    _assert_tables_equal(a, c, RTOL_CLOSED_FORM)
    notes = (tmp_path / "db" / "report.md").read_text()
    assert "held by duckdb" in notes
    with pytest.raises(InvalidOptionError, match="reads a Parquet file"):
        replicate(tmp_path / "x", data=csv, engine="duckdb", **kw)


def _mpdta_spec(**changes):
    fam = OutcomeFamily("employment", ("lemp",), "log", ("twfe", "cs", "sun_abraham"))
    base = Spec.from_toml(EXAMPLES / "mpdta.toml").replace(
        families=(fam,), tables=("main",), figures=()
    )
    return base.replace(**changes) if changes else base


def _both(frame, spec, data, **kw):
    mem = _quiet(evaluate, frame, spec)
    eng = _quiet(evaluate, data, spec, **kw)
    _assert_tables_equal(mem.table("main"), eng.table("main"), RTOL_CLOSED_FORM)
    return eng


def test_user_columns_named_like_the_engine_helpers_are_left_alone(tmp_path):
    """Columns the report makes on the way get fresh names: an outcome called
    '_report_tmp_after', a time column 'rows' and an unused column starting '_impact_'
    (reserved by the engine estimators: the report reads only the spec's columns) give the
    in-memory numbers (a review's findings: the outcome became a 0/1 flag)."""
    df = load("mpdta").rename(columns={"lemp": "_report_tmp_after", "year": "rows"})
    df["_impact_x"] = 1.0
    path = tmp_path / "odd.parquet"
    df.to_parquet(path)
    fam = OutcomeFamily("employment", ("_report_tmp_after",), "log", ("twfe", "cs"))
    spec = _mpdta_spec(families=(fam,), disclosure_min_firms=5)
    spec = spec.replace(columns=dataclasses.replace(spec.columns, time="rows"))
    _both(df, spec, str(path))


def test_relations_globs_and_few_clusters_read_their_rows(tmp_path):
    """With 29 clusters (states) table 5's wild bootstrap needs the rows: a DuckDB
    relation and a Parquet glob are read into memory for it and give the in-memory wild
    p-values; the views the report made on the user's connection are dropped."""
    import duckdb

    from impact.engine import DuckDBEngine

    df = load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
    spec = _mpdta_spec(cluster="state")
    for k, rows in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[rows].to_parquet(tmp_path / f"part-{k}.parquet")
    eng = _both(df, spec, str(tmp_path / "part-*.parquet"))
    assert "p_wild" in eng.table("main").columns
    con = duckdb.connect()
    rel = con.read_parquet(str(tmp_path / "part-*.parquet"))
    views = len(con.sql("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall())
    _both(df, spec, rel, engine=DuckDBEngine(con))
    assert len(con.sql("SELECT * FROM duckdb_views() WHERE NOT internal").fetchall()) == views


def test_period_problems_are_the_in_memory_ones(tmp_path):
    """Periods 0..4 with never-treated coded 0: the in-memory ImpactError; fractional
    periods: the in-memory problem line; a cohort mixing NaN and inf within a unit is one
    code, as in memory."""
    from impact.errors import ImpactError

    df = load("mpdta")
    zero = df.assign(year=df["year"] - 2003,
                     **{"first.treat": np.where(df["first.treat"] > 0, df["first.treat"] - 2003,
                                                0.0)})  # fmt: skip
    path = tmp_path / "zero.parquet"
    zero.to_parquet(path)
    with pytest.raises(ImpactError, match="contains 0, which is also an observed period"):
        _quiet(evaluate, zero, _mpdta_spec())
    with pytest.raises(ImpactError, match="contains 0, which is also an observed period"):
        _quiet(evaluate, str(path), _mpdta_spec())
    half = df.assign(year=df["year"] + 0.5)
    half.to_parquet(path)
    with pytest.raises(SpecError) as mem:
        evaluate(half, _mpdta_spec())
    with pytest.raises(SpecError) as eng:
        evaluate(str(path), _mpdta_spec())
    assert [p for p in mem.value.problems if "time column" in p] == [
        p for p in eng.value.problems if "time column" in p
    ]
    mixed = df.assign(**{"first.treat": df["first.treat"].replace(0, np.nan)})
    first = mixed.index[mixed["first.treat"].isna()][0]
    mixed.loc[first, "first.treat"] = np.inf
    mixed.to_parquet(path)
    _both(mixed, _mpdta_spec(), str(path))
