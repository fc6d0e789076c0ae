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
    control_gram_inverse,
    did_covariates_batch,
    did_panel,
    overlap_fails,
    propensity,
)

__all__ = ["block_gram", "estimate_cells", "gt_cells"]


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


def _check_design(
    Xc: np.ndarray, D: np.ndarray, w: np.ndarray, method: str, names
) -> np.ndarray | None:
    """The covariates' rank among the units the nuisance fits use: all of the comparison's
    units (propensity score), then its controls (outcome regression). Returns the
    controls' Gram ``X' diag(w (1 - D)) X`` (None for IPW, which has no regression)."""
    if method != "reg":
        check_covariates((Xc.T * w) @ Xc, names, "units")
    if method == "ipw":
        return None
    gram = (Xc.T * (w * (1 - D))) @ Xc
    check_covariates(gram, names, "controls")
    return gram


def _changes(
    Y: np.ndarray, parts: list[tuple[np.ndarray, dict | None]], pairs: list[tuple[int, int]]
) -> np.ndarray:
    """``Y[idx, t] - Y[idx, s]`` for each (t, s) pair, column-major (rows, pairs), the rows
    of ``parts`` (index arrays) stacked; each part's period columns are gathered once
    from the column-major ``Y``, or read from (and added to) the part's cache dict."""
    periods = sorted({p for pair in pairs for p in pair})
    out = np.empty((sum(len(idx) for idx, _ in parts), len(pairs)), order="F")
    start = 0
    for idx, cache in parts:
        cols = {} if cache is None else cache
        for p in periods:
            if p not in cols:
                cols[p] = Y[:, p][idx]
        stop = start + len(idx)
        for j, (t, s) in enumerate(pairs):
            np.subtract(cols[t], cols[s], out=out[start:stop, j])
        start = stop
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
    n_reference = 0
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            n_reference += 1
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
    # with never-treated controls and no gaps every group's controls are the same units:
    # inf' inf is then the controls' cross-product plus one block per cohort
    # (calibrated DR estimates cells one at a time, outside the groups: no blocks)
    shared = complete and control == "never" and method != "dr_improved"
    controls = np.zeros((len(never_idx), len(cells)), order="F") if shared else None
    treated: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    control_columns: dict = {}  # their outcome columns, gathered once
    for grp in groups.values():
        ti, ci = grp["ti"], grp["ci"]
        idx = np.concatenate([ti, ci])
        D = np.r_[np.ones(len(ti)), np.zeros(len(ci))]
        Xc = _design(wide.x, idx, grp["base"])
        wc = wide.weights[idx] / wide.weights[idx].mean()
        control_gram = _check_design(Xc, D, wc, method, names)
        ps = propensity(Xc, D, wc) if method != "reg" else None
        if ps is not None and overlap_fails(ps[0], D, wc):
            separated += [cells[c][:2] for c, _, _ in grp["cells"]]
        inv = None if control_gram is None else control_gram_inverse(control_gram / len(idx))
        cols = np.array([c for c, _, _ in grp["cells"]])
        parts = [(ti, None), (ci, control_columns)] if shared else [(idx, None)]
        DY = _changes(Y, parts, [(i, b) for _, i, b in grp["cells"]])
        att_g, inf_g = did_covariates_batch(DY, D, Xc, wc, method, ps=ps, xtx_inv=inv)
        att[cols] = att_g
        inf_g *= n / len(idx)
        for j, col in enumerate(cols):  # contiguous column writes (inf is column-major)
            inf[idx, col] = inf_g[:, j]
        if controls is not None:  # influence rows: the cohort's treated, then the controls
            controls[:, cols] = inf_g[len(ti) :]
            treated.setdefault(cells[cols[0]][0], []).append((cols, inf_g[: len(ti)]))
    gram = None
    if controls is not None:
        # every estimated cell (reference cells are 0, empty ones NaN) went through a group
        in_groups = sum(len(grp["cells"]) for grp in groups.values())
        if in_groups == int(np.count_nonzero(np.isfinite(att))) - n_reference:
            gram = block_gram(controls, treated)
    return att, inf, n_treat, n_ctrl, empty, separated, gram


def block_gram(
    controls: np.ndarray, treated: dict[float, list[tuple[np.ndarray, np.ndarray]]]
) -> np.ndarray:
    """``inf' inf`` of cells whose comparison units are the same for every cell (the
    never-treated of a complete panel): each cohort's treated units meet only that
    cohort's cells, so the cross-product is the controls' full one (``controls``: their
    influence rows, one column per cell) plus one small block per cohort (``treated``:
    per cohort, its cells' columns and their treated influence rows)."""
    out = controls.T @ controls
    for parts in treated.values():
        cols = np.concatenate([c for c, _ in parts])
        B = np.hstack([b for _, b in parts])
        out[np.ix_(cols, cols)] += B.T @ B
    return out
