"""Layer 1: absorbed fixed effects equal dummy-variable OLS (statsmodels) under SSC.full()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, RTOL_ITERATIVE_SE, assert_close, random_panel

import impact

FE_SETS = {
    "unit": ["unit"],
    "unit+year": ["unit", "year"],
    "unit+year+grp": ["unit", "year", "grp"],
}


def _dummy_ols(df: pd.DataFrame, fes: list[str], weights: bool):
    X = df[["x1", "x2"]].copy()
    dummies = [
        pd.get_dummies(df[f], prefix=f, drop_first=(i > 0), dtype=float) for i, f in enumerate(fes)
    ]
    X = pd.concat([X, *dummies], axis=1)
    if weights:
        return sm.WLS(df["y"], X, weights=df["w"])
    return sm.OLS(df["y"], X)


@pytest.mark.parametrize("fes", list(FE_SETS))
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("vcov", ["iid", "hetero", "cluster", "twoway"])
def test_equals_dummy_ols(fes, weights, vcov):
    df = random_panel(11)
    fe_cols = FE_SETS[fes]
    model = _dummy_ols(df, fe_cols, weights)
    if vcov == "iid":
        ref = model.fit()
        spec, ssc = "iid", impact.SSC.full()
    elif vcov == "hetero":
        ref = model.fit(cov_type="HC1")
        spec, ssc = "hetero", impact.SSC.full()
    elif vcov == "cluster":
        ref = model.fit(cov_type="cluster", cov_kwds={"groups": df["region"].to_numpy()})
        spec, ssc = {"cluster": "region"}, impact.SSC.full()
    else:
        groups = np.column_stack([df["region"].to_numpy(), df["grp"].to_numpy()])
        ref = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        spec = {"cluster": ["region", "grp"]}
        ssc = impact.SSC(k_fixef="full", cluster_df="conventional", name="full-conventional")
    fit = impact.feols(
        f"y ~ x1 + x2 | {' + '.join(fe_cols)}",
        data=df,
        vcov=spec,
        weights="w" if weights else None,
        ssc=ssc,
        drop_singletons=False,
    )
    exact = fit.demean_strategy in ("oneway", "schur")
    rtol = RTOL_CLOSED_FORM if exact else RTOL_ITERATIVE
    rtol_se = RTOL_CLOSED_FORM if exact else RTOL_ITERATIVE_SE
    assert fit.nobs == int(ref.nobs)
    assert fit.df_resid == int(ref.df_resid)
    assert_close(fit.coef[["x1", "x2"]], ref.params[["x1", "x2"]], rtol=rtol)
    assert_close(fit.se[["x1", "x2"]], ref.bse[["x1", "x2"]], rtol=rtol_se)


def test_no_fixed_effects_equals_ols_with_intercept():
    df = random_panel(3)
    ref = sm.OLS(df["y"], sm.add_constant(df[["x1", "x2"]])).fit(cov_type="HC1")
    fit = impact.feols("y ~ x1 + x2", data=df, vcov="hetero")
    assert_close(fit.coef.to_numpy(), ref.params.to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert_close(fit.se.to_numpy(), ref.bse.to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert_close(fit.r2, ref.rsquared, rtol=RTOL_CLOSED_FORM)


def test_fixef_recovers_dummy_coefficients_up_to_normalisation():
    df = random_panel(5)
    ref = _dummy_ols(df, ["unit", "year"], False).fit()
    fit = impact.feols("y ~ x1 + x2 | unit + year", data=df, drop_singletons=False)
    fx = fit.fixef()
    # dummy OLS: unit dummies absorb the constant, year has 2000 as reference (= our normalisation)
    unit_ref = ref.params[[f"unit_{u}" for u in fx["unit"].index]].to_numpy()
    assert_close(fx["unit"].to_numpy(), unit_ref, rtol=1e-8, atol=1e-10)
    year_ref = np.r_[0.0, ref.params[[f"year_{t}" for t in fx["year"].index[1:]]].to_numpy()]
    assert_close(fx["year"].to_numpy(), year_ref, rtol=1e-8, atol=1e-10)
    assert_close(fit.predict(df).to_numpy(), ref.fittedvalues.to_numpy(), rtol=1e-10)
