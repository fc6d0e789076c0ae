"""Post-estimation: tidy, Wald tests and linear combinations against statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from helpers import RTOL_CLOSED_FORM, assert_close, random_panel

import impact


def _pair():
    df = random_panel(41)
    X = sm.add_constant(df[["x1", "x2"]]).rename(columns={"const": "Intercept"})
    ref = sm.OLS(df["y"], X).fit(cov_type="HC1", use_t=True)
    fit = impact.feols("y ~ x1 + x2", data=df, vcov="hetero")
    return fit, ref


def test_tidy_matches_statsmodels():
    fit, ref = _pair()
    t = fit.tidy().set_index("term")
    assert_close(t["statistic"], ref.tvalues, rtol=RTOL_CLOSED_FORM)
    assert_close(t["p_value"], ref.pvalues, rtol=1e-8)
    ci = ref.conf_int()
    assert_close(t["conf_low"], ci[0], rtol=RTOL_CLOSED_FORM)
    assert_close(t["conf_high"], ci[1], rtol=RTOL_CLOSED_FORM)


def test_wald_matches_statsmodels_f_test():
    fit, ref = _pair()
    w = fit.wald(["x1", "x2"])
    R = np.array([[0, 1, 0], [0, 0, 1]], dtype=float)
    f = ref.f_test(R)
    assert_close(w.statistic, float(np.squeeze(f.fvalue)), rtol=RTOL_CLOSED_FORM)
    assert_close(w.p_value, float(f.pvalue), rtol=1e-8)
    assert w.df_num == 2 and w.df_den == ref.df_resid


def test_lincom_matches_statsmodels_t_test():
    fit, ref = _pair()
    lc = fit.lincom({"x1": 1.0, "x2": -2.0})
    t = ref.t_test(np.array([[0, 1.0, -2.0]]))
    assert_close(lc["estimate"].iloc[0], float(np.squeeze(t.effect)), rtol=RTOL_CLOSED_FORM)
    assert_close(lc["std_error"].iloc[0], float(np.squeeze(t.sd)), rtol=RTOL_CLOSED_FORM)
    assert_close(lc["p_value"].iloc[0], float(t.pvalue), rtol=1e-8)


def test_resid_and_predict_are_aligned_with_user_index():
    df = random_panel(42)
    df.index = pd.Index([f"r{i}" for i in range(len(df))])
    df.loc["r0", "y"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols("y ~ x1 + x2 | unit + year", data=df)
    r = fit.resid()
    assert "r0" not in r.index and len(r) == fit.nobs
    used = df.loc[r.index]
    assert_close((used["y"] - fit.predict(used)).to_numpy(), r.to_numpy(), rtol=0, atol=1e-10)
    assert np.isnan(fit.predict(df.assign(unit=-1)).to_numpy()).all()  # unseen firms
