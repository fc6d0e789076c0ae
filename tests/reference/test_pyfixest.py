"""Layer 2: feols equals pyfixest's feols under its default conventions (SSC.fixest())."""

from __future__ import annotations

import warnings

import pytest
from helpers import RTOL_PEER, assert_close, random_panel
from peer_inputs import FEOLS_FES as FES
from peer_inputs import FEOLS_VCOVS as VCOVS
from peer_inputs import event_dummy_panel, feols_panel
from peer_inputs import ours_vcov as _ours_vcov

import impact

pf = pytest.importorskip("pyfixest")

#: pyfixest demeans iteratively; run it far tighter than its default so that the
#: comparison tests conventions, not its convergence tolerance.
PYFIXEST_FIXEF_TOL = 1e-13


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("fe", FES)
@pytest.mark.parametrize("vcov", list(VCOVS))
@pytest.mark.parametrize("weights", [None, "w"])
def test_feols_equals_pyfixest(seed, fe, vcov, weights):
    df = feols_panel(seed)
    fml = f"y ~ x1 + x2 | {fe}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(
            fml, data=df, vcov=VCOVS[vcov], weights=weights, fixef_tol=PYFIXEST_FIXEF_TOL
        )
        fit = impact.feols(fml, data=df, vcov=_ours_vcov(VCOVS[vcov]), weights=weights)
    assert fit.nobs == ref._N
    assert_close(fit.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
    assert fit.df_t == int(ref._df_t)
    assert_close(fit.pvalue.to_numpy(), ref.pvalue().to_numpy(), rtol=RTOL_PEER, atol=1e-12)


def test_event_study_dummies_equal_pyfixest_i():
    df = event_dummy_panel()
    fml = "y ~ x1 + i(rel, ref=-1) | unit + year"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(fml, data=df, vcov={"CRV1": "unit"}, fixef_tol=PYFIXEST_FIXEF_TOL)
        fit = impact.feols(fml, data=df, vcov={"cluster": "unit"})
    assert list(fit.coef.index) == ["x1"] + [f"rel::{v}" for v in (-3, -2, 0, 1, 2, 3)]
    assert_close(fit.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)


def test_crv3_equals_pyfixest_without_fixed_effects():
    df = random_panel(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ x1 + x2", data=df, vcov={"CRV3": "region"})
        fit = impact.feols("y ~ x1 + x2", data=df, vcov={"CRV3": "region"})
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)


def test_crv3_equals_pyfixest_with_fixed_effects():
    df = random_panel(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(
            "y ~ x1 + x2 | unit + year",
            data=df,
            vcov={"CRV3": "region"},
            fixef_tol=PYFIXEST_FIXEF_TOL,
        )
        fit = impact.feols("y ~ x1 + x2 | unit + year", data=df, vcov={"CRV3": "region"})
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)
