"""Table 7 (heterogeneity): the difference test, the subgroup truth; the data hash."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.report.evaluation import Evaluation
from impact.report.provenance import data_sha256
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table7_heterogeneity import difference_se, subgroups, true_subgroup_effect

#: Floating-point agreement of two routes to the same number.
EXACT = 1e-10


@pytest.fixture(scope="module")
def panel(s4_panel):
    return s4_panel


def _spec() -> Spec:
    fam = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),)
    return Spec(families=fam, production=None, tables=("heterogeneity",), figures=())


def _fit(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = impact.att_gt(
            df, y="log_emp", unit="firm_id", time="year", cohort="join_year",
            control_pool="pool", vcov={"cluster": "firm_id"},
        )  # fmt: skip
    return gt.aggregate("simple"), gt


def test_difference_se_closed_forms(panel):
    """Disjoint samples: the variances add. The same fit twice: zero."""
    df = panel[0].assign(pool=lambda d: ~d["cluster_cell"])
    firms = df["firm_id"].drop_duplicates().to_numpy()
    half = set(firms[::2])
    a = _fit(df[df["firm_id"].isin(half)])
    b = _fit(df[~df["firm_id"].isin(half)])
    clusters = df.groupby("firm_id")["firm_id"].first()
    want = np.hypot(a[0].std_error, b[0].std_error)
    assert difference_se(a, b, clusters) == pytest.approx(want, rel=EXACT)
    assert difference_se(a, a, clusters) == pytest.approx(0.0, abs=EXACT)


@pytest.mark.parametrize(("control", "effect"), [("out_of_cell", "total"), ("in_cell", "direct")])
def test_subgroup_truth_for_all_members_is_the_generators_simple_aggregation(
    panel, control, effect
):
    """With every member as the subgroup, the cell-weighted truth is the generator's own
    "simple" aggregation (truth_att_overall), computed independently."""
    df, truth = panel
    ev = Evaluation.build(df, _spec().replace(control=control), truth)
    (_, founders), (_, later) = subgroups(ev)["founder"]
    members = ~np.isnan(ev.data[ev.names.cohort].to_numpy())
    assert not (founders & later).any() and np.array_equal(founders | later, members)
    firms = pd.Index(ev.data.loc[members, "firm_id"].unique())
    ov = truth.att_overall.set_index(["outcome", "aggregation"])
    for outcome in ("log_emp", "rd_performer", "export"):
        want = ov.loc[(outcome, "simple"), f"att_{effect}_base"]
        assert true_subgroup_effect(ev, outcome, firms) == pytest.approx(want, rel=1e-9)


def test_heterogeneity_table_shape_and_difference(panel):
    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = impact.evaluate(df, _spec(), truth=truth).table("heterogeneity")
    assert list(tab["dimension"].unique()) == ["size", "high_tech", "founder"]
    for _, g in tab.groupby("dimension", sort=False):
        assert len(g) == 3
        diff = g.iloc[2]
        assert diff["estimate"] == pytest.approx(g.iloc[0]["estimate"] - g.iloc[1]["estimate"])
        assert 0 < diff["p_value"] < 1 and diff["std_error"] > 0


def test_data_hash_is_content_based():
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, np.nan, 2.0]})
    h = data_sha256(df)
    assert h == data_sha256(df.copy()) == data_sha256(df.assign(a=df["a"].astype(float)))
    assert h != data_sha256(df.assign(c=[0.5, np.nan, 2.0000000001]))
    assert h != data_sha256(df[["b", "a", "c"]])
    assert h != data_sha256(df.rename(columns={"a": "A"}))
