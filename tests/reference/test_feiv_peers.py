"""IV with fixed effects (``y ~ exog | fe | endog ~ instruments``): two-stage least squares
equal to pyfixest's feiv (coefficients, SEs, first-stage F) and to linearmodels' IV2SLS
with the fixed effects as dummies."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import feols_panel

import impact
from impact.errors import FormulaError, InvalidOptionError

pf = pytest.importorskip("pyfixest")

#: pyfixest demeans iteratively; run it far tighter than its default.
PYFIXEST_FIXEF_TOL = 1e-13


def _iv_panel(seed: int) -> pd.DataFrame:
    """An endogenous d (its error shares v with y), two instruments, an exogenous x1."""
    df = feols_panel(seed)
    rng = np.random.default_rng(seed)
    n = len(df)
    z1, z2, z3, v = (rng.normal(size=n) for _ in range(4))
    d = 0.8 * z1 + 0.5 * z2 + v + 0.3 * df["x1"]
    d2 = 0.6 * z3 - 0.4 * z1 + rng.normal(size=n) + 0.5 * v
    return df.assign(z1=z1, z2=z2, z3=z3, d=d, d2=d2,
                     y=df["y"] + 1.5 * d - 0.5 * d2 + 0.7 * v)  # fmt: skip


CASES = [
    ("y ~ x1 | unit + year | d ~ z1 + z2", {"CRV1": "unit"}, None),
    ("y ~ x1 | unit + year | d ~ z1 + z2", "hetero", "w"),
    ("y ~ x1 + x2 | unit | d ~ z1", "iid", None),
    ("y ~ x1 | d ~ z1 + z2", "hetero", None),
    ("y ~ 1 | unit | d ~ z1 + z2", {"CRV1": "year"}, "w"),
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("fml, vcov, weights", CASES)
def test_feiv_equals_pyfixest(seed, fml, vcov, weights):
    df = _iv_panel(seed)
    ours_vcov = {"cluster": vcov["CRV1"]} if isinstance(vcov, dict) else vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(fml, data=df, vcov=vcov, weights=weights, fixef_tol=PYFIXEST_FIXEF_TOL)
        fit = impact.feols(fml, df, vcov=ours_vcov, weights=weights)
    names = list(ref.coef().index)
    assert sorted(fit.coef.index) == sorted(names)
    assert_close(fit.coef[names].to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(fit.se[names].to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
    assert fit.nobs == ref._N
    if len(fit.first_stage) == 1:  # pyfixest reports the first stage of one endogenous
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.first_stage()
        (f,) = fit.first_stage.values()
        assert_close(f["f_stat"], ref._f_stat_1st_stage, rtol=RTOL_PEER)


@pytest.mark.parametrize("endog, inst", [(["d"], ["z1", "z2"]), (["d", "d2"], ["z1", "z2", "z3"])])
def test_feiv_equals_linearmodels_with_dummies(endog, inst):
    """Also two endogenous regressors (pyfixest takes one)."""
    from linearmodels.iv import IV2SLS

    df = _iv_panel(3)
    fml = f"y ~ x1 | unit | {' + '.join(endog)} ~ {' + '.join(inst)}"
    fit = impact.feols(fml, df, vcov="hetero")
    dummies = pd.get_dummies(df["unit"], prefix="u", dtype=float)
    exog = pd.concat([df[["x1"]], dummies], axis=1)
    ref = IV2SLS(df["y"], exog, df[endog], df[inst]).fit(cov_type="robust", debiased=True)
    names = ["x1", *endog]
    assert_close(fit.coef[names].to_numpy(), ref.params[names].to_numpy(), rtol=RTOL_PEER)
    # linearmodels scales the robust variance by n/(n-k) with k counting every dummy,
    # as feols' HC1 does with the fixed effects in K
    assert_close(fit.se[names].to_numpy(), ref.std_errors[names].to_numpy(), rtol=RTOL_PEER)


def test_iv_bad_input_and_refusals():
    df = _iv_panel(1)
    with pytest.raises(FormulaError, match="at least as many instruments"):
        impact.feols("y ~ x1 | unit | d + d2 ~ z1", df)
    with pytest.raises(FormulaError, match="numeric columns"):
        impact.feols("y ~ x1 | unit | C(d) ~ z1", df)
    with pytest.raises(InvalidOptionError, match="IV formulas"):
        impact.feols("y ~ x1 | unit | d ~ z1", df, vcov={"CRV3": "unit"})
    fit = impact.feols("y ~ x1 | unit | d ~ z1", df, vcov={"cluster": "unit"})
    with pytest.raises(InvalidOptionError, match="IV fit"):
        impact.wildboot(fit, param="d", B=99)
    again = fit.vcov_as("hetero")  # the second-stage scores: equal to a refit
    refit = impact.feols("y ~ x1 | unit | d ~ z1", df, vcov="hetero")
    assert_close(again.se.to_numpy(), refit.se.to_numpy(), rtol=1e-12)


def test_iv_with_variables_on_very_different_scales():
    """Rescaling an instrument by 1e5 and a regressor by 1e-3 changes nothing but the
    regressor's coefficient (closed form), and is not mistaken for collinearity."""
    df = _iv_panel(4)
    df = df.assign(zs=df["z1"] * 1e5, xs=df["x1"] * 1e-3)
    base = impact.feols("y ~ x1 | unit | d ~ z1", df, vcov="hetero")
    fit = impact.feols("y ~ xs | unit | d ~ zs", df, vcov="hetero")
    assert_close(fit.coef["d"], base.coef["d"], rtol=1e-8)
    assert_close(fit.coef["xs"], base.coef["x1"] * 1e3, rtol=1e-8)
    assert_close(fit.se["d"], base.se["d"], rtol=1e-8)
    assert fit.first_stage["d"]["vcov"] == fit.vcov_label
