"""Pure numerical pieces shared by the production-function estimators.

Polynomial bases of standardised inputs, a weighted least-squares projector that is
factorised once and applied to many right-hand sides, and weighted OLS.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray

__all__ = ["Projector", "input_terms", "poly_basis", "standardise", "term_names", "weighted_ols"]

#: Relative size of a pivot of the QR factor below which a column is taken as collinear.
RANK_TOL = 1e-10


def standardise(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Centre and scale the columns of ``x`` by their weighted mean and sd.

    Returns ``(z, mean, sd)``; a constant column keeps sd 1 so it maps to zeros.
    """
    sw = w / w.sum()
    mean = sw @ x
    sd = np.sqrt(sw @ (x - mean) ** 2)
    sd = np.where(sd > 0, sd, 1.0)
    return (x - mean) / sd, mean, sd


def poly_basis(x: FloatArray, degree: int) -> FloatArray:
    """Every monomial of the columns of ``x`` of total degree 1..``degree`` (no constant).

    With 3 columns and degree 3 this is the 19-term basis of the ACF/LP first stage.
    """
    n, p = x.shape
    cols = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(p), d):
            cols.append(np.prod(x[:, list(combo)], axis=1))
    return np.column_stack(cols) if cols else np.zeros((n, 0))


def input_terms(x: FloatArray, form: str) -> FloatArray:
    """Production-function regressors: the log inputs (Cobb-Douglas), or for the
    translog also every square and cross product ``x_j x_k`` (j <= k), in that order."""
    if form == "cobb_douglas":
        return x
    p = x.shape[1]
    extra = [x[:, j] * x[:, k] for j in range(p) for k in range(j, p)]
    return np.column_stack([x, *extra])


def term_names(names: tuple[str, ...], form: str) -> list[str]:
    """Names of :func:`input_terms`: ``l``, ``k``, ``l^2``, ``l:k``, ``k^2``."""
    out = list(names)
    if form == "translog":
        p = len(names)
        out += [
            f"{names[j]}^2" if j == k else f"{names[j]}:{names[k]}"
            for j in range(p)
            for k in range(j, p)
        ]
    return out


class Projector:
    """Weighted projection onto the column space of ``[1, C]``, factorised once.

    ``resid(v)`` returns ``sqrt(w) * v`` minus its projection, i.e. the residual of the
    weighted regression of ``v`` on ``[1, C]`` in the ``sqrt(w)``-scaled space. Collinear
    columns of ``C`` are dropped by a rank-revealing QR.
    """

    def __init__(self, c: FloatArray, w: FloatArray) -> None:
        self.sw = np.sqrt(w)
        a = self.sw[:, None] * np.column_stack([np.ones(len(w)), c])
        q, r, _ = sla.qr(a, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > RANK_TOL * max(float(diag[0]), 1e-300)).sum()) if len(diag) else 0
        self.q = q[:, :rank]

    def resid(self, v: FloatArray) -> FloatArray:
        """Scaled residual of ``v`` (vector or matrix) after projection on ``[1, C]``."""
        s = self.sw * v if v.ndim == 1 else self.sw[:, None] * v
        return self.resid_scaled(s)

    def resid_scaled(self, s: FloatArray) -> FloatArray:
        """Residual of an already ``sqrt(w)``-scaled ``s`` after the projection."""
        return s - self.q @ (self.q.T @ s)


def weighted_ols(x: FloatArray, y: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares with minimum-norm handling of collinear columns.

    Returns ``(coef, fitted)``.
    """
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(sw[:, None] * x, sw * y, rcond=None)
    return coef, x @ coef
