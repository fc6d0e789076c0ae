"""Weighted logistic regression by Newton–Raphson (propensity scores)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray
from impact.errors import ConvergenceError

__all__ = ["LOGIT_TOL", "SEPARATION_EPS", "LogitFit", "logit_fit"]

#: Newton iterations stop when no coefficient moves by more than this.
LOGIT_TOL = 1e-12
#: A fitted probability this close to 0 or 1 means (quasi-)separation: |x'b| > 23, which no
#: finite-sample logit reaches unless a regressor separates the outcome.
SEPARATION_EPS = 1e-10


@dataclass(frozen=True)
class LogitFit:
    """Logit coefficients and fitted probabilities."""

    coef: FloatArray
    fitted: FloatArray
    iterations: int

    @property
    def separated(self) -> bool:
        """Some fitted probability is numerically 0 or 1 (see :data:`SEPARATION_EPS`)."""
        p = self.fitted
        return bool(np.any((p < SEPARATION_EPS) | (p > 1 - SEPARATION_EPS)))


def logit_fit(
    X: FloatArray,
    d: FloatArray,
    weights: FloatArray,
    *,
    tol: float = LOGIT_TOL,
    maxiter: int = 100,
    label: str = "propensity-score logit",
) -> LogitFit:
    """Maximum-likelihood logit of ``d`` on ``X`` with (frequency-type) weights.

    ``label`` names the model in error messages. Under quasi-separation the fit stops when
    the deviance has converged (as R's ``glm``); :attr:`LogitFit.separated` then says so.

    Raises
    ------
    ConvergenceError
        Newton's method did not converge (e.g. perfect separation).
    """
    closed = _saturated_binary(X, d, weights)
    if closed is not None:
        return closed
    beta = np.zeros(X.shape[1])
    mean = float(np.average(d, weights=weights))
    if 0 < mean < 1 and np.all(X[:, 0] == 1.0):
        beta[0] = np.log(mean / (1 - mean))
    dev_old = np.inf
    for it in range(1, maxiter + 1):
        eta = X @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        dev = _deviance(eta, p, d, weights)
        if abs(dev - dev_old) <= tol * (abs(dev) + 0.1) and it > 2:
            # quasi-separation: coefficients drift but the fit has converged (as R's glm)
            return LogitFit(coef=beta, fitted=p, iterations=it)
        dev_old = dev
        W = weights * p * (1 - p)
        grad = X.T @ (weights * (d - p))
        H = (X * W[:, None]).T @ X
        try:
            step = sla.solve(H, grad, assume_a="pos", check_finite=False)
        except (sla.LinAlgError, ValueError) as exc:
            raise ConvergenceError(
                f"{label}: the information matrix is singular (a regressor has no "
                "variation, duplicates another, or separates the outcome's two groups)."
            ) from exc
        beta = beta + step
        if np.max(np.abs(step)) <= tol * max(1.0, float(np.max(np.abs(beta)))):
            p = 1.0 / (1.0 + np.exp(-(X @ beta)))
            return LogitFit(coef=beta, fitted=p, iterations=it)
    raise ConvergenceError(
        f"{label} did not converge in {maxiter} Newton steps; regressors may "
        "perfectly separate the outcome's two groups."
    )


def _deviance(eta: FloatArray, p: FloatArray, d: FloatArray, weights: FloatArray) -> float:
    """-2 log-likelihood, ``2 sum w (log(1 + exp(eta)) - d eta)``.

    ``log(1 + exp(eta)) = (1 - d) eta - log p + d eta``, so each term is
    ``(1 - d) eta - log p``: one logarithm of the fitted probability, exact to rounding
    wherever ``p`` is representable (for large ``eta`` both vanish); where ``p``
    underflows to 0 (``eta < -745``) the overflow-safe ``logaddexp`` is used.
    """
    if np.any(p == 0.0):
        return 2.0 * float(weights @ (np.logaddexp(0.0, eta) - d * eta))
    term = np.log(p)
    np.subtract((1.0 - d) * eta, term, out=term)
    return 2.0 * float(weights @ term)


def _saturated_binary(X: FloatArray, d: FloatArray, weights: FloatArray) -> LogitFit | None:
    """Closed form for a constant and one 0/1 regressor (a saturated model): the fitted
    probabilities are the weighted shares of ``d`` in the two groups. None when the model
    is of another form or a share is 0 or 1 (then Newton's method handles separation)."""
    if X.shape[1] != 2 or not np.all(X[:, 0] == 1.0):
        return None
    x = X[:, 1]
    one = x == 1.0
    if not np.all(one | (x == 0.0)):
        return None
    w1, w0 = weights[one], weights[~one]
    if w1.sum() <= 0 or w0.sum() <= 0:
        return None
    p1 = float(w1 @ d[one] / w1.sum())
    p0 = float(w0 @ d[~one] / w0.sum())
    if not (0.0 < p0 < 1.0 and 0.0 < p1 < 1.0):
        return None
    b0 = np.log(p0 / (1 - p0))
    coef = np.array([b0, np.log(p1 / (1 - p1)) - b0])
    return LogitFit(coef=coef, fitted=np.where(one, p1, p0), iterations=0)
