"""Inference with few treated cells: Conley & Taber (2011), with Ferman & Pinto's (2019)
correction for cells of different sizes (pure functions on a cells x periods panel).

The estimate is the imputation estimator at the cell level (Borusyak, Jaravel & Spiess):
cell and period effects fitted on the untreated cell-periods, the treated cell-periods'
residuals averaged. It is linear in the errors: ``alpha_hat - alpha = sum_l w_l' eta_l``
plus terms that vanish as the number of control cells grows, where ``w_l`` puts
``1 / N_post`` on cell ``l``'s treated periods and ``-n_post_l / (N_post n_pre_l)`` on its
untreated ones. The control cells' residual paths estimate the distribution of
``eta``: applying treated cell ``l``'s weights to control ``k``'s path gives one draw of
its error term, and a draw of the whole error assigns distinct controls to the treated
cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from impact._typing import FloatArray

__all__ = [
    "CellImputation",
    "cell_imputation",
    "error_distribution",
    "ferman_pinto_scale",
]


@dataclass(frozen=True)
class CellImputation:
    """``estimate``; ``weights`` (treated cells x periods, rows sum to zero);
    ``control_paths`` (control cells x periods: outcome net of the period effects)."""

    estimate: float
    weights: FloatArray
    control_paths: FloatArray
    period_effects: FloatArray


def _period_effects(Y: FloatArray, U: FloatArray) -> FloatArray:
    """Period effects (the first one zero) of the two-way fit of ``Y`` on the cell-periods
    where ``U`` is 1: the cell effects are profiled out, leaving a periods x periods system
    (exact; the cells may be many)."""
    n_c = U.sum(axis=1)
    n_t = U.sum(axis=0)
    Yu = np.where(U > 0, Y, 0.0)
    A = np.diag(n_t) - (U / n_c[:, None]).T @ U
    b = Yu.sum(axis=0) - (U / n_c[:, None]).T @ Yu.sum(axis=1)
    gamma = np.zeros(Y.shape[1])
    gamma[1:] = np.linalg.solve(A[1:, 1:], b[1:])
    return gamma


def cell_imputation(Y: FloatArray, first_post: np.ndarray) -> CellImputation:
    """Imputation estimate on a balanced cells x periods panel ``Y``.

    ``first_post[c]`` is the index of cell ``c``'s first treated period (-1: control).
    Every treated cell needs an untreated and a treated period.
    """
    C, T = Y.shape
    treated = first_post >= 0
    untreated = np.ones((C, T), dtype=bool)
    for c in np.flatnonzero(treated):
        untreated[c, first_post[c] :] = False
    gamma = _period_effects(Y, untreated.astype(float))
    n_post = np.where(treated, T - first_post, 0)
    N_post = float(n_post.sum())
    rows = np.flatnonzero(treated)
    W = np.zeros((len(rows), T))
    for i, c in enumerate(rows):
        L = first_post[c]
        W[i, L:] = 1.0 / N_post
        W[i, :L] = -n_post[c] / (N_post * L)
    net = Y - gamma[None, :]
    estimate = float(np.sum(W * net[rows]))
    return CellImputation(estimate, W, net[~treated], gamma)


def ferman_pinto_scale(D: FloatArray, size_treated: FloatArray, size_control: FloatArray):
    """Rescale each treated cell's draws ``D[l, k]`` from control ``k`` to the variance of
    a cell of the treated cell's size: ``var = a + b / size`` fitted to ``D[l, k]^2`` by
    non-negative least squares over the controls (Ferman & Pinto 2019: cell means of
    ``size`` firms with a common cell shock). Where the fit gives no positive variance
    the draws are kept as they are."""
    out = D.copy()
    Z = np.column_stack([np.ones_like(size_control), 1.0 / size_control])
    for i in range(D.shape[0]):
        (a, b), _ = nnls(Z, D[i] ** 2)
        v_control = a + b / size_control
        v_treated = a + b / size_treated[i]
        if v_treated > 0 and np.all(v_control > 0):
            out[i] = D[i] * np.sqrt(v_treated / v_control)
    return out


def error_distribution(D: FloatArray, assignments: np.ndarray) -> FloatArray:
    """``sum_l D[l, k_l]`` for each assignment (rows of ``assignments``: the control
    given to each treated cell)."""
    rows = np.arange(D.shape[0])[None, :]
    return D[rows, assignments].sum(axis=1)


def injective_assignments(
    n_treated: int, n_control: int, draws: int, rng: np.random.Generator, max_enumeration: int
) -> tuple[np.ndarray, bool]:
    """All ordered choices of distinct controls for the treated cells when there are at
    most ``max_enumeration``; otherwise ``draws`` random ones."""
    count = 1
    for i in range(n_treated):
        count *= n_control - i
    if count <= max_enumeration:
        from itertools import permutations

        return np.array(list(permutations(range(n_control), n_treated)), dtype=np.intp), True
    keys = rng.random((draws, n_control))
    return np.argsort(keys, axis=1)[:, :n_treated].astype(np.intp), False
