"""att_gt, its aggregations and the CS event study against moderndid's stored outputs
(stored/moderndid_*.json, written by make_stored.py; moderndid's analytic results equal
R did's), run without moderndid's estimators: on impact's synthetic panel (always) and on
mpdta (read through moderndid's data loader; skipped without it), as test_att_gt_mpdta.py
and test_event_study.py do live."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import (
    AGGREGATIONS,
    ATT_GT_CASES,
    DR_IMPROVED_CELLS,
    DYNAMIC_WINDOWS,
    SYNTHETIC_ATT_GT_CASES,
    assert_same_input,
    case_id,
    mpdta_cell,
    mpdta_weights,
    stored_case,
    synthetic_panel,
)
from peer_inputs import mpdta as load_mpdta

import impact
from impact.errors import ImpactError

SYNTH = {"y": "log_emp", "unit": "firm_id", "time": "year", "cohort": "g"}
MPDTA = {"y": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_panel(balanced=True)


@pytest.fixture(scope="module")
def mpdta():
    try:
        return load_mpdta()
    except ImpactError:
        pytest.skip("mpdta is read through moderndid's data loader, not installed")


def _att_gt(d, cols, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.att_gt(d, **cols, **kw)


def _compare_cells(res, ref, *, se_scale: float = 1.0):
    """Cells in moderndid's order (cohort, then time), estimates and SEs; a base-period
    cell's SE is not compared (moderndid reports NaN or 0 there, we report 0)."""
    tab = res.table
    assert list(tab["cohort"]) == [int(g) for g in ref["group"]]
    assert list(tab["time"]) == [int(t) for t in ref["time"]]
    assert_close(tab["estimate"].to_numpy(), ref["att_gt"], rtol=RTOL_PEER, atol=1e-12)
    ok = np.isfinite(ref["se_gt"]) & (tab["time"] != tab["base_period"]).to_numpy()
    assert ok.sum() > len(tab) // 2
    assert_close(tab["std_error"].to_numpy()[ok] * se_scale, ref["se_gt"][ok], rtol=RTOL_PEER)


def _compare_aggregates(res, ref):
    for kind in AGGREGATIONS:
        agg = res.aggregate(kind)
        assert_close(agg.estimate, ref[f"{kind}_att"], rtol=RTOL_PEER, atol=1e-12)
        assert_close(agg.std_error, ref[f"{kind}_se"], rtol=RTOL_PEER)


def _compare_dynamic(agg, ref):
    assert_close(agg.table["estimate"].to_numpy(), ref["att_by_event"], rtol=RTOL_PEER, atol=1e-12)
    assert_close(agg.table["std_error"].to_numpy(), ref["se_by_event"], rtol=RTOL_PEER)
    assert_close(agg.estimate, ref["overall_att"], rtol=RTOL_PEER, atol=1e-12)
    assert_close(agg.std_error, ref["overall_se"], rtol=RTOL_PEER)


def _compare_cs_event_study(d, cols, ref):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.event_study(d, **cols, estimator="cs", window=(-3, 3))
    e = ref["event_times"]
    keep = (e != -1) & (e >= -3) & (e <= 3)
    tab = res.table[res.table["rel_time"] != -1]
    assert list(tab["rel_time"]) == [int(v) for v in e[keep]]
    assert_close(tab["estimate"].to_numpy(), ref["att_by_event"][keep], rtol=RTOL_PEER, atol=1e-12)
    assert_close(tab["std_error"].to_numpy(), ref["se_by_event"][keep], rtol=RTOL_PEER)
    # our att: the equal-weight mean of event times 0..3 (moderndid's overall_att when the
    # window holds every post-treatment event time, as on mpdta)
    post = (e >= 0) & (e <= 3)
    assert_close(res.att, np.mean(ref["att_by_event"][post]), rtol=RTOL_PEER)
    if e.max() <= 3:
        assert_close(res.att, ref["overall_att"], rtol=RTOL_PEER)


# ---------------------------------------------------------------- synthetic panel (always)


@pytest.mark.parametrize(
    "case", SYNTHETIC_ATT_GT_CASES, ids=lambda c: "-".join(str(v) for v in c.values())
)
@pytest.mark.parametrize("covariates", [None, ["ht", "emp0"]], ids=["unconditional", "ht+emp0"])
def test_att_gt_on_the_synthetic_panel_equals_stored_moderndid(synthetic, case, covariates):
    ref = stored_case("moderndid_synthetic", f"att_gt|{case_id(case, covariates)}")
    assert_same_input(synthetic, ref["input"])
    res = _att_gt(synthetic, SYNTH, covariates=covariates, **case)
    _compare_cells(res, ref)
    _compare_aggregates(res, ref)


@pytest.mark.parametrize("window", DYNAMIC_WINDOWS, ids=lambda w: json.dumps(w, sort_keys=True))
def test_dynamic_windows_on_the_synthetic_panel_equal_stored_moderndid(synthetic, window):
    ref = stored_case("moderndid_synthetic", f"dynamic|{json.dumps(window, sort_keys=True)}")
    assert_same_input(synthetic, ref["input"])
    _compare_dynamic(_att_gt(synthetic, SYNTH).aggregate("dynamic", **window), ref)


def test_cs_event_study_on_the_synthetic_panel_equals_stored_moderndid(synthetic):
    ref = stored_case("moderndid_synthetic", "cs_event_study|universal")
    assert_same_input(synthetic, ref["input"])
    _compare_cs_event_study(synthetic, SYNTH, ref)


# ---------------------------------------------------------------- mpdta (moderndid's loader)


@pytest.mark.parametrize("case", ATT_GT_CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize("covariates", [None, ["lpop"]], ids=["unconditional", "lpop"])
def test_att_gt_on_mpdta_equals_stored_moderndid(mpdta, case, covariates):
    ref = stored_case("moderndid_mpdta", f"att_gt|{case_id(case, covariates)}")
    assert_same_input(mpdta, ref["input"])
    res = _att_gt(mpdta, MPDTA, covariates=covariates, **case)
    _compare_cells(res, ref)
    _compare_aggregates(res, ref)


@pytest.mark.parametrize("window", DYNAMIC_WINDOWS, ids=lambda w: json.dumps(w, sort_keys=True))
def test_dynamic_windows_on_mpdta_equal_stored_moderndid(mpdta, window):
    ref = stored_case("moderndid_mpdta", f"dynamic|{json.dumps(window, sort_keys=True)}")
    _compare_dynamic(_att_gt(mpdta, MPDTA).aggregate("dynamic", **window), ref)


def test_cs_event_study_on_mpdta_equals_stored_moderndid(mpdta):
    _compare_cs_event_study(
        mpdta, MPDTA, stored_case("moderndid_mpdta", "cs_event_study|universal")
    )


def test_weights_on_mpdta_equal_stored_moderndid(mpdta):
    d = mpdta_weights(mpdta)
    ref = stored_case("moderndid_mpdta", "weights|lpop")
    assert_same_input(d, ref["input"])
    _compare_cells(_att_gt(d, MPDTA, weights="w", covariates=["lpop"]), ref)


@pytest.mark.parametrize(("g", "t", "s"), DR_IMPROVED_CELLS)
def test_dr_improved_cell_equals_stored_moderndid(mpdta, g, t, s):
    from impact.estimators.drdid import did_panel

    ref = stored_case("moderndid_mpdta", f"drdid_imp_panel|{g}|{t}|{s}")
    y1, y0, D, X = mpdta_cell(mpdta, g, t, s)
    ours = did_panel(y1 - y0, D, X, np.ones(len(D)), "dr_improved")
    assert_close(ours.att, ref["att"], rtol=RTOL_PEER)
    assert_close(np.sqrt(np.mean(ours.inf**2) / len(D)), ref["se"], rtol=RTOL_PEER)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("covariates", [None, ["lpop"]], ids=["unconditional", "lpop"])
def test_repeated_cross_sections_on_mpdta_equal_stored_moderndid(
    mpdta, method, control, covariates
):
    """panel='rcs': moderndid 0.2 divides the squared influence functions by the number of
    unit ids, we by the number of rows, so its SEs are larger by rows / units (= 5)."""
    case = {"method": method, "control": control, "base_period": "varying", "anticipation": 0}
    ref = stored_case("moderndid_mpdta", f"rcs|{case_id(case, covariates)}")
    res = _att_gt(mpdta, MPDTA, method=method, control=control, covariates=covariates, panel="rcs")
    ratio = len(mpdta) / mpdta["countyreal"].nunique()
    _compare_cells(res, ref, se_scale=ratio)
