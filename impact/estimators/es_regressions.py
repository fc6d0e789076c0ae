"""Regression-based event studies: TWFE relative-time dummies and Sun & Abraham (2021)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import VcovSpec
from impact.data.samplelog import SampleLog, replay_warnings
from impact.design.event_times import require_comparison, require_reference
from impact.design.grid import PeriodGrid
from impact.design.staggered import staggered_design, unit_constant
from impact.errors import ImpactError
from impact.estimators.es_cells import interaction_weights, sun_abraham_cells, twfe_cells
from impact.estimators.es_request import EventRequest
from impact.estimators.feols import feols
from impact.linear.formula import formula_name, parse_fixed_effects

__all__ = ["sun_abraham_regression", "twfe_regression"]


@dataclass(frozen=True)
class _Setup:
    frame: pd.DataFrame  # sample rows; time and cohort as grid positions
    period: np.ndarray  # grid positions
    cohort: np.ndarray  # grid positions, NaN = never treated
    keep: np.ndarray  # rows kept
    log: SampleLog  # the design's sample decisions
    grid: PeriodGrid  # the user's period labels


def _setup(data, r: EventRequest) -> _Setup:
    """The staggered design (one validation for every estimator) and its sample frame."""
    y, unit, time, cohort, covariates = r.y, r.unit, r.time, r.cohort, r.covariates
    fixed_effects, vcov = r.fixed_effects, r.vcov
    fe_cols = [c for c in _fe_columns(fixed_effects) if c != time]
    design = staggered_design(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        outcomes=[y],
        covariates=covariates,
        control_pool=r.control_pool,
        clusters=_vcov_columns(vcov),
        columns=fe_cols,
        never_treated=r.never_treated,
        freq=r.freq,
    )
    cols = [y, unit, time, cohort, *covariates, *fe_cols, *_vcov_columns(vcov)]
    frame = design.frame(data, cols)
    keep = np.ones(len(frame), dtype=bool)
    return _Setup(frame, design.t, design.g, keep, design.sample_log, design.grid)


def _fit_dummies(s: _Setup, base: str, values: np.ndarray, reference: int, r: EventRequest):
    """feols of y on i(<fresh column>, ref=reference) + covariates | unit + time (+ FE)."""
    y, unit, time, covariates = r.y, r.unit, r.time, r.covariates
    fixed_effects, vcov = r.fixed_effects, r.vcov
    name = base
    while name in s.frame.columns:  # reserve no column name of the user's
        name = "_" + name
    work = s.frame.assign(**{name: values}).loc[s.keep]
    q = formula_name
    rhs = " + ".join([f"i({q(name)}, ref={reference})", *map(q, covariates)])
    fe = " + ".join([q(unit), q(time), *([fixed_effects] if fixed_effects else [])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = feols(f"{q(y)} ~ {rhs} | {fe}", data=work, vcov=vcov or {"cluster": unit})
    replay_warnings(caught)  # the sample drops are announced once, by the caller
    names = [n for n in fit.coef.index if n.startswith(f"{name}::")]
    codes = np.array([int(n.split("::")[1]) for n in names])
    return fit, names, codes, work, name


def twfe_regression(data, r: EventRequest):
    """Relative-time dummies with binned endpoints; never-treated units at the reference."""
    y, unit, window, reference = r.y, r.unit, r.window, r.reference
    covariates, fixed_effects, vcov = r.covariates, r.fixed_effects, r.vcov
    s = _setup(data, r)
    treated = ~np.isnan(s.cohort)
    require_comparison(s.cohort, s.grid)
    binned = np.clip(s.period - s.cohort, *window)
    require_reference(s.cohort[treated], binned[treated], reference, s.grid)
    binned = np.where(np.isnan(s.cohort), reference, binned).astype(int)
    cl_col = _unit_level_cluster(s, unit, vcov)
    if not covariates and not fixed_effects and cl_col is not None:
        fast = twfe_cells(s, binned, y=y, unit=unit, cluster=cl_col, reference=reference)
        if fast is not None:
            return _with_design_log(fast, s.log)
    fit, names, rel_t, work, _ = _fit_dummies(s, "rel_time", binned, reference, r)
    est = fit.coef[names].to_numpy()
    V = fit.vcov.loc[names, names].to_numpy()
    return est, V, rel_t, fit, int(work[unit].nunique()), s.log.then(fit.sample_log), fit.nobs


def sun_abraham_regression(data, r: EventRequest):
    """Interaction-weighted estimator: saturated cohort x relative-time regression, then
    cohort-share weights at each relative time (Sun & Abraham 2021)."""
    y, unit, reference = r.y, r.unit, r.reference
    covariates, fixed_effects, vcov = r.covariates, r.fixed_effects, r.vcov
    s = _setup(data, r)
    g, period, keep = s.cohort, s.period, s.keep.copy()
    never = np.isnan(g)
    if not (never & keep).any():
        # no never-treated units: the last-treated cohort is the control group, and the
        # periods from its treatment on are dropped (Sun & Abraham 2021, Section 4)
        last = np.nanmax(g)
        keep &= period < last
        never = never | (g == last)
    rel = period - g
    keep &= ~(~never & (np.nanmin(period) - g >= 0))  # always-treated cohorts
    inside = keep & ~never
    require_reference(g[inside], rel[inside], reference, s.grid, per_cohort=True)
    s = _Setup(s.frame, period, g, keep, s.log, s.grid)
    cl_col = _unit_level_cluster(s, unit, vcov)
    if not covariates and not fixed_effects and cl_col is not None:
        return _with_design_log(
            sun_abraham_cells(s, never, y=y, unit=unit, cluster=cl_col, reference=reference),
            s.log,
        )
    # one integer code per (cohort, relative time); -1 for the reference and the controls
    gmin, rmin = np.nanmin(g), np.nanmin(rel)
    span = int(np.nanmax(rel) - rmin) + 1
    raw = np.nan_to_num(g - gmin) * span + np.nan_to_num(rel - rmin)
    code = np.where(never | (rel == reference), -1, raw).astype(np.int64)
    fit, names, codes, work, name = _fit_dummies(s, "cohort_rel", code, -1, r)
    rr = (codes % span + rmin).astype(int)
    # cohort shares at each relative time: units of each cohort observed at that time
    used = work.loc[work[name] >= 0, [unit, name]]
    n_gr = used.groupby(name)[unit].nunique().reindex(codes).to_numpy(dtype=float)
    est, V, rel_times = interaction_weights(
        fit.coef[names].to_numpy(), fit.vcov.loc[names, names].to_numpy(), rr, n_gr
    )
    return est, V, rel_times, fit, int(work[unit].nunique()), s.log.then(fit.sample_log), fit.nobs


def _with_design_log(out: tuple, log: SampleLog) -> tuple:
    """A cell path's output with the design's drops ahead of its own."""
    return (*out[:5], log.then(out[5]), *out[6:])


def _unit_level_cluster(s: _Setup, unit: str, vcov: VcovSpec) -> str | None:
    """The cluster column when vcov is one-way clustering on a unit-level column, else None."""
    if vcov is None:
        return unit
    if not (isinstance(vcov, dict) and len(vcov) == 1):
        return None
    ((key, col),) = vcov.items()
    if str(key).lower() not in ("cluster", "crv1") or not isinstance(col, str):
        return None
    if col == unit:
        return col
    codes = pd.factorize(s.frame[unit])[0]
    try:
        unit_constant(s.frame, codes, col, "cluster")
    except ImpactError:
        return None
    return col


def _fe_columns(fixed_effects: str | None) -> list[str]:
    if not fixed_effects:
        return []
    return [c for dim in parse_fixed_effects(fixed_effects) for c in dim]


def _vcov_columns(vcov: VcovSpec) -> list[str]:
    if isinstance(vcov, dict):
        ((_, cols),) = vcov.items()
        return [cols] if isinstance(cols, str) else list(cols)
    return []
