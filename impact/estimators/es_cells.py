"""Event-study regressions whose regressors depend only on (cohort, period) cells.

Sun & Abraham's saturated regression and the binned TWFE event study both have
regressors that are constant within a cell, so with unit effects absorbed they are
solved from cell sufficient statistics (:mod:`impact.estimators.saturated`): no
observations-by-dummies matrix is ever built.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.data.columns import missing_mask
from impact.data.panel import compact_codes
from impact.data.samplelog import SampleLog
from impact.errors import EmptySampleError, ImpactError, ImpactWarning
from impact.estimators.saturated import (
    SaturatedFit,
    drop_two_way_singletons,
    restricted_cell_fit,
    saturated_fit,
)

__all__ = [
    "DESIGN_DROP",
    "SINGLETON_DROP",
    "CellSample",
    "cell_sample",
    "interaction_matrix",
    "interaction_weights",
    "sun_abraham_cells",
    "sun_abraham_effects",
    "twfe_cells",
    "twfe_parameters",
]

#: The sample log's reasons of the cell paths' own drops.
DESIGN_DROP = (
    "rows outside the design (never-treated units outside the control pool, "
    "always-treated cohorts, periods of the last-treated control cohort)"
)
SINGLETON_DROP = "singleton units or periods"


@dataclass(frozen=True)
class CellSample:
    """Rows used by a cell-based event study, coded."""

    y: FloatArray
    unit: IntArray
    period: IntArray  # codes 0..T-1
    period_values: np.ndarray
    cohort: FloatArray  # NaN for control units
    control: np.ndarray
    cluster: IntArray
    rows: np.ndarray  # positions in the setup frame
    log: SampleLog


def cell_sample(s: Any, never: np.ndarray, *, y: str, unit: str, cluster: str) -> CellSample:
    """Design drops, missing outcomes and two-way singletons (fixest rule), all counted."""
    log = SampleLog(n_initial=len(s.frame))
    log = log.with_drop("design", DESIGN_DROP, int(np.count_nonzero(~s.keep)))
    inside = np.flatnonzero(s.keep)
    ok, log = missing_mask(s.frame.iloc[inside], [y], log)  # counted on design rows only
    keep = np.zeros(len(s.frame), dtype=bool)
    keep[inside[ok]] = True
    if cluster != unit and s.frame[cluster].isna().to_numpy()[keep].any():
        raise ImpactError(f"cluster variable {cluster!r} has missing values.")
    rows = np.flatnonzero(keep)
    period = s.period[rows]
    unit_codes = pd.factorize(s.frame[unit].to_numpy()[rows], sort=True)[0]
    per_codes = (period - period.min()).astype(np.intp)
    single = drop_two_way_singletons(unit_codes, per_codes)
    log = log.with_drop("singletons", SINGLETON_DROP, int((~single).sum()))
    rows = rows[single]
    unit_codes, _ = compact_codes(unit_codes[single], int(unit_codes.max()) + 1)
    per_codes, p_old = compact_codes(per_codes[single], int(per_codes.max()) + 1)
    cl = (
        unit_codes
        if cluster == unit
        else pd.factorize(s.frame[cluster].to_numpy()[rows])[0].astype(np.intp)
    )
    return CellSample(
        y=s.frame[y].to_numpy(dtype=float)[rows],
        unit=unit_codes,
        period=per_codes,
        period_values=p_old + period.min(),
        cohort=s.cohort[rows],
        control=never[rows],
        cluster=cl,
        rows=rows,
        log=log,
    )


def interaction_matrix(rel: np.ndarray, n_cell: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """Weights averaging cell effects at each relative time by the cells' unit shares
    (one row per relative time), and the relative times."""
    rel_times = np.unique(rel)
    W: FloatArray = np.zeros((len(rel_times), len(rel)))
    for i, r in enumerate(rel_times):
        sel = rel == r
        W[i, sel] = n_cell[sel] / n_cell[sel].sum()
    return W, rel_times


def interaction_weights(coef, V, rel, n_cell):
    """Average cell effects at each relative time with the cells' unit shares as weights."""
    W, rel_times = interaction_matrix(rel, n_cell)
    return W @ coef, W @ V @ W.T, rel_times


def sun_abraham_cells(s: Any, never: np.ndarray, *, y, unit, cluster, reference):
    """Sun-Abraham from the saturated regression's cell sufficient statistics."""
    cs = cell_sample(s, never, y=y, unit=unit, cluster=cluster)
    ctrl, g = cs.control, cs.cohort
    if ctrl.all():
        raise EmptySampleError(
            "no treated observation is left after dropping missing outcomes and singletons."
        )
    cohorts = np.unique(g[~ctrl])
    cohort_codes = np.where(ctrl, -1, np.searchsorted(cohorts, np.where(ctrl, cohorts[0], g)))
    lookup = {int(v): i for i, v in enumerate(cs.period_values)}
    ref_codes = np.array([lookup.get(int(c + reference), -1) for c in cohorts], dtype=np.intp)
    fit = saturated_fit(cs.y, cs.unit, cs.period, cohort_codes, ref_codes, cs.cluster)
    est, V, rel_times = sun_abraham_effects(fit, cohorts, cs.period_values)
    return est, V, rel_times, fit, fit.n_units, cs.log, fit.n_obs


def sun_abraham_effects(
    fit: SaturatedFit, cohorts: np.ndarray, period_values: np.ndarray
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Event-time effects of a saturated fit (cohort-share weights), with a warning
    naming the cells that are not identified."""
    if fit.unidentified:
        shown = ", ".join(
            f"(cohort {cohorts[c]:g}, period {period_values[t]})" for c, t in fit.unidentified[:5]
        )
        warnings.warn(
            f"{len(fit.unidentified)} cohort x period effects are not identified (no path of "
            f"shared units to the control units of that period) and are left out: {shown}",
            ImpactWarning,
            stacklevel=5,
        )
    rel = (period_values[fit.period] - cohorts[fit.cohort]).astype(int)
    return interaction_weights(fit.estimate, fit.vcov, rel, fit.n_rows.astype(float))


def twfe_cells(s: Any, binned: np.ndarray, *, y, unit, cluster, reference):
    """Binned relative-time dummies with unit and period effects, from cell statistics.

    Returns None when a dummy is collinear (the caller then uses the general solver,
    which drops it with a warning).
    """
    never = np.isnan(s.cohort)
    cs = cell_sample(s, never, y=y, unit=unit, cluster=cluster)
    rel = binned[cs.rows]
    levels = np.unique(rel[rel != reference])
    if not len(levels):
        return None
    r_idx = np.where(rel == reference, -1, np.searchsorted(levels, rel))
    T = int(cs.period.max()) + 1
    raw = cs.period * (len(levels) + 1) + (r_idx + 1)
    cell, old = compact_codes(raw, T * (len(levels) + 1))
    t_of, r_of = old // (len(levels) + 1), old % (len(levels) + 1) - 1
    R = twfe_parameters(t_of, r_of, T, len(levels))
    fit = restricted_cell_fit(cs.y, cs.unit, cs.period, cell, R, len(levels), cs.cluster)
    if fit is None:
        return None
    return fit.coef, fit.vcov, levels.astype(int), fit, fit.n_units, cs.log, fit.n_obs


def twfe_parameters(t_of: np.ndarray, r_of: np.ndarray, T: int, L: int) -> FloatArray:
    """The map from the binned TWFE event study's parameters (period effects 1..T-1,
    period 0 the base, then one per event-time dummy) to its cells' means; a cell is
    (period code ``t_of``, dummy ``r_of``, -1 for the reference)."""
    R = np.zeros((len(t_of), T - 1 + L))
    has_t = t_of > 0
    R[np.flatnonzero(has_t), t_of[has_t] - 1] = 1.0
    has_r = r_of >= 0
    R[np.flatnonzero(has_r), T - 1 + r_of[has_r]] = 1.0
    return R
