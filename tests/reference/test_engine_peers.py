"""The engine paths against independent implementations directly (not only against the
in-memory path): DuckDB feols against pyfixest (one large plus small fixed effects, and
two or three large ones by alternating projections) and the imputation event study against
diff-diff. (DuckDB att_gt against moderndid is a case of
tests/reference/test_att_gt_mpdta.py; TWFE, Sun-Abraham and did2s event studies in DuckDB
are cases of tests/reference/test_event_study.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
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


@pytest.mark.parametrize("fixef", ["firm + worker", "firm + worker + spell"])
@pytest.mark.parametrize("vcov", ["iid", {"cluster": "firm"}], ids=str)
def test_engine_large_fixed_effects_equal_pyfixest(vcov, fixef):
    """Firms and workers (too many for dummies), and a third dimension: the engine's
    alternating projections against pyfixest's demeaning directly, degrees of freedom
    included."""
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"firm": rng.integers(0, 700, 6000), "worker": rng.integers(0, 500, 6000)})
    df = df.drop_duplicates(["firm", "worker"]).reset_index(drop=True)
    df["spell"] = rng.integers(0, 8, len(df))
    df["x1"] = rng.normal(size=len(df))
    df["x2"] = rng.normal(size=len(df))
    df["y"] = (df["x1"] - 0.5 * df["x2"] + rng.normal(size=700)[df["firm"]]
               + rng.normal(size=500)[df["worker"]] + 0.3 * df["spell"]
               + rng.normal(size=len(df)))  # fmt: skip
    fml = f"y ~ x1 + x2 | {fixef}"
    ref_vcov = {"CRV1": "firm"} if isinstance(vcov, dict) else vcov
    ref = pf.feols(fml, df, vcov=ref_vcov, fixef_tol=1e-14)
    ours = impact.feols(fml, df, vcov=vcov, engine="duckdb")
    assert ours.demean_strategy == "map (engine)"
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(ours.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
    assert ours.nobs == int(ref._N)
