"""Group-time triple differences DDD(g, t) of Ortiz-Villavicencio & Sant'Anna (2025) and
their unit influence functions, as pure functions on the unit x period arrays of
:mod:`impact.design.wide`.

A unit's enabling group ``S`` is its cohort (the period its group enabled the treatment)
and its partition ``Q`` says whether it is eligible. Inside the comparison of cohort
``g`` with one comparison cohort ``c`` the units fall into four subgroups: 4 = (g, Q=1),
the treated; 3 = (g, Q=0); 2 = (c, Q=1); 1 = (c, Q=0). The cell's DDD is

    DiD(4 vs 3) + DiD(4 vs 2) - DiD(4 vs 1),

each a two-group DiD of :func:`impact.estimators.drdid.did_panel` (regression, IPW or
doubly robust with its own propensity score and outcome regression). With not-yet-treated
comparisons every eligible comparison cohort gives one DDD, and the cell combines them
with the efficient (GMM) weights ``Omega^-1 1 / 1' Omega^-1 1``, ``Omega`` the
covariance of their influence functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray, IntArray
from impact.estimators.drdid import check_covariates, did_panel

__all__ = ["DDDCells", "ddd_comparison", "estimate_ddd_cells", "gmm_combine"]

#: the subgroups compared with the treated (4) and the sign of their DiD in the DDD
_PARTS = ((3, 1.0), (2, 1.0), (1, -1.0))


@dataclass(frozen=True)
class DDDCells:
    """DDD(g, t) estimates of every cell and their influence functions (full sample)."""

    att: FloatArray  # (cells,)
    inf: FloatArray  # (n_units, cells), scaled to the full sample
    n_treated: IntArray  # (cells,) units of subgroup 4
    n_control: IntArray  # (cells,) every other unit the cell uses
    n_comparisons: IntArray  # (cells,) comparison cohorts combined (GMM when > 1)
    empty: list  # (g, t) of cells left NaN


def ddd_comparison(
    dy: FloatArray, sub: IntArray, X: FloatArray, w: FloatArray, method: str
) -> tuple[float, FloatArray]:
    """DDD of subgroup 4 against subgroups 3, 2 and 1 (one comparison cohort).

    Parameters
    ----------
    dy : ndarray (n,)
        Outcome change between the base and the target period.
    sub : ndarray (n,)
        Subgroup 1-4 of every unit (each present).
    X : ndarray (n, k)
        Intercept and covariates.
    w : ndarray (n,)
        Sampling weights.
    method : {"dr", "reg", "ipw"}

    Returns
    -------
    att : float
    inf : ndarray (n,)
        Influence function scaled to these ``n`` units: each two-group DiD's influence
        function (scaled to its own units) times ``n / n_pair``.
    """
    n = len(dy)
    att = 0.0
    inf = np.zeros(n)
    for k, sign in _PARTS:
        m = (sub == 4) | (sub == k)
        est = did_panel(dy[m], (sub[m] == 4).astype(float), X[m], w[m], method)
        att += sign * est.att
        inf[m] += sign * (n / m.sum()) * est.inf
    return att, inf


def gmm_combine(att: FloatArray, psi: FloatArray) -> tuple[float, FloatArray]:
    """Efficient combination of several estimates of one parameter.

    Parameters
    ----------
    att : ndarray (K,)
    psi : ndarray (n, K)
        Their influence functions, scaled to the same ``n`` units (zero for units an
        estimate does not use); their means are zero.

    Returns
    -------
    att : float
        ``w' att`` with ``w = Omega^-1 1 / (1' Omega^-1 1)``, ``Omega = psi' psi / n``.
    inf : ndarray (n,)
        ``psi w``: its variance ``w' Omega w / n = 1 / (n 1' Omega^-1 1)``.
    """
    omega = psi.T @ psi / psi.shape[0]
    ones = np.ones(len(att))
    try:
        a = np.linalg.solve(omega, ones)
    except np.linalg.LinAlgError:  # two comparisons with identical influence functions
        a = np.linalg.pinv(omega) @ ones
    w = a / a.sum()
    return float(w @ att), psi @ w


def _design(x: FloatArray, idx: IntArray, period: int) -> FloatArray:
    Xc = np.empty((len(idx), x.shape[2] + 1))
    Xc[:, 0] = 1.0
    Xc[:, 1:] = x[idx, period, :]
    return Xc


def estimate_ddd_cells(
    wide,
    partition: np.ndarray,
    cells: list,
    *,
    control: str,
    anticipation: int,
    method: str,
    min_cell_units: int,
    covariates_at: str = "base",
    names=(),
) -> DDDCells:
    """DDD(g, t) and full-sample influence functions of every ``(g, t, base)`` cell.

    ``partition`` is the 0/1 eligibility of every unit of ``wide``. A comparison cohort
    with a subgroup of fewer than ``min_cell_units`` units (observed in both periods) is
    left out of its cell; a cell without any comparison is NaN (listed in ``empty``).
    ``covariates_at``: ``"base"`` takes the covariates in the cell's base period,
    ``"period"`` in its target period ``t``.
    """
    g_all, never = wide.cohort, np.isnan(wide.cohort)
    n = len(g_all)
    Y = wide.y
    q = np.asarray(partition, dtype=bool)
    tindex = {p: i for i, p in enumerate(wide.periods)}
    k = len(cells)
    att = np.full(k, np.nan)
    inf = np.zeros((n, k), order="F")
    n_treat = np.zeros(k, dtype=int)
    n_ctrl = np.zeros(k, dtype=int)
    n_comp = np.zeros(k, dtype=int)
    empty: list = []
    cohorts = np.unique(g_all[~never])
    cohort_idx = {g: np.flatnonzero(g_all == g) for g in cohorts}
    never_idx = np.flatnonzero(never & wide.pool)
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            continue
        it, is_ = tindex[t], tindex[s]
        comparisons = [never_idx] if len(never_idx) else []
        if control == "notyet":
            later = [h for h in cohorts if h > max(t, s) + anticipation and h != g]
            comparisons += [cohort_idx[h][wide.pool[cohort_idx[h]]] for h in later]
        ti = cohort_idx[g]
        ti = ti[~np.isnan(Y[ti, it] - Y[ti, is_])]
        estimates, psis, used = [], [], []
        for ci in comparisons:
            ci = ci[~np.isnan(Y[ci, it] - Y[ci, is_])]
            idx = np.concatenate([ti, ci])
            sub = np.concatenate([np.where(q[ti], 4, 3), np.where(q[ci], 2, 1)])
            if min(np.count_nonzero(sub == j) for j in (1, 2, 3, 4)) < max(min_cell_units, 1):
                continue
            Xc = _design(wide.x, idx, is_ if covariates_at == "base" else it)
            if Xc.shape[1] > 1:
                for j in (1, 2, 3):
                    m = (sub == 4) | (sub == j)
                    ctrl = (sub[m] == j).astype(float)
                    wm = wide.weights[idx][m]
                    if method != "reg":
                        check_covariates((Xc[m].T * wm) @ Xc[m], names, "units")
                    if method != "ipw":
                        check_covariates((Xc[m].T * (wm * ctrl)) @ Xc[m], names, "controls")
            a, psi = ddd_comparison(Y[idx, it] - Y[idx, is_], sub, Xc, wide.weights[idx], method)
            estimates.append(a)
            psis.append((idx, psi * (n / len(idx))))
            used.append(ci)
        if not estimates:
            empty.append((g, t))
            continue
        n_treat[c] = int(q[ti].sum())
        n_ctrl[c] = len(ti) - n_treat[c] + sum(len(ci) for ci in used)
        n_comp[c] = len(estimates)
        if len(estimates) == 1:
            idx, psi = psis[0]
            att[c] = estimates[0]
            inf[idx, c] = psi
            continue
        cols = np.zeros((n, len(estimates)))
        for j, (idx, psi) in enumerate(psis):
            cols[idx, j] = psi
        att[c], inf[:, c] = gmm_combine(np.asarray(estimates), cols)
    return DDDCells(att, inf, n_treat, n_ctrl, n_comp, empty)
