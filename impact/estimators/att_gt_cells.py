"""ATT(g,t) cell estimates and their unit influence functions (Callaway & Sant'Anna
2021), as pure functions on the unit x period arrays of :mod:`impact.design.wide`.

Nuisance fits (propensity scores, outcome regressions) are shared between cells that use
the same units and covariate values, which is where the speed comes from.
"""

from __future__ import annotations

import hashlib

import numpy as np

from impact.estimators.att_gt_means import cells_from_means
from impact.estimators.drdid import (
    check_covariates,
    did_covariates_batch,
    did_panel,
    outcome_gram_inverse,
    overlap_fails,
    propensity,
)

__all__ = ["estimate_cells", "gt_cells"]


def gt_cells(periods: np.ndarray, cohorts: np.ndarray, base_period: str, anticipation: int):
    """(g, t, base) triples in R did's order: cohorts, then periods."""
    out = []
    for g in cohorts:
        pre = periods[periods + anticipation < g]
        if not len(pre):
            continue
        universal = pre[-1]
        for i, t in enumerate(periods):
            if base_period == "universal":
                out.append((g, t, universal))
            else:
                if i == 0:
                    continue
                base = periods[i - 1] if t < g else universal
                out.append((g, t, base))
    return out


def _fingerprint(idx: np.ndarray) -> bytes:
    return hashlib.blake2b(idx.tobytes(), digest_size=16).digest()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b) or np.array_equal(a, b, equal_nan=True))


def _covariate_classes(x: np.ndarray) -> np.ndarray:
    """For every period, the first period whose covariate values are identical (so that
    time-invariant covariates give one class and their nuisance fits are shared)."""
    T = x.shape[1]
    cls = np.arange(T)
    for s in range(1, T):
        for r in range(s):
            if cls[r] == r and _same(x[:, s, :], x[:, r, :]):
                cls[s] = r
                break
    return cls


def _design(x: np.ndarray, idx: np.ndarray, base: int) -> np.ndarray:
    """Intercept and the base-period covariates of units ``idx``."""
    Xc = np.empty((len(idx), x.shape[2] + 1))
    Xc[:, 0] = 1.0
    Xc[:, 1:] = x[idx, base, :]
    return Xc


def _check_design(Xc: np.ndarray, D: np.ndarray, w: np.ndarray, method: str, names) -> None:
    """The covariates' rank among the units the nuisance fits use: all of the comparison's
    units (propensity score), then its controls (outcome regression)."""
    if method != "reg":
        check_covariates((Xc.T * w) @ Xc, names, "units")
    if method != "ipw":
        check_covariates((Xc.T * (w * (1 - D))) @ Xc, names, "controls")


def _changes(Y: np.ndarray, idx: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """``Y[idx, t] - Y[idx, s]`` for each (t, s) pair, column-major (len(idx), pairs); each
    period's column gathered once from the column-major ``Y``."""
    cols = {p: Y[:, p][idx] for p in sorted({p for pair in pairs for p in pair})}
    out = np.empty((len(idx), len(pairs)), order="F")
    for j, (t, s) in enumerate(pairs):
        np.subtract(cols[t], cols[s], out=out[:, j])
    return out


def estimate_cells(wide, cells, *, control, anticipation, method, min_cell_units, names=()):
    """ATT and unit influence functions (scaled to the full sample) of every cell, with
    ``inf' inf`` when the fast path has it from second moments (else None).

    Every cell touches only its treated and comparison units (index sets); with
    covariates, cells that share a comparison sample and base-period covariate values are
    estimated together with one propensity-score fit and one outcome-regression Gram.
    """
    g_all, never = wide.cohort, np.isnan(wide.cohort)
    n = len(g_all)
    Y = np.asfortranarray(wide.y)
    complete = not np.isnan(Y).any()
    tindex = {p: i for i, p in enumerate(wide.periods)}
    att = np.full(len(cells), np.nan)
    inf = np.zeros((n, len(cells)), order="F")
    n_treat = np.zeros(len(cells), dtype=int)
    n_ctrl = np.zeros(len(cells), dtype=int)
    empty: list = []
    separated: list = []  # cells whose propensity score leaves the controls no weight
    unconditional = wide.x.shape[2] == 0
    w = wide.weights / wide.weights.mean()
    cohort_idx = {g: np.flatnonzero(g_all == g) for g in np.unique(g_all[~never])}
    never_idx = np.flatnonzero(never & wide.pool)
    if unconditional and control == "never" and complete:
        att, inf, n_treat, n_ctrl, empty, gram = cells_from_means(
            Y, g_all, never_idx, w, cells, tindex, min_cell_units
        )
        return att, inf, n_treat, n_ctrl, empty, separated, gram
    groups: dict[tuple, dict] = {}
    x_class = _covariate_classes(wide.x)
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            continue
        it, is_ = tindex[t], tindex[s]
        ti = cohort_idx[g]
        if control == "never":
            ci = never_idx
        else:
            later = (never | (g_all > max(t, s) + anticipation)) & (g_all != g) & wide.pool
            ci = np.flatnonzero(later)
        if not complete:
            ti = ti[~np.isnan(Y[ti, it] - Y[ti, is_])]
            ci = ci[~np.isnan(Y[ci, it] - Y[ci, is_])]
        n_treat[c], n_ctrl[c] = len(ti), len(ci)
        if n_treat[c] < min_cell_units or n_ctrl[c] < min_cell_units:
            empty.append((g, t))
            continue
        if unconditional:
            # difference of weighted means; the influence function scaled by n / n_cell
            # reduces to n w (dy - mu) / W for each group (see drdid.did_means)
            dy1, dy0 = Y[ti, it] - Y[ti, is_], Y[ci, it] - Y[ci, is_]
            w1, w0 = w[ti], w[ci]
            W1, W0 = w1.sum(), w0.sum()
            mu1, mu0 = (w1 @ dy1) / W1, (w0 @ dy0) / W0
            att[c] = mu1 - mu0
            inf[ti, c] = (n / W1) * w1 * (dy1 - mu1)
            inf[ci, c] = (-n / W0) * w0 * (dy0 - mu0)
            continue
        if method == "dr_improved":  # calibrated propensity score, one cell at a time
            idx = np.concatenate([ti, ci])
            D = np.r_[np.ones(len(ti)), np.zeros(len(ci))]
            _check_design(_design(wide.x, idx, is_), D, wide.weights[idx], method, names)
            est = did_panel(
                Y[idx, it] - Y[idx, is_],
                np.r_[np.ones(len(ti)), np.zeros(len(ci))],
                _design(wide.x, idx, is_),
                wide.weights[idx],
                method,
            )
            att[c] = est.att
            inf[idx, c] = est.inf * (n / len(idx))
            continue
        # cells with the same comparison units and base-period covariates share their
        # nuisance fits: group them and estimate each group in one batch
        if complete and control == "never":
            key: tuple = (g, x_class[is_])
        else:
            key = (len(ti), x_class[is_], _fingerprint(np.concatenate([ti, ci])))
        grp = groups.setdefault(key, {"ti": ti, "ci": ci, "base": is_, "cells": []})
        grp["cells"].append((c, it, is_))
    for grp in groups.values():
        ti, ci = grp["ti"], grp["ci"]
        idx = np.concatenate([ti, ci])
        D = np.r_[np.ones(len(ti)), np.zeros(len(ci))]
        Xc = _design(wide.x, idx, grp["base"])
        wc = wide.weights[idx] / wide.weights[idx].mean()
        _check_design(Xc, D, wc, method, names)
        ps = propensity(Xc, D, wc) if method != "reg" else None
        if ps is not None and overlap_fails(ps[0], D, wc):
            separated += [cells[c][:2] for c, _, _ in grp["cells"]]
        inv = outcome_gram_inverse(Xc, D, wc) if method != "ipw" else None
        cols = np.array([c for c, _, _ in grp["cells"]])
        DY = _changes(Y, idx, [(i, b) for _, i, b in grp["cells"]])
        att_g, inf_g = did_covariates_batch(DY, D, Xc, wc, method, ps=ps, xtx_inv=inv)
        att[cols] = att_g
        scale = n / len(idx)
        for j, col in enumerate(cols):  # contiguous column writes (inf is column-major)
            inf[idx, col] = inf_g[:, j] * scale
    return att, inf, n_treat, n_ctrl, empty, separated, None
