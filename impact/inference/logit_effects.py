"""Inference for a logit fit: cluster-robust covariance, average marginal effects with
their delta-method covariance, McFadden's pseudo R².

Pure functions of the design ``X`` (constant first), the 0/1 outcome ``y`` and the
coefficients of :func:`impact.linear.logit.logit_fit`. The definitions follow the usual
ones (Stata ``logit, vce(cluster)`` and ``margins, dydx(*)``; statsmodels' ``Logit`` with
``cov_type="cluster"`` and ``get_margeff(dummy=True)``), against which they are tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.special import expit

from impact._typing import FloatArray, IntArray
from impact.inference.ssc import SSC, small_sample
from impact.inference.vcov import meat_cluster

__all__ = [
    "MarginalEffects",
    "binary_columns",
    "logit_cluster_vcov",
    "logit_marginal_effects",
    "pseudo_r2",
]


@dataclass(frozen=True)
class MarginalEffects:
    """Average marginal effects of the non-constant regressors and their covariance."""

    effect: FloatArray
    vcov: FloatArray

    @property
    def std_error(self) -> FloatArray:
        return np.sqrt(np.diag(self.vcov))


def logit_cluster_vcov(
    X: FloatArray, y: FloatArray, coef: FloatArray, codes: IntArray
) -> FloatArray:
    """Cluster-robust covariance ``c H^-1 (sum_g s_g s_g') H^-1`` of logit coefficients.

    ``s_g`` sums the scores ``x_i (y_i - p_i)`` within cluster ``g``; ``H`` is the
    information ``X' diag(p (1 - p)) X``; ``c = G/(G-1) (n-1)/(n-k)`` is the usual
    small-sample factor (Stata's, statsmodels' default).
    """
    n, k = X.shape
    p = expit(X @ coef)
    bread = sla.inv((X * (p * (1 - p))[:, None]).T @ X)
    g = int(codes.max()) + 1
    meat = meat_cluster(X * (y - p)[:, None], codes, g)
    ssc = small_sample(
        SSC.fixest(), vcov_type="cluster", N=n, k=k, fe_levels=0, fe_rank_full=0,
        fe_levels_nested=0, n_fe_nested=0, n_fe=0, G=(g,),
    )  # fmt: skip
    return ssc.factors[0] * bread @ meat @ bread


def binary_columns(X: FloatArray) -> np.ndarray:
    """Columns whose every value is 0 or 1 and that take both (0/1 regressors)."""
    zero_one = np.all((X == 0) | (X == 1), axis=0)
    return zero_one & (X.min(axis=0) == 0) & (X.max(axis=0) == 1)


def logit_marginal_effects(X: FloatArray, coef: FloatArray, vcov: FloatArray) -> MarginalEffects:
    """Average marginal effects on ``P(y = 1)`` of the regressors ``X[:, 1:]``.

    A continuous regressor's effect is the mean derivative ``mean(p (1 - p)) b_j``; a 0/1
    regressor's is the mean discrete change ``mean(F(eta | x_j=1) - F(eta | x_j=0))``.
    The covariance is ``J V J'`` with the exact Jacobian ``J`` of the effects in the
    coefficients (delta method).
    """
    n, k = X.shape
    eta = X @ coef
    p = expit(eta)
    dens = p * (1 - p)
    binary = binary_columns(X)
    effect = np.empty(k - 1)
    jac = np.empty((k - 1, k))
    for j in range(1, k):
        if binary[j]:
            x1, x0 = X.copy(), X.copy()
            x1[:, j], x0[:, j] = 1.0, 0.0
            p1, p0 = expit(x1 @ coef), expit(x0 @ coef)
            effect[j - 1] = float(np.mean(p1 - p0))
            jac[j - 1] = ((p1 * (1 - p1)) @ x1 - (p0 * (1 - p0)) @ x0) / n
        else:
            effect[j - 1] = float(dens.mean() * coef[j])
            jac[j - 1] = coef[j] * ((dens * (1 - 2 * p)) @ X) / n
            jac[j - 1, j] += dens.mean()
    return MarginalEffects(effect=effect, vcov=jac @ vcov @ jac.T)


def pseudo_r2(X: FloatArray, y: FloatArray, coef: FloatArray) -> float:
    """McFadden's ``1 - llf / llnull`` (the null model: a constant only)."""
    eta = X @ coef
    llf = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    ybar = float(y.mean())
    llnull = float(len(y) * (ybar * np.log(ybar) + (1 - ybar) * np.log(1 - ybar)))
    return 1.0 - llf / llnull
