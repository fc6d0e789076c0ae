"""The report on a panel with only unit, time, cohort and outcomes (moderndid's/R did's
mpdta): settings left at the shipped panel's defaults whose columns are absent are
switched off with a note, tables that need absent roles are skipped with a note (a
typed error when named), no truth appears, and every problem of a spec is reported at
once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets import load
from impact.errors import ColumnNotFoundError, SpecError
from impact.report.spec import Columns, OutcomeFamily, Spec
from impact.report.spec_fit import fit_spec
from impact.report.table import is_truth_column

#: R did's vignette (Callaway & Sant'Anna, mpdta, never-treated controls, no
#: covariates): the dynamic aggregation's overall ATT, printed to four decimals.
R_DID_DYNAMIC_ATT = -0.0772
#: Half a unit in the fourth decimal: agreement at the printed precision.
PRINTED = 5e-5

COLUMNS = Columns(unit="countyreal", time="year", cohort="first.treat")


def _panel() -> pd.DataFrame:
    df = load("mpdta")[["countyreal", "year", "first.treat", "lemp"]].copy()
    rng = np.random.default_rng(3)
    df["lemp_noisy"] = df["lemp"] + rng.normal(scale=0.05, size=len(df))
    return df


def _spec(**kw) -> Spec:
    fams = (OutcomeFamily("employment", ("lemp", "lemp_noisy"), "log"),)
    return Spec(columns=COLUMNS, families=fams, **kw)


@pytest.fixture(scope="module")
def report():
    df = _panel()
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, _spec())
    pd.testing.assert_frame_equal(df, before)  # the user's frame is not modified
    return rep


def test_minimal_panel_builds_what_its_roles_allow(report):
    assert list(report.tables) == ["main", "dynamic", "diagnostics", "sensitivity",
                                   "multiplicity"]  # fmt: skip
    notes = report.provenance["notes"]
    for skipped in ("descriptives", "rollout", "selection", "balance", "heterogeneity",
                    "spillovers", "robustness", "production"):  # fmt: skip
        assert sum(f"table {skipped!r} skipped" in n for n in notes) == 1, skipped
    assert any("production function off" in n for n in notes)
    assert any("controls are all never-treated units" in n for n in notes)


def test_minimal_panel_headline_equals_r_did(report):
    main = report.table("main").set_index(["outcome", "estimator"])
    cs = main.loc[("lemp", "Callaway-Sant'Anna"), "estimate"]
    assert cs == pytest.approx(R_DID_DYNAMIC_ATT, abs=PRINTED)
    assert set(main["effect"]) == {"ATT"}


def test_no_truth_anywhere(report):
    for name, tab in report.tables.items():
        for frame in (tab.frame, tab.display):
            if frame is not None:
                assert not [c for c in frame.columns if is_truth_column(c)], name
        assert "Truth:" not in tab.note, name


def test_named_table_without_its_roles_is_an_error():
    with pytest.raises(SpecError, match="'spillovers' cannot be built.*cluster_cell"):
        fit_spec(_spec(tables=("main", "spillovers")), _panel())


def test_every_problem_at_once():
    """Three problems (a misspelt outcome, a named role whose column is missing, a named
    covariate that is missing): one error listing all three."""
    spec = Spec(
        columns=Columns(unit="countyreal", time="year", cohort="first.treat", sector="industry"),
        families=(OutcomeFamily("employment", ("lmep",), "log"),),
        covariates=("lpop_x",),
    )
    with pytest.raises(SpecError) as info:
        fit_spec(spec, _panel())
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "'lmep'" in text and "did you mean" in text.lower() and "'industry'" in text
    assert "'lpop_x'" in text
    assert isinstance(info.value, ColumnNotFoundError)


def test_shipped_panel_keeps_everything():
    """On the shipped panel the default spec loses nothing and adds no note."""
    df = load("cluster_panel")
    fitted = fit_spec(Spec(), df)
    assert fitted.notes == ()
    assert fitted.spec == Spec()


def test_no_truth_sentence_without_truth(s4_panel):
    """A panel with the full geography but no truth (a user's own data): tables 5, 7, 8
    and 9 carry no truth column and no sentence about truth."""
    df, _ = s4_panel
    fams = (OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs")),)
    spec = Spec(families=fams, production=None, tables=("main", "heterogeneity", "spillovers",
                                                        "robustness"), figures=())  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec)
    for name, tab in rep.tables.items():
        assert "truth" not in tab.note.lower(), (name, tab.note)
        assert not [c for c in tab.frame.columns if is_truth_column(c)], name
