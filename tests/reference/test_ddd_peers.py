"""ddd against moderndid's published triple-differences example (Cai 2016) and against
moderndid's ``ddd`` on its own multi-period generator (a test dependency).

Where the two differ, by design (docs/triple_differences.md):
- a cell that combines several comparison cohorts (GMM, control="notyet"): moderndid
  reports ``1 / sqrt(n 1' Omega^-1 1)`` with ``Omega`` the n-1 sample covariance of the
  influence functions, we report the standard error of the combined influence function
  (denominator n, consistent with ``vcov`` and the aggregations): the ratio is exactly
  ``sqrt(n / (n - 1))`` when every unit is in the cell;
- moderndid's event-study, calendar and simple aggregations leave out the estimation
  error of the cohort-share weights (R ``did`` keeps it, and so do we), so only their
  point estimates are compared; its group aggregation keeps it and is compared whole.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_PEER, assert_close

import impact

md = pytest.importorskip("moderndid")

#: Half a unit of the fourth decimal printed in moderndid's example.
PRINTED_ATOL = 5e-5
#: The logit of moderndid (statsmodels GLM, deviance tolerance 1e-8) and ours stop at
#: different iterations: IPW and DR estimates agree to ~1e-7 on ~20-unit effects.
ATOL_LOGIT = 1e-6
PUBLISHED_EVENT = [-0.0545, -0.0321, 0.0, 0.0070, 0.0317, 0.0484, 0.0422, 0.0684, 0.1309]
PUBLISHED_OVERALL = 0.0548
COVS = ["cov1", "cov2", "cov3", "cov4"]


@pytest.fixture(scope="module")
def cai() -> pd.DataFrame:
    df = impact.datasets.load("cai2016")
    return df.assign(g=np.where(df["treatment"] == 1, 2003, 0))


@pytest.fixture(scope="module")
def mp() -> pd.DataFrame:
    return md.gen_ddd_mult_periods(n=500, dgp_type=1, random_state=42)["data"].to_pandas()


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _cai_fit(cai, covariates_at="period", **kw):
    return impact.ddd(
        cai, y="checksaving_ratio", unit="hhno", time="year", cohort="g",
        partition="sector", covariates=["hhsize", "age"], covariates_at=covariates_at, **kw,
    )  # fmt: skip


def test_published_cai2016_event_study(cai):
    """moderndid's example: DR with hhsize + age, universal base, never-enabled
    comparisons, unbalanced panel (each cell uses the households seen in both years)."""
    agg = _cai_fit(cai).aggregate("dynamic")
    tab = agg.table.set_index("rel_time")
    assert tab.index.tolist() == list(range(-3, 6))
    assert_close(tab["estimate"], PUBLISHED_EVENT, rtol=0, atol=PRINTED_ATOL)
    assert_close(agg.estimate, PUBLISHED_OVERALL, rtol=0, atol=PRINTED_ATOL)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
@pytest.mark.parametrize("base_period", ["universal", "varying"])
def test_cai2016_equals_moderndid(cai, method, base_period):
    ref = _quiet(
        md.ddd, cai, yname="checksaving_ratio", tname="year", idname="hhno", gname="g",
        pname="sector", xformla="~ hhsize + age", base_period=base_period,
        est_method=method, allow_unbalanced_panel=True,
    )  # fmt: skip
    res = _cai_fit(cai, method=method, base_period=base_period)
    assert_close(res.table["estimate"], ref.att, rtol=RTOL_PEER, atol=1e-12)
    est = np.isfinite(ref.se)
    assert_close(res.table["std_error"][est], ref.se[est], rtol=RTOL_PEER)
    ev = _quiet(md.agg_ddd, ref, type="eventstudy", boot=False, cband=False)
    agg = res.aggregate("dynamic")
    assert_close(agg.table["estimate"], ev.att_egt, rtol=RTOL_PEER, atol=1e-12)
    assert_close(agg.table["std_error"].dropna(), ev.se_egt[np.isfinite(ev.se_egt)], rtol=RTOL_PEER)
    assert_close([agg.estimate, agg.std_error], [ev.overall_att, ev.overall_se], rtol=RTOL_PEER)


def test_covariates_at_the_base_period_differ_from_the_target_period(cai):
    """hhsize and age change over time: the default (base-period covariates, R
    triplediff) is a different estimator from moderndid's (target-period covariates)."""
    period = _cai_fit(cai).table["estimate"].to_numpy()
    base = _cai_fit(cai, covariates_at="base").table["estimate"].to_numpy()
    assert np.nanmax(np.abs(base - period)) > 1e-4


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
@pytest.mark.parametrize("base_period", ["universal", "varying"])
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_staggered_equals_moderndid(mp, method, base_period, control):
    ref = _quiet(
        md.ddd, mp, yname="y", tname="time", idname="id", gname="group", pname="partition",
        xformla="~ cov1 + cov2 + cov3 + cov4", base_period=base_period, est_method=method,
        control_group={"never": "nevertreated", "notyet": "notyettreated"}[control],
    )  # fmt: skip
    res = impact.ddd(
        mp, y="y", unit="id", time="time", cohort="group", partition="partition",
        covariates=COVS, control=control, base_period=base_period, method=method,
    )  # fmt: skip
    tab = res.table
    assert_close(tab["estimate"], ref.att, rtol=0, atol=ATOL_LOGIT)
    est = np.isfinite(ref.se)
    gmm = (tab["comparisons"] > 1).to_numpy()
    assert (gmm.any()) == (control == "notyet")
    n = res.n_units
    # every unit of this generator is in every cell (cohorts 2 and 3 of 3 periods)
    ours = tab["std_error"].to_numpy() * np.where(gmm, np.sqrt(n / (n - 1)), 1.0)
    assert_close(ours[est], ref.se[est], rtol=RTOL_PEER)
    # the influence functions themselves (moderndid's rows are the sorted unit ids)
    assert (res.units == np.sort(mp["id"].unique())).all()
    scale = np.abs(ref.inf_func_mat).max()
    assert_close(res._inf, ref.inf_func_mat, rtol=0, atol=ATOL_LOGIT * scale)
    grp = _quiet(md.agg_ddd, ref, type="group", boot=False, cband=False)
    agg = res.aggregate("group")
    assert_close(agg.table["estimate"], grp.att_egt, rtol=0, atol=ATOL_LOGIT)
    assert_close(agg.table["std_error"], grp.se_egt, rtol=RTOL_PEER)
    assert_close([agg.estimate, agg.std_error], [grp.overall_att, grp.overall_se], rtol=RTOL_PEER)
    for ours_type, their_type in (("dynamic", "eventstudy"), ("calendar", "calendar")):
        ev = _quiet(md.agg_ddd, ref, type=their_type, boot=False, cband=False)
        assert_close(res.aggregate(ours_type).table["estimate"], ev.att_egt, rtol=0,
                     atol=ATOL_LOGIT)  # fmt: skip
