"""Weighted least squares on projected columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray

__all__ = ["OLSFit", "least_norm_solve", "solve_gram", "weighted_gram", "wls", "wls_from_gram"]


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


def least_norm_solve(A: FloatArray, b: FloatArray) -> FloatArray:
    """Least-squares solution of minimum norm of ``A x = b`` for a symmetric PSD Gram ``A``,
    after scaling its rows and columns to a unit diagonal (Jacobi).

    Weighted Grams with weights of very different sizes (the separation check weighs
    positive outcomes ``n0 / tol^2`` times more than zeros) have a condition number near
    ``1 / eps`` before scaling, and an unscaled ``lstsq`` cuts off as noise the very
    direction the low-weight rows identify; scaled, the condition number is that of the
    regressors' correlations.
    """
    d = np.sqrt(np.abs(np.diag(A)))
    d[d == 0] = 1.0
    return np.linalg.lstsq(A / d[:, None] / d[None, :], b / d, rcond=None)[0] / d


def weighted_gram(R: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """``R' W R`` (one BLAS pass)."""
    Rw = R if weights is None else R * weights[:, None]
    return Rw.T @ R


def wls(y: FloatArray, X: FloatArray, weights: FloatArray | None = None) -> OLSFit:
    """Solve ``min sum w (y - X b)^2``; residuals are unweighted."""
    R = np.column_stack([y, X])
    return wls_from_gram(weighted_gram(R, weights), y, X)
