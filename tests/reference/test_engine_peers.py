"""The engine paths against independent implementations directly (not only against the
in-memory path): DuckDB feols against pyfixest and the imputation event study against
diff-diff. (DuckDB att_gt against moderndid is a case of
tests/reference/test_att_gt_mpdta.py; TWFE, Sun-Abraham and did2s event studies in DuckDB
are cases of tests/reference/test_event_study.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import RTOL_PEER, assert_close

import impact

pytest.importorskip("duckdb")
pf = pytest.importorskip("pyfixest")


def test_engine_feols_equals_pyfixest():
    df = impact.datasets.load("cluster_panel")
    fml = "log_va ~ log_emp + log_k | firm_id + year"
    ours = impact.feols(fml, df, vcov={"cluster": "firm_id"}, engine="duckdb")
    ref = pf.feols(fml, df, vcov={"CRV1": "firm_id"}, fixef_tol=1e-14)
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(ours.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
    assert ours.nobs == int(ref._N)


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
