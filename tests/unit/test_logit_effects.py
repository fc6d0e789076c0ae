"""Logit inference (cluster-robust covariance, average marginal effects, pseudo R²)
against statsmodels' independent implementation, and the report's selection table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.inference.logit_effects import (
    binary_columns,
    logit_cluster_vcov,
    logit_marginal_effects,
    pseudo_r2,
)
from impact.linear.logit import logit_fit
from impact.report.selection import BaselineFirms, selection_logit

#: Both sides run Newton's method to convergence on the same likelihood; measured
#: agreement: 1e-15 (coefficients, effects) to 1e-12 (covariance) relative. The margin
#: leaves room for other BLAS builds, not for a different formula.
FIT_RTOL = 1e-9
#: Delta-method SEs of the marginal effects: ours use the exact Jacobian, statsmodels its
#: own derivatives; measured agreement 3e-15 relative.
AME_SE_RTOL = 1e-9


def _data(seed: int, n: int = 1500, clusters: int = 40):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = (rng.uniform(size=n) < 0.4).astype(float)
    x3 = rng.gamma(2.0, size=n)
    cl = rng.integers(0, clusters, n)
    eta = -0.5 + 0.8 * x1 + 0.7 * x2 - 0.3 * x3 + rng.normal(0, 0.5, clusters)[cl]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    X = np.column_stack([np.ones(n), x1, x2, x3])
    return X, y, cl


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logit_inference_matches_statsmodels(seed):
    X, y, cl = _data(seed)
    coef = logit_fit(X, y, np.ones(len(y))).coef
    V = logit_cluster_vcov(X, y, coef, cl)
    ref = sm.Logit(y, X).fit(
        disp=0, method="newton", maxiter=100, cov_type="cluster", cov_kwds={"groups": cl}
    )
    np.testing.assert_allclose(coef, ref.params, rtol=FIT_RTOL)
    np.testing.assert_allclose(V, ref.cov_params(), rtol=FIT_RTOL * 10)
    assert pseudo_r2(X, y, coef) == pytest.approx(ref.prsquared, rel=FIT_RTOL)
    me = logit_marginal_effects(X, coef, V)
    ref_me = ref.get_margeff(at="overall", method="dydx", dummy=True)
    np.testing.assert_allclose(me.effect, ref_me.margeff, rtol=FIT_RTOL)
    np.testing.assert_allclose(me.std_error, ref_me.margeff_se, rtol=AME_SE_RTOL)


def test_binary_columns_need_both_values():
    X = np.array([[1, 0, 0.0, 2], [1, 1, 0.0, 3], [1, 0, 0.0, 1]], dtype=float)
    assert binary_columns(X).tolist() == [False, True, False, False]


def test_marginal_effect_of_a_dummy_is_the_mean_discrete_change():
    """By hand: the mean of F(eta with x=1) - F(eta with x=0) over every row."""
    X, y, _ = _data(5, n=300)
    coef = logit_fit(X, y, np.ones(len(y))).coef
    me = logit_marginal_effects(X, coef, np.eye(4))
    x1, x0 = X.copy(), X.copy()
    x1[:, 2], x0[:, 2] = 1, 0

    def F(z):
        return 1 / (1 + np.exp(-z))

    assert me.effect[1] == pytest.approx(np.mean(F(x1 @ coef) - F(x0 @ coef)), rel=1e-12)


def test_selection_table_matches_statsmodels():
    """The report's table 3 frame against statsmodels on firms with cells as clusters."""
    X, y, cl = _data(3, n=800, clusters=25)
    firms = BaselineFirms(
        unit=np.arange(len(y)),
        cell=cl,
        member=y.astype(bool),
        in_cell=np.ones(len(y), bool),
        values=pd.DataFrame({"a": X[:, 1], "b": X[:, 2], "c": X[:, 3]}),
        year=2000,
    )
    tab = selection_logit(firms, ["a", "b", "c"])
    ref = sm.Logit(y, X).fit(
        disp=0, method="newton", maxiter=100, cov_type="cluster", cov_kwds={"groups": cl}
    )
    me = ref.get_margeff(at="overall", method="dydx", dummy=True)
    np.testing.assert_allclose(tab["coef"], ref.params, rtol=FIT_RTOL)
    np.testing.assert_allclose(tab["std_error"], ref.bse, rtol=FIT_RTOL)
    np.testing.assert_allclose(tab["p_value"], ref.pvalues, rtol=FIT_RTOL * 10)
    np.testing.assert_allclose(tab["ame"].iloc[1:], me.margeff, rtol=FIT_RTOL)
    np.testing.assert_allclose(tab["ame_se"].iloc[1:], me.margeff_se, rtol=AME_SE_RTOL)
    np.testing.assert_allclose(tab["ame_p"].iloc[1:], me.pvalues, rtol=AME_SE_RTOL * 10)
    assert tab.attrs["pseudo_r2"] == pytest.approx(ref.prsquared, rel=FIT_RTOL)
