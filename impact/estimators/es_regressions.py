"""Regression-based event studies: TWFE relative-time dummies and Sun & Abraham (2021)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, VcovSpec
from impact.data.samplelog import SampleLog, replay_warnings
from impact.design.event_times import require_comparison, require_reference
from impact.design.grid import PeriodGrid
from impact.design.staggered import staggered_design, unit_constant
from impact.errors import ImpactError
from impact.estimators.es_cells import interaction_matrix, sun_abraham_cells, twfe_cells
from impact.estimators.es_request import EventRequest
from impact.estimators.feols import feols
from impact.linear.formula import formula_name, parse_fixed_effects
from impact.results.linear import FeolsResult

__all__ = ["DummyRegression", "dummy_regression", "sun_abraham_regression", "twfe_regression"]


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
    if cohort in _vcov_columns(vcov):  # clusters of the user's cohort codes, not positions
        frame[cohort] = data[cohort].to_numpy()[design.rows]
    keep = np.ones(len(frame), dtype=bool)
    return _Setup(frame, design.t, design.g, keep, design.sample_log, design.grid)


def _fit_dummies(s: _Setup, base: str, values: np.ndarray, reference: int, r: EventRequest):
    """feols of y on i(<fresh column>, ref=reference) + covariates | unit + time (+ FE);
    the frame returned holds the estimation sample's rows."""
    y, unit, time, covariates = r.y, r.unit, r.time, r.covariates
    fixed_effects, vcov = r.fixed_effects, r.vcov
    name = base
    while name in s.frame.columns:  # reserve no column name of the user's
        name = "_" + name
    work = s.frame.assign(**{name: values}).loc[s.keep]
    if not work.index.is_unique:  # the fit's row labels must identify its sample rows
        work = work.reset_index(drop=True)
    q = formula_name
    rhs = " + ".join([f"i({q(name)}, ref={reference})", *map(q, covariates)])
    fe = " + ".join([q(unit), q(time), *([fixed_effects] if fixed_effects else [])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = feols(f"{q(y)} ~ {rhs} | {fe}", data=work, vcov=vcov or {"cluster": unit})
    replay_warnings(caught)  # the sample drops are announced once, by the caller
    names = [n for n in fit.coef.index if n.startswith(f"{name}::")]
    codes = np.array([int(n.split("::")[1]) for n in names])
    # the estimation sample: without the rows feols dropped (missing values, singletons)
    return fit, names, codes, work.loc[fit._row_index], name


@dataclass(frozen=True)
class DummyRegression:
    """An event study's regression on event-time dummies and its aggregation.

    ``fit`` is the feols fit on ``work`` (the sample frame, with the user's row labels);
    the event-time effects are ``weights @ fit.coef[names]`` at ``rel_times``.
    """

    fit: FeolsResult
    names: list[str]
    weights: FloatArray
    rel_times: np.ndarray
    work: pd.DataFrame

    def estimate(self) -> FloatArray:
        return self.weights @ self.fit.coef[self.names].to_numpy()

    def vcov(self) -> FloatArray:
        V = self.fit.vcov.loc[self.names, self.names].to_numpy()
        return self.weights @ V @ self.weights.T


def _twfe_setup(data, r: EventRequest) -> tuple[_Setup, np.ndarray]:
    s = _setup(data, r)
    treated = ~np.isnan(s.cohort)
    require_comparison(s.cohort, s.grid)
    binned = np.clip(s.period - s.cohort, *r.window)
    require_reference(s.cohort[treated], binned[treated], r.reference, s.grid)
    return s, np.where(np.isnan(s.cohort), r.reference, binned).astype(int)


def _twfe_dummies(s: _Setup, binned: np.ndarray, r: EventRequest) -> DummyRegression:
    fit, names, rel_t, work, _ = _fit_dummies(s, "rel_time", binned, r.reference, r)
    return DummyRegression(fit, names, np.eye(len(names)), rel_t, work)


def twfe_regression(data, r: EventRequest):
    """Relative-time dummies with binned endpoints; never-treated units at the reference."""
    s, binned = _twfe_setup(data, r)
    cl_col = _unit_level_cluster(s, r.unit, r.vcov)
    if not r.covariates and not r.fixed_effects and cl_col is not None:
        fast = twfe_cells(s, binned, y=r.y, unit=r.unit, cluster=cl_col, reference=r.reference)
        if fast is not None:
            return _with_design_log(fast, s.log)
    return _regression_out(_twfe_dummies(s, binned, r), s, r)


def _regression_out(reg: DummyRegression, s: _Setup, r: EventRequest) -> tuple:
    fit = reg.fit
    n_units = int(reg.work[r.unit].nunique())
    return (
        reg.estimate(),
        reg.vcov(),
        reg.rel_times,
        fit,
        n_units,
        s.log.then(fit.sample_log),
        fit.nobs,
    )


def _sa_setup(data, r: EventRequest) -> tuple[_Setup, np.ndarray]:
    """The design with Sun & Abraham's control group (never-treated units, else the
    last-treated cohort before its treatment) and without always-treated cohorts."""
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
    require_reference(g[inside], rel[inside], r.reference, s.grid, per_cohort=True)
    return _Setup(s.frame, period, g, keep, s.log, s.grid), never


def _sa_dummies(s: _Setup, never: np.ndarray, r: EventRequest) -> DummyRegression:
    """Saturated cohort x relative-time dummies, then the cohort shares of units observed
    at each relative time as weights."""
    g, rel = s.cohort, s.period - s.cohort
    # one integer code per (cohort, relative time); -1 for the reference and the controls
    gmin, rmin = np.nanmin(g), np.nanmin(rel)
    span = int(np.nanmax(rel) - rmin) + 1
    raw = np.nan_to_num(g - gmin) * span + np.nan_to_num(rel - rmin)
    code = np.where(never | (rel == r.reference), -1, raw).astype(np.int64)
    fit, names, codes, work, name = _fit_dummies(s, "cohort_rel", code, -1, r)
    rr = (codes % span + rmin).astype(int)
    used = work.loc[work[name] >= 0, [r.unit, name]]
    n_gr = used.groupby(name)[r.unit].nunique().reindex(codes).to_numpy(dtype=float)
    W, rel_times = interaction_matrix(rr, n_gr)
    return DummyRegression(fit, names, W, rel_times, work)


def sun_abraham_regression(data, r: EventRequest):
    """Interaction-weighted estimator: saturated cohort x relative-time regression, then
    cohort-share weights at each relative time (Sun & Abraham 2021)."""
    s, never = _sa_setup(data, r)
    cl_col = _unit_level_cluster(s, r.unit, r.vcov)
    if not r.covariates and not r.fixed_effects and cl_col is not None:
        return _with_design_log(
            sun_abraham_cells(s, never, y=r.y, unit=r.unit, cluster=cl_col,
                              reference=r.reference),
            s.log,
        )  # fmt: skip
    return _regression_out(_sa_dummies(s, never, r), s, r)


def dummy_regression(data, r: EventRequest, estimator: str) -> DummyRegression:
    """The event study ``estimator`` ("twfe" or "sun_abraham") as a feols regression on
    event-time dummies, whatever path its fit took (the cell formulation gives the same
    numbers)."""
    if estimator == "twfe":
        s, binned = _twfe_setup(data, r)
        return _twfe_dummies(s, binned, r)
    s, never = _sa_setup(data, r)
    return _sa_dummies(s, never, r)


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
