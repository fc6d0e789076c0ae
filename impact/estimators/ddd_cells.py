"""Group-time triple differences DDD(g, t) of Ortiz-Villavicencio & Sant'Anna (2025) and
their unit influence functions, as pure functions on the unit x period arrays of
:mod:`impact.design.wide`.

A unit's enabling group ``S`` is its cohort (the period its group enabled the treatment)
and its partition ``Q`` says whether it is eligible. Inside the comparison of cohort
``g`` with one comparison cohort ``c`` the units fall into four subgroups: 4 = (g, Q=1),
the treated; 3 = (g, Q=0); 2 = (c, Q=1); 1 = (c, Q=0). The cell's DDD is

    DiD(4 vs 3) + DiD(4 vs 2) - DiD(4 vs 1),

each a two-group DiD of :func:`impact.estimators.drdid.did_covariates_batch` (regression, IPW or
doubly robust with its own propensity score and outcome regression). With not-yet-treated
comparisons every eligible comparison cohort gives one DDD, and the cell combines them
with the efficient (GMM) weights ``Omega^-1 1 / 1' Omega^-1 1``, ``Omega`` the
covariance of their influence functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray, IntArray
from impact.errors import CollinearityError
from impact.estimators.drdid import (
    check_covariates,
    did_covariates_batch,
    did_means,
    overlap_fails,
    propensity,
)

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
    separated: list  # (g, t) of cells where a propensity score leaves a subgroup no weight
    dropped: int  # comparison cohorts left out of their cell (a subgroup too small)
    singletons: list  # (g, t) of cells with a subgroup of one unit


def ddd_comparison(
    dy: FloatArray, sub: IntArray, X: FloatArray, w: FloatArray, method: str
) -> tuple[float, FloatArray, bool]:
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
    separated : bool
        A propensity score leaves its comparison subgroup (almost) no weight.
    """
    n = len(dy)
    att = 0.0
    inf = np.zeros(n)
    separated = False
    for k, sign in _PARTS:
        m = (sub == 4) | (sub == k)
        D = (sub[m] == 4).astype(float)
        wm = w[m] / w[m].mean()
        if X.shape[1] == 1:  # no covariates: the difference of weighted mean changes
            est = did_means(dy[m], D, wm)
            a, psi = est.att, est.inf
        else:
            with np.errstate(over="ignore"):  # separation is reported below, by cell
                ps = propensity(X[m], D, wm) if method != "reg" else None
            separated |= ps is not None and overlap_fails(ps[0], D, wm)
            a_, psi_ = did_covariates_batch(dy[m][:, None], D, X[m], wm, method, ps=ps)
            a, psi = float(a_[0]), psi_[:, 0]
        att += sign * a
        inf[m] += sign * (n / m.sum()) * psi
    return att, inf, separated


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
    if not (np.isfinite(a).all() and abs(a.sum()) > 0):
        # no variance to weigh by (e.g. outcomes constant before treatment): every
        # comparison estimates the cell without error, so they are averaged
        a = ones
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
    label=str,
) -> DDDCells:
    """DDD(g, t) and full-sample influence functions of every ``(g, t, base)`` cell.

    ``partition`` is the 0/1 eligibility of every unit of ``wide``. A comparison cohort
    with a subgroup of fewer than ``min_cell_units`` units (observed in both periods) is
    left out of its cell; a cell without any comparison is NaN (listed in ``empty``).
    ``covariates_at``: ``"base"`` takes the covariates in the cell's base period,
    ``"period"`` in its target period ``t``. ``label`` turns grid positions into the
    user's period labels (error messages).
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
    separated: list = []
    singletons: list = []
    dropped = 0
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
                dropped += 1
                continue
            Xc = _design(wide.x, idx, is_ if covariates_at == "base" else it)
            if Xc.shape[1] > 1:
                _check_pairs(Xc, sub, wide.weights[idx], method, names, (label(g), label(t)))
            a, psi, sep = ddd_comparison(
                Y[idx, it] - Y[idx, is_], sub, Xc, wide.weights[idx], method
            )
            if sep and (g, t) not in separated:
                separated.append((g, t))
            if min(np.count_nonzero(sub == j) for j in (1, 2, 3, 4)) == 1 and (
                (g, t) not in singletons
            ):
                singletons.append((g, t))
            estimates.append(a)
            psis.append((idx, psi * (n / len(idx))))
            used.append(ci)
        if not estimates:
            empty.append((g, t))
            dropped -= len(comparisons)  # counted as an empty cell, not as drops
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
    return DDDCells(att, inf, n_treat, n_ctrl, n_comp, empty, separated, dropped, singletons)


_PAIR_NAMES = {3: "ineligible units of the cohort", 2: "eligible comparison units",
               1: "ineligible comparison units"}  # fmt: skip


def _check_pairs(Xc, sub, w, method, names, cell) -> None:
    """The covariates' rank within each of the cell's three two-group comparisons."""
    for j in (3, 2, 1):
        m = (sub == 4) | (sub == j)
        ctrl = (sub[m] == j).astype(float)
        try:
            if method != "reg":
                check_covariates((Xc[m].T * w[m]) @ Xc[m], names, "units")
            if method != "ipw":
                check_covariates((Xc[m].T * (w[m] * ctrl)) @ Xc[m], names, "controls")
        except CollinearityError as exc:
            raise CollinearityError(
                f"{exc} In DDD cell (cohort {cell[0]}, period {cell[1]}): the eligible "
                "units of the cohort against the "
                f"{_PAIR_NAMES[j]}; a covariate constant within cohorts (e.g. a region-level "
                "one) cannot enter the comparison of eligible and ineligible units of one "
                "cohort."
            ) from None
