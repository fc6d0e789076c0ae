"""ETWFE cell effects and their aggregations by the delta method, as pure functions.

For the linear family a cell's effect is its coefficient. For Poisson it is the average
partial effect on the cell's treated observations, ``mean(exp(eta) - exp(eta - tau))``,
and the proportional effect ``sum E[Y(1)] / sum E[Y(0)] - 1``; their variances follow
from the coefficient covariance by the delta method (Wooldridge 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.grid import PeriodGrid
from impact.errors import InvalidOptionError
from impact.inference.intervals import interval

__all__ = [
    "AGGREGATIONS",
    "CellEffects",
    "aggregate_effects",
    "cell_effects",
    "event_time_effects",
    "event_time_weights",
    "ratio_effects",
]

AGGREGATIONS = ("simple", "group", "calendar", "dynamic")


@dataclass(frozen=True)
class CellEffects:
    """Per cell: the level effect, its gradient, and the Poisson sums (NaN for linear).

    Attributes
    ----------
    att : ndarray (cells,)
    n : ndarray of int (cells,)
        Observations of each cell.
    grad : ndarray (cells, k)
        Gradient of each level effect in the coefficients.
    s1, s0 : ndarray (cells,)
        Sums of fitted treated and untreated means.
    g1, g0 : ndarray (cells, k)
        Their gradients.
    """

    att: FloatArray
    n: np.ndarray
    grad: FloatArray
    s1: FloatArray
    s0: FloatArray
    g1: FloatArray
    g0: FloatArray


def cell_effects(
    family: str,
    cells: list[tuple[float, int]],
    X: FloatArray,
    names: list[str],
    beta: FloatArray,
    cohort: FloatArray,
    period: np.ndarray,
    grid: PeriodGrid,
    counts: np.ndarray | None = None,
) -> CellEffects:
    """Level effects of each treated cell (``cells``: grid positions) and their gradients.

    ``X``, ``cohort`` and ``period`` have one row per observation, or one per group of
    observations with equal regressors and ``counts`` observations each.
    """
    pos = {n: j for j, n in enumerate(names)}
    m, k = len(cells), len(names)
    w_all = np.ones(len(period)) if counts is None else np.asarray(counts, dtype=float)
    att, n_c = np.empty(m), np.empty(m, dtype=int)
    grad = np.zeros((m, k))
    s1, s0 = np.full(m, np.nan), np.full(m, np.nan)
    g1, g0 = np.zeros((m, k)), np.zeros((m, k))
    eta = X @ beta
    for c, (cg, ct) in enumerate(cells):
        j = pos[f"cell::{grid.label(cg)}:{grid.label(ct)}"]
        rows = (cohort == cg) & (period == ct)
        w = w_all[rows]
        n_c[c] = round(float(w.sum()))
        if family == "linear":
            att[c] = beta[j]
            grad[c, j] = 1.0
            continue
        Xc = X[rows]
        mu1 = np.exp(eta[rows])
        # from eta - tau, not mu1 * exp(-tau): at a boundary cell (outcomes all zero,
        # tau far below zero) mu1 underflows to 0 and exp(-tau) overflows (0 * inf = NaN)
        mu0 = np.exp(eta[rows] - beta[j])
        att[c] = float(w @ (mu1 - mu0)) / n_c[c]
        grad[c] = Xc.T @ (w * (mu1 - mu0)) / n_c[c]
        grad[c, j] = float(w @ mu1) / n_c[c]  # d/dtau of exp(eta) - exp(eta - tau)
        s1[c], s0[c] = float(w @ mu1), float(w @ mu0)
        g1[c] = Xc.T @ (w * mu1)
        g0[c] = Xc.T @ (w * mu0)
        g0[c, j] = 0.0  # the untreated mean does not depend on its cell's tau
    return CellEffects(att, n_c, grad, s1, s0, g1, g0)


def ratio_effects(e: CellEffects, vcov: FloatArray, W: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``sum_c W s1 / sum_c W s0 - 1`` per row of W (0/1 selections), delta method."""
    if np.all(np.isnan(e.s1)):
        nan = np.full(W.shape[0], np.nan)
        return nan, nan
    A, B = W @ e.s1, W @ e.s0
    dA, dB = W @ e.g1, W @ e.g0
    G = (dA * B[:, None] - A[:, None] * dB) / (B**2)[:, None]
    V = G @ vcov @ G.T
    return A / B - 1, np.sqrt(np.clip(np.diag(V), 0, None))


def aggregate_effects(
    e: CellEffects,
    vcov: FloatArray,
    table: pd.DataFrame,
    kind: str,
    alpha: float,
    min_e: int | None = None,
    max_e: int | None = None,
) -> pd.DataFrame:
    """Post-treatment cells (t >= g; every cell in the window for ``"dynamic"``) averaged
    by observation counts: one overall effect, or by cohort, period or event time.

    Returns
    -------
    DataFrame
        ``key`` (cohort / period / event time; "ATT" for simple), ``estimate``,
        ``std_error``, ``conf_low``, ``conf_high`` in levels, ``ratio``, ``ratio_se``.
    """
    if kind not in AGGREGATIONS:
        raise InvalidOptionError(
            f"type must be 'simple', 'group', 'calendar' or 'dynamic', got {kind!r}."
        )
    rel = table["rel_time"].to_numpy()
    use = rel >= 0 if kind != "dynamic" else np.ones(len(table), dtype=bool)
    if kind == "dynamic":
        lo = min_e if min_e is not None else rel.min()
        hi = max_e if max_e is not None else rel.max()
        use &= (rel >= lo) & (rel <= hi)
    col = {"simple": None, "group": "cohort", "calendar": "period", "dynamic": "rel_time"}[kind]
    keys: list = ["ATT"] if col is None else sorted(table.loc[use, col].unique().tolist())
    sel = np.zeros((len(keys), len(table)))
    for i, key in enumerate(keys):
        sel[i, use if col is None else use & (table[col] == key).to_numpy()] = 1.0
    W = sel * e.n.astype(float)
    W = W / W.sum(axis=1, keepdims=True)
    est = W @ e.att
    G = W @ e.grad
    se = np.sqrt(np.clip(np.diag(G @ vcov @ G.T), 0, None))
    low, high = interval(est, se, alpha)
    ratio, ratio_se = ratio_effects(e, vcov, sel)
    return pd.DataFrame(
        {"key": keys, "estimate": est, "std_error": se, "conf_low": low, "conf_high": high,
         "ratio": ratio, "ratio_se": ratio_se}
    )  # fmt: skip


def event_time_weights(
    e: CellEffects, rel: np.ndarray, min_e: int | None, max_e: int | None
) -> tuple[np.ndarray, FloatArray]:
    """Event times in ``[min_e, max_e]`` and the weights (one row each) that average the
    cells at that event time by their observations."""
    lo = rel.min() if min_e is None else min_e
    hi = rel.max() if max_e is None else max_e
    keys = np.unique(rel[(rel >= lo) & (rel <= hi)])
    n = e.n.astype(float)
    W = np.array([np.where(rel == k, n, 0.0) for k in keys]).reshape(len(keys), len(rel))
    return keys, W / W.sum(axis=1, keepdims=True)


def event_time_effects(
    e: CellEffects, vcov: FloatArray, rel: np.ndarray, min_e: int | None, max_e: int | None
) -> tuple[np.ndarray, FloatArray, FloatArray]:
    """Event times, level effects (cells weighted by observations) and their covariance."""
    keys, W = event_time_weights(e, rel, min_e, max_e)
    G = W @ e.grad
    return keys, W @ e.att, G @ vcov @ G.T
