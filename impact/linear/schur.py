"""Exact projection on one large fixed effect plus small ones (SCALE.md §2.3a).

With a large dimension (firms) and small ones (years, industry x year), the small
dimensions' coefficients solve a small dense system built from per-firm sums (the
Schur complement of the firm block); the firm coefficients are then closed-form group
means. Exact on unbalanced panels, no iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from impact._typing import FloatArray
from impact.linear.fixed_effects import FixedEffects
from impact.linear.groupby import group_sums, group_weights

__all__ = ["SchurSolution", "schur_project"]


@dataclass(frozen=True)
class SchurSolution:
    """Fixed-effect coefficients that project ``V`` on the dummies, exactly.

    Attributes
    ----------
    big : int
        Index of the large dimension.
    coefs : tuple of ndarray
        Coefficients per dimension (in the order of ``fe``), each (n_levels, p).
        The first level of each small dimension is the reference (zero).
    """

    big: int
    coefs: tuple[FloatArray, ...]

    def fitted(self, fe: FixedEffects) -> FloatArray:
        """Sum of the fixed-effect coefficients for every row, (n, p)."""
        out = self.coefs[0][fe.codes[0]].copy()
        for q in range(1, fe.n_dims):
            out += self.coefs[q][fe.codes[q]]
        return out


def _solve_psd(A: FloatArray, B: FloatArray) -> FloatArray:
    try:
        c = sla.cho_factor(A, lower=True, check_finite=False)
        return sla.cho_solve(c, B, check_finite=False)
    except sla.LinAlgError:
        # disconnected design: A is singular beyond the dropped references
        vals, vecs = np.linalg.eigh(A)
        cut = vals.max() * 1e-12 * A.shape[0] if vals.size else 0.0
        inv = np.where(vals > cut, 1.0 / np.where(vals > cut, vals, 1.0), 0.0)
        return (vecs * inv) @ (vecs.T @ B)


def schur_project(
    V: FloatArray, fe: FixedEffects, weights: FloatArray | None, big: int
) -> SchurSolution:
    """Coefficients of the weighted projection of each column of ``V`` on all FE dummies.

    Parameters
    ----------
    V : ndarray (n, p)
    fe : FixedEffects
        Two or more dimensions.
    weights : ndarray (n,) or None
    big : int
        The dimension absorbed in closed form (the one with most levels).
    """
    small = [q for q in range(fe.n_dims) if q != big]
    bcodes, nb = fe.codes[big], fe.n_levels[big]
    wv = V if weights is None else V * weights[:, None]
    wb = group_weights(bcodes, nb, weights)
    Sb = group_sums(bcodes, nb, wv)
    offsets = np.cumsum([0] + [fe.n_levels[q] for q in small])
    L = int(offsets[-1])
    ws = np.concatenate([group_weights(fe.codes[q], fe.n_levels[q], weights) for q in small])
    DsV = np.vstack([group_sums(fe.codes[q], fe.n_levels[q], wv) for q in small])
    n = len(bcodes)
    w = np.ones(n) if weights is None else weights
    rows = np.concatenate([bcodes] * len(small))
    cols = np.concatenate([fe.codes[q] + offsets[i] for i, q in enumerate(small)])
    C = sp.csr_matrix((np.tile(w, len(small)), (rows, cols)), shape=(nb, L))
    CtWinv = (C.T @ sp.diags(1.0 / wb)).tocsr()
    A = np.diag(ws) - (CtWinv @ C).toarray()
    for i, q in enumerate(small):  # cross-tabulations between small dimensions
        for j in range(i + 1, len(small)):
            r = small[j]
            nq, nr = fe.n_levels[q], fe.n_levels[r]
            key = fe.codes[q].astype(np.int64) * nr + fe.codes[r]
            cross = group_weights(key, nq * nr, weights).reshape(nq, nr)
            A[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] += cross
            A[offsets[j] : offsets[j + 1], offsets[i] : offsets[i + 1]] += cross.T
    B = DsV - CtWinv @ Sb
    keep = np.ones(L, dtype=bool)
    keep[offsets[:-1]] = False  # first level of each small dimension is the reference
    b = np.zeros((L, V.shape[1]))
    if keep.any():
        b[keep] = _solve_psd(A[np.ix_(keep, keep)], B[keep])
    a = (Sb - C @ b) / wb[:, None]
    coefs: list[FloatArray] = [np.empty(0)] * fe.n_dims
    coefs[big] = a
    for i, q in enumerate(small):
        coefs[q] = b[offsets[i] : offsets[i + 1]]
    return SchurSolution(big=big, coefs=tuple(coefs))
