"""Weighted least squares on projected columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray

__all__ = ["OLSFit", "wls"]


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


def wls(y: FloatArray, X: FloatArray, weights: FloatArray | None = None) -> OLSFit:
    """Solve ``min sum w (y - X b)^2`` by Cholesky on the (column-scaled) normal equations."""
    Xw = X if weights is None else X * weights[:, None]
    XtX = Xw.T @ X
    Xty = Xw.T @ y
    s = np.sqrt(np.diag(XtX))
    s = np.where(s > 0, s, 1.0)
    A = XtX / np.outer(s, s)
    c = sla.cho_factor(A, lower=True, check_finite=False)
    beta = sla.cho_solve(c, Xty / s, check_finite=False) / s
    inv_scaled = sla.cho_solve(c, np.eye(len(s)), check_finite=False)
    bread = inv_scaled / np.outer(s, s)
    resid = y - X @ beta
    return OLSFit(beta=beta, bread=(bread + bread.T) / 2, resid=resid)
