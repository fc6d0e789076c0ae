"""Regressions from a hostile review of the report on a user's own panel (spec fitting,
spec check, spec init, the treatment role): each was a silent wrong number, an untyped
crash or a misleading message."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets import load
from impact.errors import ImpactError, InvalidOptionError, SpecError
from impact.report.spec import Columns, OutcomeFamily, Spec
from impact.report.spec_check import check_data
from impact.report.spec_init import propose_spec
from impact.report.table import Table

NO_ROLES = dict(cell="", region="", sector="", cluster_cell="", launch="", size_class="",
                high_tech="")  # fmt: skip


def _panel(seed: int = 0, units: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2008)
    g = rng.choice([2003.0, 2005.0, np.nan], units)
    df = pd.DataFrame({"id": np.repeat(np.arange(units), len(years)),
                       "year": np.tile(years, units), "g": np.repeat(g, len(years))})  # fmt: skip
    d = (df["year"] >= df["g"].fillna(np.inf)).astype(float)
    df["y"] = rng.normal(size=len(df)) + np.repeat(rng.normal(size=units), len(years)) + d
    return df


def _spec(**kw) -> Spec:
    cols = {"unit": "id", "time": "year", "cohort": "g", **NO_ROLES, **kw.pop("columns", {})}
    fams = kw.pop("families", (OutcomeFamily("f", ("y",), "log", ("cs",)),))
    base = dict(columns=Columns(**cols), families=fams, tables=("main",), figures=(),
                control="never", describe=(), selection=(), production=None,
                heterogeneity=(), sector_by_year=False)  # fmt: skip
    return Spec(**{**base, **kw})


def _cs(df: pd.DataFrame, spec: Spec) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec)
    main = rep.table("main")
    return float(main.loc[main["estimator"] == "Callaway-Sant'Anna", "estimate"].iloc[0])


def test_a_default_derived_outcome_gives_way_to_the_users_column():
    df = _panel().assign(log_va_per_worker=lambda d: d["y"])
    fam = (OutcomeFamily("p", ("log_va_per_worker",), "log", ("cs",)),)
    spec = _spec(families=fam, derived={"log_va_per_worker": "log_va - log_emp"})
    assert _cs(df, spec) == pytest.approx(_cs(df, _spec()), abs=1e-12)
    with pytest.raises(SpecError, match="also a column"):  # a derivation the user wrote
        impact.evaluate(df, spec.replace(derived={"log_va_per_worker": "y * 2"}))


def test_a_text_cluster_cell_flag_is_refused():
    df = _panel().assign(cell=lambda d: d["id"] // 10, launch_year=2003.0,
                         cluster_cell=lambda d: np.where(d["id"] < 30, "yes", "no"))  # fmt: skip
    cols = dict(cell="cell", cluster_cell="cluster_cell", launch="launch_year")
    with pytest.raises(SpecError, match="not 0/1"):
        impact.evaluate(df, _spec(columns=cols, control="in_cell"))


def test_roles_attached_by_their_default_names_are_noted():
    d = load("mpdta").assign(sector=lambda x: x["countyreal"] % 3)
    spec = Spec(columns=Columns(unit="countyreal", time="year", cohort="first.treat"),
                families=(OutcomeFamily("e", ("lemp",), "log"),))  # fmt: skip
    _, fitted = check_data(spec, d)
    assert any("taken by their default names: sector ('sector')" in n for n in fitted.notes)


def test_scale_checks_hold_in_evaluate():
    df = _panel().assign(b=lambda d: (d["y"] > 1).astype(int) * 2)
    with pytest.raises(SpecError, match="not 0 or 1"):
        impact.evaluate(df, _spec(families=(OutcomeFamily("b", ("b",), "binary", ("cs",)),)))


def test_an_outcome_named_truth_is_kept():
    tab = Table("t", "T", (), "", {}, frame=pd.DataFrame({"truth": [1.0], "true_effect": [np.nan]}))
    assert list(tab.without_truth().frame.columns) == ["truth"]


def test_init_leaves_out_the_treatment_status_and_matches_treatment_names_exactly():
    df = _panel().assign(treated=lambda d: (d["year"] >= d["g"].fillna(np.inf)).astype(int),
                         gdp=lambda d: d["y"] * 3 + 1)  # fmt: skip
    outcomes = [o for f in propose_spec(df).spec.families for o in f.outcomes]
    assert "treated" not in outcomes and "y" in outcomes
    d2 = (
        _panel()
        .drop(columns="g")
        .assign(
            d=lambda x: (x["year"] >= 2004).astype(int) * (x["id"] % 2), gdp=lambda x: x["y"] + 1
        )
    )
    p = propose_spec(d2)
    assert p.spec.columns.treatment == "d"
    assert "gdp" in [o for f in p.spec.families for o in f.outcomes]


def test_cohort_and_treatment_precedence():
    df = _panel().assign(d=lambda x: (x["year"] >= x["g"].fillna(np.inf)).astype(int))
    with pytest.raises(SpecError, match="'gg'"):  # a misspelt cohort is not replaced
        check_data_or_raise(_spec(columns=dict(cohort="gg", treatment="d")), df)
    _, fitted = check_data(_spec(columns=dict(treatment="d")), df)
    assert any("treatment column 'd' not used" in n for n in fitted.notes)
    exits = df.assign(d=lambda x: ((x["year"] == 2004) & (x["id"] < 5)).astype(int))
    _, fitted = check_data(_spec(columns=dict(cohort="", treatment="d")), exits)
    assert any("5 units leave treatment" in n for n in fitted.notes)


def check_data_or_raise(spec, df):
    problems, _ = check_data(spec, df)
    if problems:
        raise SpecError(problems)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda d: d.iloc[:0], "no rows"),
        (lambda d: d.assign(year=pd.PeriodIndex(d["year"].astype(str), freq="Y")), "numbers"),
        (lambda d: pd.concat([d, d[["y"]]], axis=1), "duplicate column names"),
        (lambda d: d.assign(y=d["y"].astype(str)), "stored as text"),
    ],
)
def test_bad_panels_are_listed_not_crashed(bad, match):
    with pytest.raises(SpecError, match=match):
        check_data_or_raise(_spec(), bad(_panel()))


def test_an_empty_family_is_refused():
    with pytest.raises(SpecError, match="no outcomes"):
        check_data_or_raise(_spec(families=(OutcomeFamily("f", (), "log", ("cs",)),)), _panel())


def test_data_files(tmp_path):
    from impact.data.files import read_panel

    with pytest.raises(InvalidOptionError, match="directory"):
        read_panel(tmp_path)
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b\n1;2\n")
    with pytest.raises(InvalidOptionError, match="semicolons"):
        read_panel(semi)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImpactError):
        read_panel(empty)
