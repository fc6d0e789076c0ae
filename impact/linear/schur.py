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
from impact.engine.kernels import group_sums, group_weights
from impact.linear.fixed_effects import FixedEffects

__all__ = ["SchurSolution", "schur_project", "schur_residual_gram", "solve_psd"]


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
    rank : int
        Identified fixed-effect coefficients (rank of the dummy matrix).
    residual : float
        Largest remaining group sum of the weighted residuals in a small dimension,
        relative to the size of the group sums of ``V``; ~1e-15 when the solve is exact.
    """

    big: int
    coefs: tuple[FloatArray, ...]
    rank: int
    residual: float

    def residuals(self, V: FloatArray, fe: FixedEffects) -> FloatArray:
        """``V`` less the sum of its fixed-effect coefficients on every row, (n, p),
        column-major (one subtraction per dimension into each output column)."""
        n, p = V.shape
        out = np.empty((n, p), order="F")
        for j in range(p):
            np.subtract(V[:, j], self.coefs[0][:, j][fe.codes[0]], out=out[:, j])
            for q in range(1, fe.n_dims):
                out[:, j] -= self.coefs[q][:, j][fe.codes[q]]
        return out


def _scale_columns(V: FloatArray, w: FloatArray) -> FloatArray:
    """``V * w[:, None]`` column by column into a column-major array."""
    out = np.empty(V.shape, order="F")
    for j in range(V.shape[1]):
        np.multiply(V[:, j], w, out=out[:, j])
    return out


def solve_psd(A: FloatArray, B: FloatArray) -> tuple[FloatArray, int]:
    """Solve ``A x = B`` for PSD ``A``; minimum-norm solution and the rank if singular."""
    try:
        c = sla.cho_factor(A, lower=True, check_finite=False)
        d = np.abs(np.diag(c[0]))
        if d.size and d.min() ** 2 <= 1e-10 * d.max() ** 2:
            raise sla.LinAlgError("numerically singular")  # e.g. one FE nested in another
        return sla.cho_solve(c, B, check_finite=False), A.shape[0]
    except sla.LinAlgError:
        # disconnected design: A is singular beyond the dropped references
        vals, vecs = np.linalg.eigh(A)
        cut = vals.max() * 1e-12 * A.shape[0] if vals.size else 0.0
        ok = vals > cut
        inv = np.where(ok, 1.0 / np.where(ok, vals, 1.0), 0.0)
        return (vecs * inv) @ (vecs.T @ B), int(ok.sum())


#: Build the firm-by-small-level weight table densely when it has at most this many cells
#: and at most ``DENSE_CROSSTAB_LEVELS`` small levels (dense products cost nb * L^2).
DENSE_CROSSTAB_CELLS = 20_000_000
DENSE_CROSSTAB_LEVELS = 64


def _dense(fe: FixedEffects, L: int) -> bool:
    """Whether the (large level x small level) tables are built densely."""
    return fe.n_levels[fe.largest] * L <= DENSE_CROSSTAB_CELLS and L <= DENSE_CROSSTAB_LEVELS


def _table(fe: FixedEffects, values: FloatArray | None, nb: int, L: int) -> FloatArray:
    """Sum of ``values`` (or row counts) in every (large level, small level) cell, (nb, L)."""
    keys = fe.crosstab_keys  # cached on ``fe``: the large dimension is its largest
    T = group_weights(keys[0], nb * L, values)
    for key in keys[1:]:
        T += group_weights(key, nb * L, values)
    return T.reshape(nb, L)


def _sparse_crosstab(
    fe: FixedEffects, weights: FloatArray | None, big: int, small: list[int], offsets: np.ndarray
) -> sp.csr_matrix:
    """Weight of every (large level, small level) pair, as a sparse matrix."""
    nb, L = fe.n_levels[big], int(offsets[-1])
    bcodes = fe.codes[big]
    w = np.ones(len(bcodes)) if weights is None else weights
    rows = np.concatenate([bcodes] * len(small))
    cols = np.concatenate([fe.codes[q] + offsets[i] for i, q in enumerate(small)])
    return sp.csr_matrix((np.tile(w, len(small)), (rows, cols)), shape=(nb, L))


def _scale_rows(C: sp.csr_matrix, s: FloatArray) -> sp.csr_matrix:
    """``diag(s) @ C`` for a CSR matrix, by scaling its stored values (no matrix product)."""
    out = C.copy()
    out.data *= np.repeat(s, np.diff(C.indptr))
    return out


def _sparse_cwc(C: sp.csr_matrix, wb: FloatArray, offsets: np.ndarray) -> FloatArray:
    """``C' diag(1/wb) C`` (dense, L x L) block by small dimension: a block with few levels
    is made dense (dense and sparse-times-dense products), so the sparse-times-sparse
    product runs only on pairs of many-level dimensions (its cost is the square of the
    non-zeros per row, which the many-level blocks keep small)."""
    Cs = _scale_rows(C, 1.0 / np.sqrt(wb))
    nb, L = C.shape
    parts = [Cs[:, int(offsets[i]) : int(offsets[i + 1])] for i in range(len(offsets) - 1)]
    small = [P.shape[1] <= DENSE_CROSSTAB_LEVELS and nb * P.shape[1] <= DENSE_CROSSTAB_CELLS
             for P in parts]  # fmt: skip
    dense = [P.toarray() if d else None for P, d in zip(parts, small, strict=True)]
    out = np.empty((L, L))
    for i, Pi in enumerate(parts):
        for j in range(i, len(parts)):
            Di, Dj = dense[i], dense[j]
            if Di is not None and Dj is not None:
                block = Di.T @ Dj
            elif Dj is not None:
                block = np.asarray(Pi.T @ Dj)
            elif Di is not None:
                block = np.asarray(parts[j].T @ Di).T
            else:
                block = (Pi.T.tocsr() @ parts[j]).toarray()
            ri = slice(int(offsets[i]), int(offsets[i + 1]))
            rj = slice(int(offsets[j]), int(offsets[j + 1]))
            out[ri, rj] = block
            out[rj, ri] = block.T
    return out


def _crosstab(
    fe: FixedEffects, weights: FloatArray | None, big: int, small: list[int], offsets: np.ndarray
) -> FloatArray | sp.csr_matrix:
    """Weight of every (large level, small level) pair: dense when small, else sparse."""
    L = int(offsets[-1])
    if _dense(fe, L):
        return _table(fe, weights, fe.n_levels[big], L)
    return _sparse_crosstab(fe, weights, big, small, offsets)


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
        The dimension absorbed in closed form: the one with most levels
        (``fe.largest``).
    """
    return _project(V, fe, weights, big)[0]


def schur_residual_gram(
    V: FloatArray, fe: FixedEffects, weights: FloatArray | None
) -> tuple[SchurSolution, FloatArray, float]:
    """The projection of :func:`schur_project` and the weighted Gram matrix of the
    residuals, ``R' W R = V' W V - V' W D theta``, from group sums: no residual is formed.

    The subtraction cancels digits when the fixed effects explain most of a column.
    Returns ``(solution, gram, loss)``; ``loss`` is the largest ratio of a column's
    ``V' W V`` diagonal to its residual one (inf if a residual diagonal is not
    positive): the Gram is accurate to about ``loss`` times machine precision.
    """
    sol, wv, Sb, DsV = _project(V, fe, weights, fe.largest)
    small = [q for q in range(fe.n_dims) if q != sol.big]
    b = np.vstack([sol.coefs[q] for q in small])
    raw = wv.T @ V
    gram = raw - Sb.T @ sol.coefs[sol.big] - DsV.T @ b
    gram = (gram + gram.T) / 2.0
    d_raw, d_res = np.diag(raw), np.diag(gram)
    if np.any(d_res <= 0):
        return sol, gram, float("inf")
    return sol, gram, float(np.max(d_raw / d_res))


def _project(
    V: FloatArray, fe: FixedEffects, weights: FloatArray | None, big: int
) -> tuple[SchurSolution, FloatArray, FloatArray, FloatArray]:
    """:func:`schur_project`, also returning ``W V`` and its group sums in the large and
    (stacked) small dimensions."""
    if big != fe.largest:
        raise ValueError(f"big must be the dimension with most levels ({fe.largest}), got {big}.")
    small = [q for q in range(fe.n_dims) if q != big]
    nb = fe.n_levels[big]
    offsets = np.cumsum([0] + [fe.n_levels[q] for q in small])
    L = int(offsets[-1])
    bcodes = fe.codes[big]
    wv = V if weights is None else _scale_columns(V, weights)
    Sb = group_sums(bcodes, nb, wv, fe.runs[big])
    DsV = np.vstack([group_sums(fe.codes[q], fe.n_levels[q], wv) for q in small])
    C = _crosstab(fe, weights, big, small, offsets)
    if sp.issparse(C):
        wb = group_weights(bcodes, nb, weights)
        ws = np.concatenate([group_weights(fe.codes[q], fe.n_levels[q], weights) for q in small])
    else:  # every row sits once in each small dimension's block of the table
        wb = C[:, : offsets[1]].sum(axis=1)
        ws = C.sum(axis=0)
    CtWinv = _scale_rows(C, 1.0 / wb).T if sp.issparse(C) else (C / wb[:, None]).T
    Mss = np.diag(ws)  # D_s' W D_s: diagonal blocks plus cross-tabulations of small dims
    for i, q in enumerate(small):
        for j in range(i + 1, len(small)):
            r = small[j]
            nq, nr = fe.n_levels[q], fe.n_levels[r]
            key = fe.codes[q].astype(np.int64) * nr + fe.codes[r]
            cross = group_weights(key, nq * nr, weights).reshape(nq, nr)
            Mss[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = cross
            Mss[offsets[j] : offsets[j + 1], offsets[i] : offsets[i + 1]] = cross.T
    A = Mss - (_sparse_cwc(C, wb, offsets) if sp.issparse(C) else CtWinv @ C)
    B = DsV - CtWinv @ Sb
    keep = np.ones(L, dtype=bool)
    keep[offsets[:-1]] = False  # first level of each small dimension is the reference
    b = np.zeros((L, V.shape[1]))
    rank_small = 0
    if keep.any():
        b[keep], rank_small = solve_psd(A[np.ix_(keep, keep)], B[keep])
    a = (Sb - C @ b) / wb[:, None]
    # group sums of the weighted residual in the small dimensions, computed from the
    # small tables (the large dimension's sums are zero by construction)
    Cta = C.T @ a
    resid = DsV - Cta - Mss @ b
    scale = np.maximum(np.abs(DsV).max(axis=0), np.abs(Cta).max(axis=0))
    rel = float(np.max(np.abs(resid).max(axis=0) / np.where(scale > 0, scale, 1.0)))
    coefs: list[FloatArray] = [np.empty(0)] * fe.n_dims
    coefs[big] = a
    for i, q in enumerate(small):
        coefs[q] = b[offsets[i] : offsets[i + 1]]
    sol = SchurSolution(big=big, coefs=tuple(coefs), rank=nb + rank_small, residual=rel)
    return sol, wv, Sb, DsV
