"""Unconditional ATT(g,t) with never-treated comparisons on complete data, from period
means: every cell is a difference of two weighted mean changes, so the treated cohort's
and the comparison group's period means are computed once (not once per cell), and each
cell's influence function is read from the centred outcomes (Callaway & Sant'Anna 2021,
the unconditional case of their Theorem 2; the same numbers as the cell-by-cell loop of
:func:`impact.estimators.att_gt_cells.estimate_cells`, tested equal to 1e-12).

Each cell's influence function is, within the cohort and within the comparison group, a
unit's centred outcome change scaled by its weight, so the cells' cross-products
``inf' inf`` are ``D' M D`` with ``M`` the groups' weighted period-by-period second
moments and ``D`` the cells' period differences: T x T moments per group instead of an
n x cells product (SCALE.md §2.2's sufficient statistics).
"""

from __future__ import annotations

import numpy as np

__all__ = ["cells_from_means"]


def _centred(Y: np.ndarray, idx: np.ndarray, w: np.ndarray) -> tuple:
    """Outcomes of units ``idx`` centred at their weighted period means, the means, and
    the weight total."""
    wi = w[idx]
    total = wi.sum()
    Yi = np.asfortranarray(Y[idx])
    means = (wi @ Yi) / total
    return Yi - means, means, wi, total


def cells_from_means(
    Y: np.ndarray,
    cohort: np.ndarray,
    never_idx: np.ndarray,
    w: np.ndarray,
    cells: list,
    tindex: dict,
    min_cell_units: int,
) -> tuple:
    """ATT, unit influence functions (n x cells, scaled to the full sample), treated and
    comparison counts and the cells left empty, for the unconditional estimator with
    never-treated comparisons when ``Y`` (units x periods) has no missing value.

    Parameters
    ----------
    Y : ndarray (n, T)
    cohort : ndarray (n,)
        Each unit's cohort (NaN never-treated).
    never_idx : ndarray
        The comparison units (never-treated in the control pool).
    w : ndarray (n,)
        Unit weights normalised to mean one.
    cells : list of (g, t, base)
    tindex : dict
        Period -> column of ``Y``.
    min_cell_units : int

    Returns
    -------
    att, inf, n_treat, n_ctrl, empty
        As :func:`impact.estimators.att_gt_cells.estimate_cells`.
    gram : ndarray (cells, cells)
        ``inf' inf``, from the groups' second moments.
    """
    n = len(cohort)
    att = np.full(len(cells), np.nan)
    inf = np.zeros((n, len(cells)), order="F")
    n_treat = np.zeros(len(cells), dtype=int)
    n_ctrl = np.zeros(len(cells), dtype=int)
    empty: list = []
    Yc0, m0, w0, W0 = _centred(Y, never_idx, w)
    a0 = (-n / W0) * w0
    diff = np.zeros((Y.shape[1], len(cells)))  # each estimated cell's e_t - e_base
    groups: dict = {}
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            continue
        if g not in groups:
            ti = np.flatnonzero(cohort == g)
            groups[g] = (ti, *_centred(Y, ti, w))
        ti, Yc1, m1, w1, W1 = groups[g]
        n_treat[c], n_ctrl[c] = len(ti), len(never_idx)
        if n_treat[c] < min_cell_units or n_ctrl[c] < min_cell_units:
            empty.append((g, t))
            continue
        it, is_ = tindex[t], tindex[s]
        att[c] = (m1[it] - m1[is_]) - (m0[it] - m0[is_])
        col = inf[:, c]
        col[ti] = ((n / W1) * w1) * (Yc1[:, it] - Yc1[:, is_])
        col[never_idx] = a0 * (Yc0[:, it] - Yc0[:, is_])
        diff[it, c], diff[is_, c] = 1.0, -1.0
    gram = _moment_gram(Yc0, a0, diff)
    for g, (_ti, Yc1, _m1, w1, W1) in groups.items():
        in_g = np.flatnonzero(np.array([cell[0] == g for cell in cells]))
        gram[np.ix_(in_g, in_g)] += _moment_gram(Yc1, (n / W1) * w1, diff[:, in_g])
    return att, inf, n_treat, n_ctrl, empty, gram


def _moment_gram(Yc: np.ndarray, scale: np.ndarray, diff: np.ndarray) -> np.ndarray:
    """``sum_i (scale_i Yc_i' diff)' (scale_i Yc_i' diff)``: the cells' cross-products
    over one group from its scaled second moments (T x T).

    Each unit's outcomes are taken less their own mean first: the period differences
    ``diff`` do not see it, and without it the moments of the levels carry the units'
    heterogeneity, which cancels in ``D' M D`` only up to rounding (relative error eps
    times its variance over the changes' variance)."""
    Z = Yc - Yc.mean(axis=1, keepdims=True)
    S = Z * scale[:, None]
    return diff.T @ (S.T @ S) @ diff
