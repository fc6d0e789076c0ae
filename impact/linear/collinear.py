"""Scale-invariant collinearity detection after fixed effects are projected out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg as sla

from impact._typing import BoolArray, FloatArray

__all__ = ["COLLIN_TOL", "column_scale", "describe_drops", "find_collinear"]

#: A column is collinear when the share of its (weighted, centred) variation that is
#: left after projecting on the fixed effects and on the earlier kept columns is below
#: this value (fixest's ``collin.tol`` default).
COLLIN_TOL = 1e-10


def column_scale(X: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """Weighted centred sum of squares of each column (raw sum of squares if constant).

    Two passes (mean first), so that a regressor with a large level and little variation
    keeps its variation instead of losing it to cancellation.
    """
    w = np.ones(X.shape[0]) if weights is None else weights
    mean = (w @ X) / w.sum()
    centred = w @ ((X - mean) ** 2)
    raw = w @ (X * X)
    return np.where(centred > 0, centred, raw)


def find_collinear(
    gram: FloatArray, scale: FloatArray, *, tol: float = COLLIN_TOL
) -> tuple[BoolArray, list[str]]:
    """Columns to keep, in order, dropping each column explained by FE and earlier columns.

    Parameters
    ----------
    gram : ndarray (k, k)
        ``X~' W X~`` of the regressors with fixed effects projected out.
    scale : ndarray (k,)
        :func:`column_scale` of the regressors before projection.

    Returns
    -------
    keep : ndarray of bool (k,)
    reasons : list of str
        For each dropped column, ``"fixed effects"`` or ``"other regressors"``.
    """
    k = gram.shape[0]
    keep = np.zeros(k, dtype=bool)
    reasons: list[str] = []
    if k == 0:
        return keep, reasons
    d = np.diag(gram).copy()
    fe_ok = d > tol * scale
    s = np.sqrt(np.where(d > 0, d, 1.0))
    R = gram / np.outer(s, s)
    L = np.zeros((0, 0))
    kept: list[int] = []
    for j in range(k):
        if not fe_ok[j]:
            reasons.append("fixed effects")
            continue
        if kept:
            lj = sla.solve_triangular(L, R[kept, j], lower=True, check_finite=False)
            r = R[j, j] - lj @ lj
        else:
            lj = np.zeros(0)
            r = R[j, j]
        if r <= tol:
            reasons.append("other regressors")
            continue
        n = len(kept)
        L2 = np.zeros((n + 1, n + 1))
        L2[:n, :n] = L
        L2[n, :n] = lj
        L2[n, n] = np.sqrt(r)
        L = L2
        kept.append(j)
        keep[j] = True
    return keep, reasons


def describe_drops(names: Sequence[str], keep: BoolArray, reasons: Sequence[str]) -> str:
    """One sentence naming dropped columns and why."""
    dropped = [n for n, k in zip(names, keep, strict=True) if not k]
    return ", ".join(f"{n} (collinear with {r})" for n, r in zip(dropped, reasons, strict=True))
