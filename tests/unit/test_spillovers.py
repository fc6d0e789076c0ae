"""Table 8 (spillovers): the exposure design by hand, the table's shape and its truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table8_spillovers import _sample


@pytest.fixture(scope="module")
def panel(s4_panel):
    return s4_panel


def _spec() -> Spec:
    fam = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),)
    return Spec(families=fam, production=None, tables=("spillovers",), figures=())


def test_exposure_sample_by_hand(panel):
    df, _ = panel
    ev = Evaluation.build(df, _spec())
    s = _sample(ev)
    EXPOSURE, OUTSIDE = ev.names.exposure, ev.names.outside
    assert s["join_year"].isna().all()  # members and later joiners are left out
    in_cell = s["cluster_cell"].to_numpy()
    assert np.array_equal(s.loc[in_cell, EXPOSURE], s.loc[in_cell, "launch_year"])
    assert s.loc[~in_cell, EXPOSURE].isna().all()
    assert np.array_equal(s[OUTSIDE].to_numpy(), ~in_cell)
    assert len(df) > len(s)  # the user's frame is untouched and larger


def test_spillover_table(panel):
    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = impact.evaluate(df, _spec(), truth=truth).table("spillovers")
    avg = tab[tab["exposure_time"].isna()].iloc[0]
    by_e = tab[tab["exposure_time"].notna()].set_index("exposure_time")
    post = by_e.loc[0:5]
    assert avg["estimate"] == pytest.approx(post["estimate"].mean(), abs=1e-12)
    te = truth.spillover_event
    te = te[(te["outcome"] == "log_emp") & te["exposure_time"].between(0, 5)]
    assert avg["true_effect"] == pytest.approx(te["effect_never_joiners"].mean(), abs=1e-12)
    assert (by_e.loc[-5:-1, "true_effect"] == 0).all()  # no spillover before the launch
    assert avg["exposed_firms"] > 0 and 0 <= avg["pretrend_p"] <= 1
