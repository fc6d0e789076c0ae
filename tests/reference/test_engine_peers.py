"""The engine paths against independent implementations directly (not only against the
in-memory path): DuckDB feols against pyfixest, DuckDB att_gt against moderndid (R did's
analytic results) on mpdta."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import ATT_GT_CASES as CASES

import impact

pytest.importorskip("duckdb")
pf = pytest.importorskip("pyfixest")
md = pytest.importorskip("moderndid")


def test_engine_feols_equals_pyfixest():
    df = impact.datasets.load("cluster_panel")
    fml = "log_va ~ log_emp + log_k | firm_id + year"
    ours = impact.feols(fml, df, vcov={"cluster": "firm_id"}, engine="duckdb")
    ref = pf.feols(fml, df, vcov={"CRV1": "firm_id"}, fixef_tol=1e-14)
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(ours.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
    assert ours.nobs == int(ref._N)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_engine_att_gt_equals_moderndid(case):
    mpdta = impact.datasets.load("mpdta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(
            mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
            boot=False, est_method=case["method"],
            control_group="nevertreated" if case["control"] == "never" else "notyettreated",
            base_period=case["base_period"], anticipation=case["anticipation"],
        )  # fmt: skip
    res = impact.att_gt(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat",
                        engine="duckdb", **case)  # fmt: skip
    tab = res.table
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


def _engine_es(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.event_study(
            data, y="lemp", unit="countyreal", time="year", cohort="first.treat",
            engine="duckdb", **kw,
        )  # fmt: skip


@pytest.mark.parametrize("cluster", [None, "state"])
def test_engine_imputation_equals_diff_diff(cluster):
    dd = pytest.importorskip("diff_diff")
    m = impact.datasets.load("mpdta")
    m = m.assign(state=m["countyreal"] // 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ImputationDiD(cluster=cluster).fit(
            m, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat",
            aggregate="event_study",
        )  # fmt: skip
    res = _engine_es(m, estimator="imputation", vcov={"cluster": cluster} if cluster else None)
    effects = {k: v for k, v in ref.event_study_effects.items() if k >= 0}
    want = np.array([[effects[k]["effect"], effects[k]["se"]] for k in sorted(effects)])
    assert list(res.table["rel_time"]) == sorted(effects)
    assert_close(res.table["estimate"].to_numpy(), want[:, 0], rtol=RTOL_PEER)
    assert_close(res.table["std_error"].to_numpy(), want[:, 1], rtol=RTOL_PEER)
    assert_close(res.fit.overall_se, ref.overall_se, rtol=RTOL_PEER)
