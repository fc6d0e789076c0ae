"""att_gt and its aggregations against moderndid (= R did's analytic results) and the R did
vignette's printed numbers, on Callaway & Sant'Anna's minimum-wage panel (mpdta)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import ATT_GT_CASES as CASES
from peer_inputs import DR_IMPROVED_CELLS, mpdta_cell

import impact

md = pytest.importorskip("moderndid")

#: R did vignette ("Introduction to did"), unconditional att_gt on mpdta, printed to 4 digits.
VIGNETTE_ATT_GT = [
    -0.0105,
    -0.0704,
    -0.1373,
    -0.1008,  # cohort 2004, years 2004-2007
    0.0065,
    -0.0028,
    -0.0046,
    -0.0412,  # cohort 2006
    0.0305,
    -0.0027,
    -0.0311,
    -0.0261,  # cohort 2007
]
#: Printed aggregate estimates of the vignette: simple, dynamic (overall), group, calendar.
VIGNETTE_AGG = {"simple": -0.0400, "dynamic": -0.0772, "group": -0.0310, "calendar": -0.0417}
#: Half a unit of the fourth printed decimal.
PRINTED_4 = 0.00005


@pytest.fixture(scope="module")
def mpdta():
    return impact.datasets.load("mpdta")


def test_mpdta_loader_reads_the_real_panel(mpdta):
    """impact.datasets.load("mpdta") reads moderndid's shipped file: 500 counties x 5 years."""
    assert isinstance(mpdta, pd.DataFrame) and len(mpdta) == 2500
    assert mpdta["countyreal"].nunique() == 500
    assert sorted(mpdta["year"].unique()) == list(range(2003, 2008))


def _ours(d, **kw):
    return impact.att_gt(d, y="lemp", unit="countyreal", time="year", cohort="first.treat", **kw)


def _ref(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return md.att_gt(
            d,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            boot=False,
            **kw,
        )


def test_unconditional_matches_vignette(mpdta):
    res = _ours(mpdta)
    assert_close(
        res.table["estimate"].to_numpy(), np.array(VIGNETTE_ATT_GT), rtol=0, atol=PRINTED_4
    )
    for kind, value in VIGNETTE_AGG.items():
        assert_close(res.aggregate(kind).estimate, value, rtol=0, atol=PRINTED_4)
    assert res.n_units == 500


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize(
    ("covariates", "engine"),
    [(None, None), (None, "duckdb"), (["lpop"], None)],
    ids=["unconditional", "unconditional-duckdb", "lpop"],  # the engine takes no covariates
)
def test_att_gt_and_aggregates_equal_moderndid(mpdta, case, covariates, engine):
    ref = _ref(
        mpdta,
        est_method=case["method"],
        control_group="nevertreated" if case["control"] == "never" else "notyettreated",
        base_period=case["base_period"],
        anticipation=case["anticipation"],
        xformla="~lpop" if covariates else None,
    )
    res = _ours(mpdta, covariates=covariates, engine=engine, **case)
    tab = res.table
    assert len(tab) == len(np.asarray(ref.att_gt))
    assert_close(tab["estimate"].to_numpy(), np.asarray(ref.att_gt), rtol=RTOL_PEER, atol=1e-12)
    se_ref = np.asarray(ref.se_gt, dtype=float)
    ok = np.isfinite(se_ref) & (tab["time"] != tab["base_period"]).to_numpy()
    assert_close(tab["std_error"].to_numpy()[ok], se_ref[ok], rtol=RTOL_PEER)
    for kind in ("simple", "group", "calendar", "dynamic"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agg_ref = md.aggte(ref, type=kind, boot=False, cband=False)
        agg = res.aggregate(kind)
        assert_close(agg.estimate, agg_ref.overall_att, rtol=RTOL_PEER, atol=1e-12)
        assert_close(agg.std_error, agg_ref.overall_se, rtol=RTOL_PEER)


@pytest.mark.parametrize(
    ("kw", "ref_kw"),
    [
        ({"max_e": 2}, {"max_e": 2}),
        ({"min_e": -2, "max_e": 2}, {"min_e": -2, "max_e": 2}),
        ({"balance_e": 1}, {"balance_e": 1}),
    ],
)
def test_dynamic_windows_equal_moderndid(mpdta, kw, ref_kw):
    ref = _ref(mpdta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg_ref = md.aggte(ref, type="dynamic", boot=False, cband=False, **ref_kw)
    agg = _ours(mpdta).aggregate("dynamic", **kw)
    assert_close(
        agg.table["estimate"].to_numpy(),
        np.asarray(agg_ref.att_by_event),
        rtol=RTOL_PEER,
        atol=1e-12,
    )
    assert_close(agg.table["std_error"].to_numpy(), np.asarray(agg_ref.se_by_event), rtol=RTOL_PEER)
    assert_close(agg.estimate, agg_ref.overall_att, rtol=RTOL_PEER, atol=1e-12)
    assert_close(agg.std_error, agg_ref.overall_se, rtol=RTOL_PEER)


def test_weights_equal_moderndid(mpdta):
    d = mpdta.assign(w=1.0 + (mpdta["countyreal"] % 7) / 3.0)
    ref = _ref(d, weightsname="w", xformla="~lpop")
    res = _ours(d, weights="w", covariates=["lpop"])
    assert_close(
        res.table["estimate"].to_numpy(), np.asarray(ref.att_gt), rtol=RTOL_PEER, atol=1e-12
    )
    assert_close(res.table["std_error"].to_numpy(), np.asarray(ref.se_gt), rtol=RTOL_PEER)
    # Aggregation weights are weighted cohort sizes, as in R did's aggte (pg uses .w).
    # moderndid 0.2 uses unweighted cohort counts there, so compare with the closed form.
    units = d.drop_duplicates("countyreal")
    size = units.groupby("first.treat")["w"].sum()
    post = res.table[res.table["time"] >= res.table["cohort"]]
    w = post["cohort"].map(size)
    expected = float((w * post["estimate"]).sum() / w.sum())
    assert_close(res.aggregate("simple").estimate, expected, rtol=1e-12)


@pytest.mark.parametrize(("g", "t", "s"), DR_IMPROVED_CELLS)
def test_dr_improved_cell_equals_moderndid(mpdta, g, t, s):
    """The improved DR estimator (calibrated propensity score) on single 2x2 cells."""
    from impact.estimators.drdid import did_panel

    y1, y0, D, X = mpdta_cell(mpdta, g, t, s)
    ref = md.drdid_imp_panel(y1, y0, D, X, influence_func=True)
    ours = did_panel(y1 - y0, D, X, np.ones(len(D)), "dr_improved")
    assert_close(ours.att, ref.att, rtol=RTOL_PEER)
    assert_close(np.sqrt(np.mean(ours.inf**2) / len(D)), ref.se, rtol=RTOL_PEER)


def test_dr_improved_att_gt_close_to_traditional_dr(mpdta):
    dr = _ours(mpdta, covariates=["lpop"], method="dr")
    imp = _ours(mpdta, covariates=["lpop"], method="dr_improved")
    assert np.max(np.abs(dr.table["estimate"] - imp.table["estimate"])) < 0.01


@pytest.mark.parametrize("method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("covariates", [None, ["lpop"]], ids=["unconditional", "lpop"])
def test_repeated_cross_sections_equal_moderndid(mpdta, method, control, covariates):
    """panel='rcs' (R did's panel=FALSE estimators): cells equal moderndid's.

    Standard errors: we divide by the number of observations (rows); moderndid 0.2 divides
    the same sum of squared influence functions by the number of unit ids, so its SEs are
    larger by exactly rows / units (= 5 on mpdta), which the test pins down.
    """
    ref = _ref(
        mpdta,
        est_method=method,
        panel=False,
        control_group="nevertreated" if control == "never" else "notyettreated",
        xformla="~lpop" if covariates else None,
    )
    res = _ours(mpdta, method=method, control=control, covariates=covariates, panel="rcs")
    assert_close(
        res.table["estimate"].to_numpy(), np.asarray(ref.att_gt), rtol=RTOL_PEER, atol=1e-12
    )
    ratio = len(mpdta) / mpdta["countyreal"].nunique()
    assert_close(res.table["std_error"].to_numpy() * ratio, np.asarray(ref.se_gt), rtol=RTOL_PEER)


def test_rcs_clustered_by_unit_equals_panel_on_a_balanced_panel(mpdta):
    """Unconditional, balanced: the RCS influence functions summed by unit are the panel ones."""
    panel = _ours(mpdta)
    rcs = _ours(mpdta, panel="rcs", vcov={"cluster": "countyreal"})
    assert_close(
        rcs.table["estimate"].to_numpy(), panel.table["estimate"].to_numpy(), rtol=1e-10, atol=1e-14
    )
    assert_close(rcs.table["std_error"].to_numpy(), panel.table["std_error"].to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("kind", ["simple", "group", "calendar", "dynamic"])
def test_rcs_aggregations_equal_panel_ones_when_clustered_by_unit(mpdta, kind):
    panel = _ours(mpdta).aggregate(kind)
    rcs = _ours(mpdta, panel="rcs", vcov={"cluster": "countyreal"}).aggregate(kind)
    assert_close(rcs.estimate, panel.estimate, rtol=1e-10)
    assert_close(rcs.std_error, panel.std_error, rtol=1e-10)
