"""prodest against independent references: statsmodels OLS (closed form) and known truth.

The structural checks use the synthetic panel, whose output elasticities are known
(beta_l = 0.6, beta_k = 0.3): in ACF-replica mode (scenario S7 timing) the estimators that
are consistent there must recover them; on Leontief value-added materials (the default
generator) the Levinsohn-Petrin first stage cannot identify beta_l, as Ackerberg, Caves
and Frazer (2015) show, and OLS's beta_l is biased upward by simultaneity (DGP.md S7).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from helpers import PRODEST_COLUMNS, RTOL_PEER, assert_close

import impact
from impact.errors import MultipleMinimaWarning

BETA_L, BETA_K = 0.6, 0.3
#: Sampling error of ACF/Wooldridge elasticities with ~2,000 firms x 16 years is about
#: 0.005-0.01 (their bootstrap and analytic SEs); 0.03 is 3-6 SE and still far from
#: the biased estimators (OLS 0.85, LP 0.0).
TOL_RECOVER = 0.03
#: OLS's simultaneity bias on beta_l in these designs is +0.2 to +0.35.
MIN_OLS_BIAS = 0.1
#: Levinsohn-Petrin on Leontief materials: beta_l collapses to ~0 (y - m is noise).
MAX_LP_BETA_L = 0.05
#: Wooldridge with a (k, m)-only control function: the first equation's l coefficient is
#: ~0 for the same reason, and the lagged equation pulls it up only a little (0.07 here);
#: anything below 0.2 is a collapse, far from 0.6.
MAX_KM_BETA_L = 0.2

ARGS = dict(**PRODEST_COLUMNS, treatment="member", group_trends="sector")


def _panel(seed: int, **kw) -> pd.DataFrame:
    df, _ = impact.datasets.cluster_panel(n_firms=2000, seed=seed, scenario="S2", **kw)
    df["member"] = (df["year"] >= df["join_year"]).astype(float)
    return df


@pytest.fixture(scope="module")
def replica() -> pd.DataFrame:
    return _panel(4, acf_replica=True)


@pytest.fixture(scope="module")
def leontief() -> pd.DataFrame:
    return _panel(4)


def test_ols_matches_statsmodels_with_clustered_se(leontief):
    df = leontief
    res = impact.prodest(df, method="ols", **ARGS)
    per = df["year"] - df["year"].min()
    d = df.assign(
        t=per - per.mean(),
        s=df["sector"].astype(str),
        yr=df["year"].astype(str),
    )
    # the treatment enters only the law of motion, so OLS has just the controls
    d = d.assign(**{f"tr{k}": (d["sector"] == k) * d["t"] for k in range(2, 9)})
    trends = " + ".join(f"tr{k}" for k in range(2, 9))
    sm = smf.ols(f"log_va ~ log_emp + log_k + C(yr) + C(s) + {trends}", data=d).fit(
        cov_type="cluster", cov_kwds={"groups": d["firm_id"]}
    )
    assert_close(res.coef.to_numpy(), sm.params[["log_emp", "log_k"]].to_numpy(), rtol=RTOL_PEER)
    # statsmodels' cluster factor is G/(G-1)(N-1)/(N-K) with K counting every dummy;
    # impact's (fixest) counts the absorbed period effects too: same K here.
    assert_close(res.se.to_numpy(), sm.bse[["log_emp", "log_k"]].to_numpy(), rtol=1e-4)


def test_fe_matches_statsmodels_dummies(leontief):
    df = leontief[leontief["firm_id"] <= 600]
    res = impact.prodest(df, method="fe", vcov="analytic", **{**ARGS, "group_trends": None})
    sm = smf.ols("log_va ~ log_emp + log_k + C(year) + C(firm_id)", data=df).fit()
    assert_close(res.coef.to_numpy(), sm.params[["log_emp", "log_k"]].to_numpy(), rtol=RTOL_PEER)


@pytest.mark.parametrize("panel", ["replica", "leontief"])
@pytest.mark.parametrize("method", ["acf", "wooldridge"])
def test_acf_and_wooldridge_recover_elasticities(method, panel, request):
    """With the firm's wage as an excluded instrument both recover (0.6, 0.3), no rival root."""
    df = request.getfixturevalue(panel)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MultipleMinimaWarning)
        res = impact.prodest(df, method=method, exog_instruments="log_wage", n_boot=20, **ARGS)
    assert abs(res.coef["log_emp"] - BETA_L) < TOL_RECOVER
    assert abs(res.coef["log_k"] - BETA_K) < TOL_RECOVER
    assert res.returns_to_scale == pytest.approx(BETA_L + BETA_K, abs=2 * TOL_RECOVER)
    assert (res.se < 0.02).all()
    if method == "wooldridge":
        assert 0.5 < res.rho < 0.9  # AR(1) persistence: 0.7 (replica) or 0.8 (default)
    else:
        ends = np.array([np.asarray(c) for c in res.restarts["coef"]])
        assert np.abs(ends - res.coef.to_numpy()).max() < 1e-3  # every start agrees


def test_ols_is_biased_upward(replica, leontief):
    for df in (replica, leontief):
        ols = impact.prodest(df, method="ols", **ARGS)
        assert ols.coef["log_emp"] > BETA_L + MIN_OLS_BIAS


def test_acf_wage_root_is_never_silent():
    """Without a price instrument the ACF moments also accept beta_l near 1.

    With a static labour choice y - l tracks the (Markov) wage, so (1, 0) nearly solves
    every lagged moment. In this sample that root even has the lower J: it is reported
    with a warning that names the other accepted minimum, which is the truth.
    """
    df = _panel(3, acf_replica=True)
    with pytest.warns(MultipleMinimaWarning, match="also accept"):
        res = impact.prodest(df, method="acf", n_boot=2, n_restarts=8, **ARGS)
    ends = np.array([np.asarray(c) for c in res.restarts["coef"]])
    near_truth = np.abs(ends - [BETA_L, BETA_K]).max(axis=1) < TOL_RECOVER
    assert near_truth.any()


def test_leontief_lp_and_km_wooldridge_fail_visibly(leontief):
    lp = impact.prodest(leontief, method="lp", n_boot=10, **ARGS)
    assert abs(lp.coef["log_emp"]) < MAX_LP_BETA_L
    km = impact.prodest(leontief, method="wooldridge", control_function="lp", **ARGS)
    assert abs(km.coef["log_emp"]) < MAX_KM_BETA_L
    full = impact.prodest(leontief, method="wooldridge", **ARGS)
    assert full.coef["log_emp"] > 0.3  # l in the control function: far from the LP collapse


def test_tfp_and_omega_definitions(replica):
    res = impact.prodest(replica, method="wooldridge", exog_instruments="log_wage", **ARGS)
    x = replica[["log_emp", "log_k"]].to_numpy() @ res.coef.to_numpy()
    assert_close(res.tfp.to_numpy(), replica["log_va"].to_numpy() - x, rtol=1e-12)
    assert res.tfp.index.equals(replica.index)
    # omega differs from tfp by the transitory shock, sd 0.1 in the generator
    diff = (res.tfp - res.omega).dropna()
    assert 0.07 < diff.std() < 0.13


@pytest.mark.parametrize("method", ["acf", "wooldridge"])
def test_translog_mean_elasticities_recover_cobb_douglas(replica, method):
    """The generator is Cobb-Douglas: a translog's mean elasticities must be (0.6, 0.3)."""
    res = impact.prodest(
        replica, method=method, form="translog", exog_instruments="log_wage", n_boot=10, **ARGS
    )
    assert list(res.coef.index) == ["log_emp", "log_k", "log_emp^2", "log_emp:log_k", "log_k^2"]
    mean = res.elasticities.mean()
    assert abs(mean["log_emp"] - BETA_L) < TOL_RECOVER
    assert abs(mean["log_k"] - BETA_K) < TOL_RECOVER
    assert res.returns_to_scale == pytest.approx(mean.sum(), rel=1e-10)


def test_translog_ols_matches_statsmodels(replica):
    df = replica[replica["firm_id"] <= 800]
    res = impact.prodest(df, method="ols", form="translog", **{**ARGS, "group_trends": None})
    sm = smf.ols(
        "log_va ~ log_emp + log_k + I(log_emp**2) + I(log_emp*log_k) + I(log_k**2) + C(year)",
        data=df,
    ).fit()
    names = ["log_emp", "log_k", "I(log_emp ** 2)", "I(log_emp * log_k)", "I(log_k ** 2)"]
    assert_close(res.coef.to_numpy(), sm.params[names].to_numpy(), rtol=RTOL_PEER)
    x = df[["log_emp", "log_k"]].to_numpy()
    b = res.coef.to_numpy()
    e_l = b[0] + 2 * b[2] * x[:, 0] + b[3] * x[:, 1]
    assert_close(res.elasticities["log_emp"].to_numpy(), e_l, rtol=1e-12)


def test_gross_output_on_leontief_materials(leontief):
    """log sales = m + log(1 + exp(e - c)): the materials elasticity is 1, the others 0."""
    df = leontief.assign(log_sales=np.log(leontief["sales"]))
    go = {**ARGS, "output": "log_sales", "free": ["log_emp", "log_materials"]}
    for method in ("ols", "acf"):
        res = impact.prodest(df, method=method, exog_instruments="log_wage", n_boot=5, **go)
        assert res.coef["log_materials"] == pytest.approx(1.0, abs=0.01)
        assert abs(res.coef["log_emp"]) < 0.01 and abs(res.coef["log_k"]) < 0.01
    with pytest.raises(impact.errors.InvalidOptionError, match="value-added"):
        impact.prodest(df, method="lp", **go)


def test_lp_recovers_and_omega_tracks_true_productivity():
    """S7 materials m = m(omega, k): Levinsohn-Petrin is valid; omega-hat tracks omega.

    The generator's log TFP (truth.firm_year, observed path) is omega; the estimate is
    phi - x b, which carries the intercept, so compare deviations from the mean.
    """
    df, truth = impact.datasets.cluster_panel(n_firms=2000, seed=4, scenario="S7")
    df["member"] = (df["year"] >= df["join_year"]).astype(float)
    res = impact.prodest(df, method="lp", exog_instruments="log_wage", n_boot=10, **ARGS)
    assert abs(res.coef["log_emp"] - BETA_L) < TOL_RECOVER
    assert abs(res.coef["log_k"] - BETA_K) < TOL_RECOVER
    fy = truth.firm_year.set_index(["firm_id", "year"])["log_tfp_DS"]
    true = fy.reindex(pd.MultiIndex.from_frame(df[["firm_id", "year"]])).to_numpy()
    gap = res.omega.to_numpy() - true
    gap = gap[np.isfinite(gap)]
    # omega-hat - omega = first-stage error + (b - b-hat) x: sd well below sd(omega) = 0.3
    assert gap.std() < 0.05


def test_translog_returns_to_scale_with_missing_inputs(replica):
    df = replica.copy()
    df.loc[df.index[::5], "log_emp"] = np.nan
    res = impact.prodest(df, method="ols", form="translog", **ARGS)
    b = res.coef.to_numpy()
    ok = df[["log_va", "log_emp", "log_k"]].notna().all(axis=1).to_numpy()
    x_l, x_k = df.loc[ok, "log_emp"].to_numpy(), df.loc[ok, "log_k"].to_numpy()
    e_l = b[0] + 2 * b[2] * x_l + b[3] * x_k
    e_k = b[1] + 2 * b[4] * x_k + b[3] * x_l
    assert res.returns_to_scale == pytest.approx(float(np.mean(e_l + e_k)), rel=1e-12)
    assert res.elasticities["log_emp"].isna().to_numpy()[::5].all()


def test_translog_needs_enough_instruments(replica):
    with pytest.raises(impact.errors.InvalidOptionError, match="cannot identify"):
        impact.prodest(replica, method="acf", form="translog", instruments="just", **ARGS)


def test_op_recovers_with_scalar_investment(replica):
    """Investment = f(k, omega) with no extra shock (sigma_nu = 0) and no zeros: OP is valid."""
    df = replica.assign(log_inv=np.log(replica["investment"]))
    res = impact.prodest(
        df, method="op", n_boot=5, exog_instruments="log_wage", **{**ARGS, "proxy": "log_inv"}
    )
    assert abs(res.coef["log_emp"] - BETA_L) < TOL_RECOVER
    assert abs(res.coef["log_k"] - BETA_K) < TOL_RECOVER
