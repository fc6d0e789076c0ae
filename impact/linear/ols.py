"""Weighted least squares on projected columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray

__all__ = ["OLSFit", "solve_gram", "weighted_gram", "wls", "wls_from_gram"]


@dataclass(frozen=True)
class OLSFit:
    """Least-squares solution on projected data.

    Attributes
    ----------
    beta : ndarray (k,)
    bread : ndarray (k, k)
        ``(X'WX)^{-1}``.
    resid : ndarray (n,)
        Residuals ``y - X beta`` (unweighted).
    """

    beta: FloatArray
    bread: FloatArray
    resid: FloatArray


def wls_from_gram(gram: FloatArray, y: FloatArray, X: FloatArray) -> OLSFit:
    """Weighted least squares given ``[y X]' W [y X]`` (solved by :func:`solve_gram`).

    Parameters
    ----------
    gram : ndarray (k+1, k+1)
        Gram matrix of ``[y, X]`` with weights.
    y, X : ndarray
        Used only to form the residuals.
    """
    beta, bread = solve_gram(gram)
    return OLSFit(beta=beta, bread=bread, resid=y - X @ beta)


def solve_gram(gram: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Coefficients and ``(X'WX)^{-1}`` from the Gram matrix of ``[y X]``.

    Solves the column-scaled normal equations by Cholesky (scaling makes the solve
    invariant to the units of each regressor).
    """
    XtX, Xty = gram[1:, 1:], gram[1:, 0]
    s = np.sqrt(np.diag(XtX))
    s = np.where(s > 0, s, 1.0)
    A = XtX / np.outer(s, s)
    c = sla.cho_factor(A, lower=True, check_finite=False)
    beta = sla.cho_solve(c, Xty / s, check_finite=False) / s
    inv_scaled = sla.cho_solve(c, np.eye(len(s)), check_finite=False)
    bread = inv_scaled / np.outer(s, s)
    return beta, (bread + bread.T) / 2


def weighted_gram(R: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """``R' W R`` (one BLAS pass)."""
    Rw = R if weights is None else R * weights[:, None]
    return Rw.T @ R


def wls(y: FloatArray, X: FloatArray, weights: FloatArray | None = None) -> OLSFit:
    """Solve ``min sum w (y - X b)^2``; residuals are unweighted."""
    R = np.column_stack([y, X])
    return wls_from_gram(weighted_gram(R, weights), y, X)
