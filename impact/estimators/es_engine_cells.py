"""The cell event studies (binned TWFE and Sun & Abraham's saturated regression) from
sums over unit types in a query engine.

Both regressions have regressors that are constant within a (cohort, period) cell, so
with unit effects absorbed they are solved from the unit-partialled cell system of
:mod:`impact.estimators.saturated`: observations per cell, the cells' outcome sums less
the units' means, and ``A' D^-1 A`` (``A`` the unit-by-cell incidence). Units of one type
(cohort, periods observed) have the same row of ``A``, so all three are sums over types of
the types' outcome sums (:func:`impact.estimators.engine_types.type_moments`). A unit's
residual path is ``e_i = Pi y_i + h_k`` with ``Pi`` its within-unit demeaning and ``h_k``
fixed by its type, so the clusters' cross-products of the cell sums of residuals come
from the types' second moments (unit clusters) or the (cluster, type) first moments.
The sample rules, the two-way singleton drop and the typed errors are the in-memory
cell paths' (:mod:`impact.estimators.es_cells`), run over the types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.engine_panel import NEVER, EnginePanel
from impact.design.event_times import require_comparison, require_reference
from impact.errors import EmptySampleError, ImpactError
from impact.estimators.engine_types import TypeMoments
from impact.estimators.es_cells import (
    DESIGN_DROP,
    SINGLETON_DROP,
    sun_abraham_effects,
    twfe_parameters,
)
from impact.estimators.saturated import CellSystem, solve_restricted, solve_saturated
from impact.inference.clusters import check_cluster_count

__all__ = ["TypeSample", "sun_abraham_types", "twfe_types", "two_way_core"]


@dataclass(frozen=True)
class TypeSample:
    """The rows of type moments with the period slots each keeps.

    ``seen`` (rows, T) marks the slots in the sample (a row whose units all left has
    none); ``cohort`` is the grid position (NaN: control); ``pos`` the slots' grid
    positions.
    """

    tm: TypeMoments
    seen: np.ndarray
    cohort: FloatArray
    pos: np.ndarray
    log: SampleLog


def two_way_core(count: FloatArray, seen: np.ndarray) -> np.ndarray:
    """The slots left after iterated removal of units observed once and periods observed
    once (fixest's singleton rule; the result does not depend on the order)."""
    seen = seen.copy()
    while True:
        single_unit = seen.sum(axis=1) == 1
        per_period = (count[:, None] * seen).sum(axis=0)
        single_period = per_period == 1
        if not single_unit.any() and not single_period.any():
            return seen
        seen[single_unit] = False
        seen[:, single_period] = False


def _rows_lost(count: FloatArray, before: np.ndarray, after: np.ndarray) -> int:
    return round(float(count @ (before & ~after).sum(axis=1)))


def _singletons(ts: TypeSample) -> TypeSample:
    seen = two_way_core(ts.tm.count, ts.seen)
    log = ts.log.with_drop("singletons", SINGLETON_DROP, _rows_lost(ts.tm.count, ts.seen, seen))
    return TypeSample(ts.tm, seen, ts.cohort, ts.pos, log)


def _start(panel: EnginePanel, tm: TypeMoments) -> TypeSample:
    g = np.where(tm.g == NEVER, np.nan, tm.g)
    return TypeSample(tm, tm.seen.copy(), g, panel.slots.astype(float), panel.log)


def _entries(ts: TypeSample, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cohort and slot position of every kept (row, slot) entry of ``rows``."""
    r, j = np.nonzero(ts.seen & rows[:, None])
    return ts.cohort[r], ts.pos[j]


def _system(ts: TypeSample, cell: np.ndarray, K: int, clustered: bool) -> CellSystem:
    """The :class:`CellSystem` of the kept slots; ``cell`` (rows, T) codes each slot."""
    tm, seen = ts.tm, ts.seen
    live = seen.any(axis=1)
    cnt = tm.count
    T_r = np.maximum(seen.sum(axis=1), 1)
    ysum = tm.ysum() * seen
    r, j = np.nonzero(seen)
    k = cell[r, j]
    n_cell = np.bincount(k, weights=cnt[r], minlength=K)
    cell_y = np.bincount(k, weights=ysum[r, j], minlength=K)
    ybar_r = ysum.sum(axis=1) / T_r  # per row: the sum of its units' means
    b = cell_y - np.bincount(k, weights=ybar_r[r], minlength=K)
    # A' D^-1 A: collapse rows that share cohort and slots (clusters split types)
    key = np.column_stack([np.nan_to_num(ts.cohort, nan=-1.0), seen])[live]
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    w_u = np.bincount(inv.ravel(), weights=(cnt / T_r)[live], minlength=len(uniq))
    cells_u = np.where(uniq[:, 1:] > 0, cell[live][_first(inv.ravel(), len(uniq))], -1)
    AtDA = np.zeros((K, K))
    for a in range(cells_u.shape[1]):
        for c in range(cells_u.shape[1]):
            both = (cells_u[:, a] >= 0) & (cells_u[:, c] >= 0)
            np.add.at(AtDA, (cells_u[both, a], cells_u[both, c]), w_u[both])
    n_periods = int(seen[live].any(axis=0).sum())
    n_units = round(float(cnt[live].sum()))
    if clustered:
        assert tm.cluster is not None
        G = len(np.unique(tm.cluster[live]))
        per_period = [np.unique(tm.cluster[seen[:, a]]) for a in range(seen.shape[1])]
        nested_t = all(len(c) <= 1 for c in per_period)
    else:
        G, nested_t = n_units, False  # singletons dropped: every period has two units
    check_cluster_count(G, "cluster", "event_study")

    def meat(m: FloatArray) -> FloatArray:
        return _meat(ts, cell, K, m)

    return CellSystem(
        n_cell=n_cell,
        b=b,
        AtDA=AtDA,
        meat=meat,
        n_obs=round(float(cnt @ seen.sum(axis=1))),
        n_units=n_units,
        n_periods=n_periods,
        n_clusters=G,
        nested_t=nested_t,
    )


def _first(inverse: np.ndarray, n: int) -> np.ndarray:
    first = np.full(n, -1)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return first


def _meat(ts: TypeSample, cell: np.ndarray, K: int, m: FloatArray) -> FloatArray:
    """Clusters' cross-products of the cell sums of residuals at cell effects ``m``."""
    tm, seen = ts.tm, ts.seen
    s = seen.astype(float)
    T_r = np.maximum(seen.sum(axis=1), 1)
    mc = np.where(seen, m[np.where(seen, cell, 0)], 0.0)  # each slot's cell effect
    # e_i = Pi (y_c + period means) - (m_cell - mean of m_cell): per row h and Pi
    pm = s * tm.shift
    h = pm - s * (pm.sum(axis=1) / T_r)[:, None] - (mc - s * (mc.sum(axis=1) / T_r)[:, None])

    def demean(v: FloatArray) -> FloatArray:  # Pi v, v (rows, T)
        v = v * s
        return v - s * (v.sum(axis=1) / T_r)[:, None]

    r, j = np.nonzero(seen)
    if tm.m2 is None:  # clustered: sums of residuals by (cluster, cell)
        assert tm.cluster is not None
        z = demean(tm.f1) + tm.f0[:, None] * h
        G = int(tm.cluster.max()) + 1
        Z = sp.csr_matrix((z[r, j], (tm.cluster[r], cell[r, j])), shape=(G, K))
        return (Z.T @ Z).toarray()
    assert tm.m1 is not None and tm.m0 is not None
    # sum over the row's units of e e' = Pi M2 Pi + Pi m1 h' + h m1' Pi + n h h'
    M = tm.m2 * (s[:, :, None] * s[:, None, :])
    a = M.sum(axis=2) / T_r[:, None]
    tot = a.sum(axis=1) / T_r
    PMP = M - a[:, :, None] - a[:, None, :] + tot[:, None, None]
    PMP *= s[:, :, None] * s[:, None, :]
    p1 = demean(tm.m1)
    E = (
        PMP
        + p1[:, :, None] * h[:, None, :]
        + h[:, :, None] * p1[:, None, :]
        + tm.m0[:, None, None] * h[:, :, None] * h[:, None, :]
    )
    out = np.zeros((K, K))
    T = seen.shape[1]
    for a_ in range(T):
        for b_ in range(T):
            both = seen[:, a_] & seen[:, b_]
            np.add.at(out, (cell[both, a_], cell[both, b_]), E[both, a_, b_])
    return out


def _period_codes(seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code of every slot among the slots kept (-1: none kept), and the kept slots."""
    present = seen.any(axis=0)
    code = np.where(present, np.cumsum(present) - 1, -1)
    return code, np.flatnonzero(present)


def sun_abraham_types(panel: EnginePanel, tm: TypeMoments, reference: int, clustered: bool):
    """Sun & Abraham's estimator over unit types; returns what
    :func:`impact.estimators.es_cells.sun_abraham_cells` returns."""
    ts = _start(panel, tm)
    g, seen, pos = ts.cohort, ts.seen, ts.pos
    never = np.isnan(g)
    live = seen.any(axis=1)
    if not (never & live).any():  # the last-treated cohort is the control group
        last = np.nanmax(g[live])
        seen[:, pos >= last] = False
        never = never | (g == last)
    first = pos[seen.any(axis=0)].min() if seen.any() else 0.0
    seen[~never & (first - g >= 0)] = False  # always-treated cohorts
    log = ts.log.with_drop("design", DESIGN_DROP, _rows_lost(tm.count, tm.seen, seen))
    inside = TypeSample(tm, seen, g, pos, log)
    gi, pi = _entries(inside, ~never)
    require_reference(gi, pi - gi, reference, panel.grid, per_cohort=True)
    ts = _singletons(inside)
    seen = ts.seen
    if not (seen & ~never[:, None]).any():
        raise EmptySampleError(
            "no treated observation is left after dropping missing outcomes and singletons."
        )
    code, kept = _period_codes(seen)
    T = len(kept)
    treated = ~never & seen.any(axis=1)
    cohorts = np.unique(g[treated])
    c_of = np.where(never, -1, np.searchsorted(cohorts, np.where(never, cohorts[0], g)))
    values = pos[kept]
    lookup = {int(v): i for i, v in enumerate(values)}
    ref = np.array([lookup.get(int(c + reference), -1) for c in cohorts], dtype=np.intp)
    pc = np.broadcast_to(code, seen.shape)
    is_treated = (c_of[:, None] >= 0) & (pc != ref[np.maximum(c_of, 0)][:, None])
    cell = np.where(is_treated, T + np.maximum(c_of, 0)[:, None] * T + pc, pc)
    cell = np.where(seen, cell, -1)
    fit = solve_saturated(_system(ts, cell, T + len(cohorts) * T, clustered), len(cohorts))
    est, V, rel_times = sun_abraham_effects(fit, cohorts, values)
    return est, V, rel_times, fit, fit.n_units, ts.log, fit.n_obs


def twfe_types(
    panel: EnginePanel,
    tm: TypeMoments,
    window: tuple[int, int],
    reference: int,
    clustered: bool,
):
    """Binned relative-time dummies with unit and period effects over unit types;
    returns what :func:`impact.estimators.es_cells.twfe_cells` returns."""
    ts = _start(panel, tm)
    g, pos = ts.cohort, ts.pos
    never = np.isnan(g)
    require_comparison(g[ts.seen.any(axis=1)], panel.grid)
    binned = np.clip(pos[None, :] - np.nan_to_num(g)[:, None], *window)
    binned = np.where(never[:, None], reference, binned).astype(int)
    r, j = np.nonzero(ts.seen & ~never[:, None])
    require_reference(g[r], binned[r, j], reference, panel.grid)
    ts = _singletons(ts)
    seen = ts.seen
    code, kept = _period_codes(seen)
    T = len(kept)
    levels = np.unique(binned[seen & (binned != reference)])
    if not len(levels):
        raise EmptySampleError(
            "no event time other than the reference is observed after dropping singletons."
        )
    L = len(levels)
    r_idx = np.where(binned == reference, -1, np.searchsorted(levels, binned))
    raw = np.where(seen, code[None, :] * (L + 1) + r_idx + 1, -1)
    old = np.unique(raw[seen])
    cell = np.where(seen, np.searchsorted(old, raw), -1)
    R = twfe_parameters(old // (L + 1), old % (L + 1) - 1, T, L)
    fit = solve_restricted(_system(ts, cell, len(old), clustered), R, L)
    if fit is None:
        raise ImpactError(
            "a relative-time dummy is collinear with the unit and period effects; the engine "
            "path cannot drop it. Narrow the window or fit an in-memory pandas frame (which "
            "drops it with a warning)."
        )
    return fit.coef, fit.vcov, levels.astype(int), fit, fit.n_units, ts.log, fit.n_obs
