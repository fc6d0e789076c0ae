"""The fixest formula forms a pyfixest user writes: a*b, several outcomes and stepwise
regressors (sw, csw, csw0) give pyfixest's coefficients and standard errors, model by
model (feols and fepois)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import count_panel, feols_panel

import impact
from impact.errors import FormulaError
from impact.results.collection import FitCollection

pf = pytest.importorskip("pyfixest")

#: pyfixest demeans iteratively; run it far tighter than its default.
PYFIXEST_FIXEF_TOL = 1e-13


def _panel(seed: int):
    df = feols_panel(seed)
    rng = np.random.default_rng(seed)
    return df.assign(y2=df["y"] * 0.5 + rng.normal(size=len(df)), x3=rng.normal(size=len(df)),
                     k=df["unit"] % 4)  # fmt: skip


def _pairs(ours, ref):
    fits = list(ours) if isinstance(ours, FitCollection) else [ours]
    refs = ref.to_list() if hasattr(ref, "to_list") else [ref]
    assert len(fits) == len(refs)
    return zip(fits, refs, strict=True)


def _same(fit, ref):
    names = list(ref.coef().index)
    ours = fit.coef
    assert sorted(ours.index) == sorted(names), (list(ours.index), names)
    assert_close(ours[names].to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(fit.se[names].to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    "fml",
    [
        "y ~ x1*x2 | unit + year",
        "y ~ C(k)*x1",
        "y ~ C(k)*x1 | year",
        "y ~ x1*x2*x3 | unit",
        "y + y2 ~ x1 + x2 | unit + year",
        "y ~ x1 + sw(x2, x3) | unit + year",
        "y ~ csw(x1, x2, x3) | unit + year",
        "y + y2 ~ x1 + csw0(x2, x3) | unit",
    ],
)
def test_feols_formula_forms_equal_pyfixest(seed, fml):
    df = _panel(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(fml, data=df, vcov={"CRV1": "unit"}, fixef_tol=PYFIXEST_FIXEF_TOL)
        ours = impact.feols(fml, df, vcov={"cluster": "unit"})
    for fit, r in _pairs(ours, ref):
        _same(fit, r)


def test_fepois_stepwise_equals_pyfixest():
    df = count_panel(3).assign(x3=lambda d: np.random.default_rng(3).normal(size=len(d)))
    fml = "cnt ~ csw(x1, x2) | unit + year"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.fepois(fml, data=df, vcov={"CRV1": "unit"}, fixef_tol=PYFIXEST_FIXEF_TOL,
                        iwls_tol=1e-12)  # fmt: skip
        ours = impact.fepois(fml, df, vcov={"cluster": "unit"})
    for fit, r in _pairs(ours, ref):
        _same(fit, r)


def test_collection_labels_etable_and_errors():
    df = _panel(1)
    fits = impact.feols("y + y2 ~ x1 + csw0(x2, x3) | unit", df)
    assert fits.labels == ("y; (none)", "y; x2", "y; x2 + x3", "y2; (none)", "y2; x2",
                           "y2; x2 + x3")  # fmt: skip
    assert fits.fit("y2; x2").coef.index.tolist() == ["x1", "x2"]
    tab = impact.etable(fits)
    assert tab.shape[1] == len(fits)
    for bad in ("y ~ sw(x1) + csw(x2) | unit", "sw(y, y2) ~ x1", "y ~ x1 | sw(unit, year)",
                "y ~ sw(x1, ) | unit", "y ~ x1 * | unit"):  # fmt: skip
        with pytest.raises(FormulaError):
            impact.feols(bad, df)


def test_two_way_cluster_string_equals_pyfixest():
    df = _panel(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ x1 + x2 | unit", data=df, vcov={"CRV1": "unit+year"},
                       fixef_tol=PYFIXEST_FIXEF_TOL)  # fmt: skip
        ours = impact.feols("y ~ x1 + x2 | unit", df, vcov={"CRV1": "unit + year"})
    listed = impact.feols("y ~ x1 + x2 | unit", df, vcov={"CRV1": ["unit", "year"]})
    _same(ours, ref)
    assert_close(ours.se.to_numpy(), listed.se.to_numpy(), rtol=1e-15)


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize(
    "vcov", ["iid", "hetero", {"cluster": "unit"}, {"CRV1": "unit+year"}, {"CRV1": "year"}]
)
def test_vcov_as_equals_a_refit_and_pyfixest(vcov, weights):
    """fit.vcov_as(...) recomputes the variance without refitting: equal to a refit with
    that vcov (closed form: the same scores) and to pyfixest's fit.vcov(...)."""
    df = _panel(1)
    fit = impact.feols("y ~ x1 + x2 | unit + year", df, weights=weights)
    again = fit.vcov_as(vcov)
    refit = impact.feols("y ~ x1 + x2 | unit + year", df, weights=weights, vcov=vcov)
    assert_close(again.se.to_numpy(), refit.se.to_numpy(), rtol=1e-12)
    assert again.df_t == refit.df_t and again.vcov_label == refit.vcov_label
    assert_close(again.coef.to_numpy(), fit.coef.to_numpy(), rtol=0)
    pf_vcov = {"cluster": {"CRV1": "unit"}}.get(next(iter(vcov)), vcov) if isinstance(
        vcov, dict) else vcov  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ x1 + x2 | unit + year", data=df, weights=weights,
                       fixef_tol=PYFIXEST_FIXEF_TOL)  # fmt: skip
        ref.vcov(pf_vcov)
    assert_close(again.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)


def test_vcov_as_refuses_crv3_fepois_and_unknown_columns():
    df = _panel(1)
    fit = impact.feols("y ~ x1 + x2 | unit", df)
    with pytest.raises(impact.errors.InvalidOptionError, match="CRV3"):
        fit.vcov_as({"CRV3": "unit"})
    with pytest.raises(impact.errors.InvalidOptionError, match="not columns"):
        fit.vcov_as({"cluster": "region_x"})
    cnt = count_panel(2)
    pois = impact.fepois("cnt ~ x1 | unit", cnt)
    with pytest.raises(impact.errors.InvalidOptionError, match="refit impact.fepois"):
        pois.vcov_as("hetero")


def test_review_mends_for_collections_iv_and_vcov_as():
    df = _panel(2)
    with pytest.raises(FormulaError, match="csw0"):
        impact.feols("y ~ csw0(x1, x2) | unit", df)
    with pytest.raises(FormulaError, match="csw0"):
        impact.feols("y ~ csw0(x1, x2) - 1", df)
    assert len(impact.feols("y ~ x3 + csw0(x1, x2) | unit", df)) == 3
    fits = impact.feols("y + y2 ~ x1", df)
    with pytest.raises(impact.errors.InvalidOptionError, match="not one of the fits"):
        fits.fit("zz")
    fit = impact.feols("y ~ x1 | unit", df)
    df.sort_values("x1", inplace=True)
    df.reset_index(drop=True, inplace=True)
    with pytest.raises(impact.errors.InvalidOptionError, match="changed after fitting"):
        fit.vcov_as({"cluster": "unit"})
    df.drop(index=[0, 1], inplace=True)
    with pytest.raises(impact.errors.InvalidOptionError, match="changed after fitting"):
        fit.vcov_as({"cluster": "unit"})
