"""``impact spec init`` and ``impact spec check``: a spec proposed for a panel we did not
make runs without edits, and a data set with several problems gets all of them at once,
one line each, with a non-zero exit code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.cli import main
from impact.datasets import load
from impact.report.spec import Spec
from impact.report.spec_check import check_data
from impact.report.spec_init import propose_spec

#: R did's vignette on mpdta: the dynamic aggregation's overall ATT, printed to four
#: decimals, and half a unit in that decimal.
R_DID_DYNAMIC_ATT, PRINTED = -0.0772, 5e-5


@pytest.fixture
def mpdta_csv(tmp_path):
    path = tmp_path / "mpdta.csv"
    load("mpdta").to_csv(path, index=False)
    return path


def test_init_then_replicate_on_mpdta(mpdta_csv, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    assert main(["spec", "init", "--data", str(mpdta_csv), "--out", str(spec)]) == 0
    said = capsys.readouterr().out
    assert "countyreal" in said and "first.treat" in said
    assert main(["spec", "check", "--spec", str(spec), "--data", str(mpdta_csv)]) == 0
    out = tmp_path / "report"
    args = ["replicate", "--spec", str(spec), "--data", str(mpdta_csv), "--out", str(out)]
    assert main([*args, "--quiet", "--workers", "1"]) == 0
    main_csv = pd.read_csv(out / "tables" / "main.csv")
    cs = main_csv[main_csv["estimator"] == "Callaway-Sant'Anna"]["estimate"].iloc[0]
    assert cs == pytest.approx(R_DID_DYNAMIC_ATT, abs=PRINTED)
    assert not any("true" in c or "truth" in c for c in main_csv.columns)


def test_init_refuses_to_overwrite(mpdta_csv, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text("# mine\n")
    assert main(["spec", "init", "--data", str(mpdta_csv), "--out", str(spec)]) == 3
    assert "--force" in capsys.readouterr().err
    assert spec.read_text() == "# mine\n"


def test_check_lists_three_problems_at_once(mpdta_csv, tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    main(["spec", "init", "--data", str(mpdta_csv), "--out", str(spec)])
    bad = load("mpdta").astype({"lemp": object, "first.treat": float})
    bad.loc[3, "lemp"] = "12,5"  # an outcome that is not a number (a decimal comma)
    county = bad["countyreal"].iloc[40]
    bad.loc[bad["countyreal"] == county, "first.treat"] = 2005.5  # off the period grid
    bad = pd.concat([bad, bad.iloc[[7]]])  # a duplicated county-year
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    capsys.readouterr()
    assert main(["spec", "check", "--spec", str(spec), "--data", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "3 problems:"
    lines = err[1:]
    assert len(lines) == 3
    assert any("not numbers" in x and "'12,5'" in x for x in lines)
    assert any("not a period of the data" in x and "2005.5" in x for x in lines)
    assert any("share a (countyreal, year) pair" in x for x in lines)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["spec", "check", "--spec", str(tmp_path / "no.toml"),
                 "--data", str(tmp_path / "no.csv")]) == 3  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith("impact: error:") and "Traceback" not in err


def test_proposal_on_the_shipped_panel_fits_it():
    """Every role found by name, the shipped tables buildable (production off: its
    inputs are not proposed), no problem; the spec file and the proposal agree."""
    df = load("cluster_panel")
    p = propose_spec(df)
    c = p.spec.columns
    assert (c.unit, c.time, c.cohort, c.cell, c.cluster_cell, c.launch) == (
        "firm_id", "year", "join_year", "cell", "cluster_cell", "launch_year",
    )  # fmt: skip
    problems, fitted = check_data(p.spec, df)
    assert problems == [] and fitted is not None
    assert set(fitted.spec.tables) == set(Spec().tables) - {"production"}
    assert {f.scale for f in p.spec.families} == {"log", "level", "binary", "count"}


def test_proposal_needs_the_three_roles():
    df = pd.DataFrame({"a": np.arange(4), "b": np.arange(4.0)})
    with pytest.raises(Exception, match="unit, time and cohort are required"):
        propose_spec(df)


def test_init_then_evaluate_on_jtrain():
    """No cohort column: the proposal takes the 0/1 grant status as the treatment (the
    cohort is each firm's first grant year), leaves out year dummies, lags and changes of
    other columns, and the report runs without edits."""
    import warnings

    import impact

    df = load("jtrain")
    p = propose_spec(df)
    c = p.spec.columns
    assert (c.unit, c.time, c.cohort, c.treatment) == ("fcode", "year", "", "grant")
    outcomes = [o for f in p.spec.families for o in f.outcomes]
    assert "lscrap" in outcomes
    assert not {"d88", "d89", "grant_1", "lscrap_1", "clscrap"} & set(outcomes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, p.spec)
    assert "main" in rep.tables and "dynamic" in rep.tables


def test_cohort_from_treatment_by_hand():
    """First period with status 1 per unit, first entry kept after an exit, NaN never."""
    from impact.report.prepare import cohort_from_treatment

    d = pd.DataFrame({
        "u": [1, 1, 1, 2, 2, 2, 3, 3, 3],
        "t": [2000, 2001, 2002] * 3,
        "d": [0, 1, 0, 0, 0, 0, 0, 0, 1],
    })  # fmt: skip
    got = cohort_from_treatment(d, "u", "t", "d")
    np.testing.assert_array_equal(got, [2001] * 3 + [np.nan] * 3 + [2002] * 3)
    with pytest.raises(Exception, match="0/1"):
        cohort_from_treatment(d.assign(d=d["d"] * 2), "u", "t", "d")


@pytest.mark.slow
def test_init_then_replicate_on_the_shipped_panel(tmp_path):
    """The shipped panel written as CSV: the proposed spec runs without edits (about 20 s:
    seven outcomes with every estimator of their families)."""
    csv, spec = tmp_path / "panel.csv", tmp_path / "spec.toml"
    load("cluster_panel").to_csv(csv, index=False)
    assert main(["spec", "init", "--data", str(csv), "--out", str(spec)]) == 0
    assert main(["spec", "check", "--spec", str(spec), "--data", str(csv)]) == 0
    out = tmp_path / "report"
    args = ["replicate", "--spec", str(spec), "--data", str(csv), "--out", str(out)]
    assert main([*args, "--quiet", "--workers", "1"]) == 0
    assert (out / "tables" / "main.csv").exists() and (out / "tables" / "spillovers.csv").exists()


def test_replicate_reads_parquet_as_csv(tmp_path):
    """The same panel as CSV and as Parquet gives the same tables (mpdta example spec)."""
    from impact.report.replication import replicate

    df = load("mpdta")
    csv, pq = tmp_path / "m.csv", tmp_path / "m.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(pq)
    spec = Path(__file__).resolve().parents[2] / "replication" / "examples" / "mpdta.toml"
    kw = dict(spec=spec, tables=("main", "dynamic"), figures=())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replicate(tmp_path / "a", data=csv, **kw)
        replicate(tmp_path / "b", data=pq, **kw)
    for name in ("main", "dynamic"):
        a = pd.read_csv(tmp_path / "a" / "tables" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "b" / "tables" / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_exit_codes_one_line_errors_and_debug(tmp_path, capsys, monkeypatch):
    """2 usage, 3 input (with the schema hint for a spec that does not fit), 4 internal
    (one line; --debug shows the traceback), 130 interrupted."""
    import impact.report.replication as replication

    with pytest.raises(SystemExit) as usage:
        main(["replicat"])
    assert usage.value.code == 2
    capsys.readouterr()
    csv = tmp_path / "noid.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(csv, index=False)
    assert main(["replicate", "--data", str(csv), "--out", str(tmp_path / "o"), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("impact: error:") and "impact spec init" in err
    assert "Traceback" not in err
    assert (
        main(["replicate", "--data", str(csv), "--out", str(tmp_path / "o"), "--quiet", "--debug"])
        == 3
    )
    assert "Traceback" in capsys.readouterr().err

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(replication, "replicate", boom)
    assert main(["replicate", "--quiet"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: a bug" in err
    for argv in (["replicate", "--quiet", "--debug"], ["--debug", "replicate", "--quiet"]):
        assert main(argv) == 4  # --debug adds the traceback, keeps the exit code
        err = capsys.readouterr().err
        assert "Traceback" in err and "RuntimeError: a bug" in err

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(replication, "replicate", interrupt)
    assert main(["replicate", "--quiet"]) == 130


def test_replicate_reads_only_the_spec_columns_of_a_file(tmp_path):
    """A wide register file is read projected to the spec's columns (and the columns its
    derived outcomes use): extra columns are never loaded, for Parquet and CSV alike."""
    from impact.data.files import read_panel
    from impact.report.spec import Spec

    df = load("cluster_panel").head(500)
    wide = df.assign(**{f"unused_{i}": 1.0 for i in range(5)})
    spec = Spec()
    cols = spec.read_columns()
    assert {"log_va", "log_emp"} <= set(cols)  # the derived log_va_per_worker's inputs
    assert not any(c.startswith("unused_") for c in cols)
    pq, csv = tmp_path / "w.parquet", tmp_path / "w.csv"
    wide.to_parquet(pq)
    wide.to_csv(csv, index=False)
    for path in (pq, csv):
        got = read_panel(path, cols)
        assert set(got.columns) == set(cols) & set(wide.columns)
        pd.testing.assert_series_equal(got["log_emp"], wide["log_emp"], check_dtype=False)
    assert set(read_panel(pq).columns) == set(wide.columns)  # no projection asked
