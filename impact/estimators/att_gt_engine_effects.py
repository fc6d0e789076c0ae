"""Cell estimates and influence-function expressions of the engine ``att_gt`` with
covariates once the nuisance fits are known: outcome regression, and IPW and doubly
robust (:func:`impact.estimators.drdid.did_covariates_batch`, with weights normalised to
mean 1 in each group and the result scaled to the full sample)."""

from __future__ import annotations

import numpy as np

from impact.estimators.att_gt_engine_terms import (
    WEIGHT,
    Group,
    change,
    dot,
    pairs,
    product,
    symmetric,
    vector,
)
from impact.linear.engine_fit import literal as _lit

__all__ = ["dr_cells", "reg_cells", "weighted_sums"]


def _wc(grp: Group) -> str:
    """The reweighted controls' weight ``w ps / (1 - ps)`` (zero once trimmed)."""
    return f"{WEIGHT} * ({grp.m} - {grp.d}) * (1 - {grp.trim}) * {grp.ps} / (1 - {grp.ps})"


def _resid(c: int, grp: Group, beta: dict, where: dict) -> str:
    dy = change(where[c])
    return f"({dy} - {dot(grp.xs, beta[c])})" if c in beta else dy


def weighted_sums(groups: list, beta: dict, where: dict) -> dict[str, str]:
    """Pass three (IPW, DR): the treated and reweighted controls' sums per group, the
    propensity Hessian at the capped scores, and each cell's residual sums."""
    sums: dict[str, str] = {}
    for grp in groups:
        i, xs = grp.index, grp.xs
        wt, wc = product(WEIGHT, grp.d), _wc(grp)
        sums |= {f"wt{i}": wt, f"wc{i}": wc}
        sums |= {f"wtx{i}_{a}": product(wt, x) for a, x in enumerate(xs)}
        sums |= {f"wcx{i}_{a}": product(wc, x) for a, x in enumerate(xs)}
        pq = f"{grp.ps} * (1 - {grp.ps})"
        sums |= {f"H{i}_{a}_{b}": product(WEIGHT, grp.m, pq, xs[a], xs[b]) for a, b in pairs(xs)}
        for c in grp.cells:
            r = _resid(c, grp, beta, where)
            sums |= {f"rt{c}": product(wt, r), f"rc{c}": product(wc, r)}
            sums |= {f"rcx{c}_{a}": product(wc, r, x) for a, x in enumerate(xs)}
    return sums


def dr_cells(out, grp, row, sz, beta, inv, where, N) -> None:
    """IPW and DR: ATT and influence-function expression of the group's cells
    (:func:`impact.estimators.drdid.did_covariates_batch`, with weights normalised to
    mean 1 in the group and the result scaled to the full sample)."""
    i, k, n = grp.index, len(grp.xs), sz["n"]
    mw = sz["wm"] / n
    Wt, Wc = float(row[f"wt{i}"]) / mw / n, float(row[f"wc{i}"]) / mw / n
    m_t, m_c = vector(row, f"wtx{i}", k) / mw / n, vector(row, f"wcx{i}", k) / mw / n
    minv = np.linalg.inv(symmetric(row, f"H{i}", k) / mw) * n
    sx = vector(row, f"wcx{i}", k) / mw
    for c in grp.cells:
        eta_t = float(row[f"rt{c}"]) / mw / n / Wt
        eta_c = float(row[f"rc{c}"]) / mw / n / Wc
        u = minv @ ((vector(row, f"rcx{c}", k) / mw - sx * eta_c) / n)
        out.att[c] = eta_t - eta_c
        r = _resid(c, grp, beta, where)
        terms = [
            product(WEIGHT, grp.d, f"({r} - {_lit(eta_t)})", _lit(1 / Wt)),
            product(f"-{_lit(1 / Wc)}", _wc(grp), f"({r} - {_lit(eta_c)})"),
            product(f"-{_lit(1 / Wc)}", WEIGHT, f"({grp.d} - {grp.m} * {grp.ps})", dot(grp.xs, u)),
        ]
        if inv is not None:  # DR: the outcome regression's estimation effect
            alpha = inv @ (m_c / Wc - m_t / Wt)
            terms.append(product(WEIGHT, f"({grp.m} - {grp.d})", r, dot(grp.xs, alpha)))
        out.psi[c] = product(_lit(N / (n * mw)), "(" + " + ".join(terms) + ")")


def reg_cells(out, grp, row, sz, beta, inv, where, N) -> None:
    """Outcome regression: ATT and influence-function expression of the group's cells."""
    i, k, n = grp.index, len(grp.xs), sz["n"]
    mw = sz["wm"] / n
    Wt = sz["wd"] / mw / n
    m_t = vector(row, f"tx{i}", k) / mw / n
    gam = inv @ m_t
    for c in grp.cells:
        eta_t = float(row[f"ty{c}"]) / mw / n / Wt
        eta_c = float(m_t @ beta[c]) / Wt
        out.att[c] = eta_t - eta_c
        dy, fit = change(where[c]), dot(grp.xs, beta[c])
        terms = [
            product(WEIGHT, grp.d, f"({dy} - {fit} - {_lit(eta_t - eta_c)})"),
            product("-1", WEIGHT, f"({grp.m} - {grp.d})", f"({dy} - {fit})", dot(grp.xs, gam)),
        ]
        out.psi[c] = product(_lit(N / (n * mw * Wt)), "(" + " + ".join(terms) + ")")
