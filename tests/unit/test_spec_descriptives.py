"""Spec (TOML, column mapping, validation) and report tables 1-2 on hand-built data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import ColumnNotFoundError, InvalidOptionError
from impact.report.descriptives import describe_pre_period, rollout, standardised_difference
from impact.report.spec import Columns, OutcomeFamily, Spec


def _tiny() -> pd.DataFrame:
    """Four firms, 2008-2011. Cell 1 launches 2010: firm A joins 2010 (founder), B in
    2011, C never; firm D is outside cluster cells."""
    rows = []
    for firm, cell, launch, cohort, in_cell in (
        ("A", 1, 2010, 2010, True),
        ("B", 1, 2010, 2011, True),
        ("C", 1, 2010, np.nan, True),
        ("D", 2, np.nan, np.nan, False),
    ):
        for year in range(2008, 2012):
            rows.append(
                {
                    "id": firm, "t": year, "cellid": cell, "launch": launch, "g": cohort,
                    "incell": in_cell, "emp": {"A": 10, "B": 20, "C": 30, "D": 50}[firm]
                    + year - 2008,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def _spec() -> Spec:
    cols = Columns(
        unit="id", time="t", cohort="g", cell="cellid", region="cellid", sector="cellid",
        cluster_cell="incell", launch="launch", size_class="cellid", high_tech="cellid",
    )  # fmt: skip
    return Spec(
        columns=cols, families=(OutcomeFamily("jobs", ("emp",), "level"),), describe=("emp",),
        cluster="id", covariates=(), production=None, selection=("emp",),
    )  # fmt: skip


def test_rollout_counts_by_hand():
    tab = rollout(_tiny(), _spec())
    tab = tab.set_index(tab["t"].astype(int))
    assert tab.loc[2010, "clusters launched"] == 1 and tab.loc[2009, "clusters active"] == 0
    assert tab.loc[2010, "firms joining"] == 1 and tab.loc[2010, "of which founders"] == 1
    assert tab.loc[2011, "firms joining"] == 1 and tab.loc[2011, "of which founders"] == 0
    assert tab.loc[2010, "members"] == 1 and tab.loc[2011, "members"] == 2
    assert tab.loc[2010, "exposed non-members"] == 2  # B (not yet) and C
    assert tab.loc[2011, "exposed non-members"] == 1
    assert tab.loc[2009, "exposed non-members"] == 0
    assert (tab["outside cluster cells"] == 1).all()


def test_descriptives_pre_period_by_hand():
    tab = describe_pre_period(_tiny(), _spec()).set_index("variable")
    # pre-period: 2008-2009 (first launch 2010). Members A, B: emp 10, 11, 20, 21.
    members = pd.Series([10.0, 11, 20, 21])
    assert tab.loc["emp", "mean: members"] == pytest.approx(15.5)
    assert tab.loc["emp", "mean: non-members in cluster cells"] == pytest.approx(30.5)
    assert tab.loc["emp", "mean: outside cluster cells"] == pytest.approx(50.5)
    sd_c = pd.Series([30.0, 31]).std()
    expected = (15.5 - 30.5) / np.sqrt((members.var() + sd_c**2) / 2)
    assert tab.loc["emp", "std diff vs non-members in cluster cells"] == pytest.approx(expected)
    raw = describe_pre_period(_tiny(), _spec())
    assert raw.attrs["firms"]["members"] == 2 and raw.attrs["firm_years"]["members"] == 4


def test_standardised_difference_constant_groups_is_nan():
    assert np.isnan(standardised_difference(pd.Series([1.0, 1.0]), pd.Series([1.0, 1.0])))


def test_spec_from_toml_maps_names_and_validates(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(
        'seed = 7\ncluster = "id"\ndescribe = ["emp"]\ncovariates = []\nselection = ["emp"]\n'
        "[production]\nenabled = false\n"
        '[columns]\nunit = "id"\ntime = "t"\ncohort = "g"\ncell = "cellid"\nregion = "cellid"\n'
        'sector = "cellid"\ncluster_cell = "incell"\nlaunch = "launch"\n'
        'size_class = "cellid"\nhigh_tech = "cellid"\n'
        '[families.jobs]\noutcomes = ["emp"]\nscale = "level"\n'
    )
    spec = Spec.from_toml(path)
    assert spec.seed == 7 and spec.columns.unit == "id" and spec.outcomes == ["emp"]
    spec.validate(_tiny())
    with pytest.raises(ColumnNotFoundError, match="'emp'"):
        spec.validate(_tiny().drop(columns="emp"))
    assert spec.to_dict()["families"] == {
        "jobs": {
            "outcomes": ["emp"],
            "scale": "level",
            "estimators": list(spec.families[0].estimators),
        }
    }
    assert spec.families[0].estimators == ("twfe", "cs", "cs_notyet", "sun_abraham", "imputation")


def test_spec_rejects_unknown_keys_and_scales():
    with pytest.raises(InvalidOptionError, match="unknown spec keys"):
        Spec.from_dict({"sed": 1})
    with pytest.raises(InvalidOptionError, match="column roles"):
        Spec.from_dict({"columns": {"firm": "id"}})
    with pytest.raises(InvalidOptionError, match="scale"):
        OutcomeFamily("x", ("y",), "logs")
