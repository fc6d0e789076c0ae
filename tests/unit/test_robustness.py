"""Table 9 (robustness): variants trace to single att_gt calls; the placebo has zero truth."""

from __future__ import annotations

import warnings

import pytest

import impact
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table9_robustness import PLACEBO_SHIFT, leave_one_cluster_out

#: Placebo on a panel where parallel trends holds (S4): within this many SEs of zero
#: (a fixed seed, so the check is deterministic; ~0.3% of seeds would exceed it).
PLACEBO_SES = 3.0


@pytest.fixture(scope="module")
def panel(s4_panel):
    return s4_panel


def _spec() -> Spec:
    fam = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),)
    return Spec(families=fam, production=None, tables=("robustness",), figures=())


def _att(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = impact.att_gt(
            df.assign(pool=~df["cluster_cell"], ht=df["high_tech"].astype(float)),
            y="log_emp", unit="firm_id", time="year", cohort="join_year",
            control_pool="pool", covariates=["ht"], vcov={"cluster": "firm_id"}, **kw,
        )  # fmt: skip
    return gt.aggregate("dynamic", min_e=0, max_e=5).estimate


def test_robustness_rows_trace_to_att_gt(panel):
    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = impact.evaluate(df, _spec(), truth=truth).table("robustness")
    tab = tab.set_index("variant")
    assert tab.loc["anticipation of one year", "estimate"] == pytest.approx(
        _att(df, anticipation=1), abs=1e-12
    )
    assert tab.loc["balanced panel", "estimate"] == pytest.approx(
        _att(df, panel="balanced"), abs=1e-12
    )
    placebo = tab.loc[f"placebo: joining {PLACEBO_SHIFT} years early, pre-period rows"]
    assert placebo["true_effect"] == 0.0
    assert abs(placebo["estimate"]) < PLACEBO_SES * placebo["std_error"]
    assert tab.loc["not-yet-treated controls", "effect"].startswith("mixed")
    assert tab.index.str.startswith("leave one cluster out").sum() == 2


def test_leave_one_cluster_out_by_hand(panel):
    df, _ = panel
    ev = Evaluation.build(df, _spec())
    loco = leave_one_cluster_out(ev, "log_emp")
    launched = df.loc[df["launch_year"].notna(), "cell"].unique()
    assert sorted(loco["cell"]) == sorted(launched)
    cell = loco["cell"].iloc[0]
    want = _att(df[df["cell"] != cell])
    assert loco["estimate"].iloc[0] == pytest.approx(want, abs=1e-12)
