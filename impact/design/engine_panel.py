"""A staggered-adoption panel validated and coded inside a query engine.

The checks and sample rules of :func:`impact.design.staggered.staggered_design`, with its
typed errors and :class:`~impact.data.samplelog.SampleLog` records, for integer periods,
without the rows leaving the engine. The engine builds one row per unit (its cohort,
control-pool flag, weight, cluster, and for every period its outcome and whether it is
observed); units that agree on cohort, pool, zero weight and the set of periods observed
are interchangeable for every sample rule, so the rules run on the driver over the small
table of these *types* (with their unit counts), exactly as the in-memory rules run over
units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.data.timeindex import period_grid, time_numbers
from impact.design.checks import check_anticipation
from impact.design.engine_checks import P, validate_panel
from impact.design.grid import PeriodGrid
from impact.design.rules import _read_cohorts, late_note
from impact.engine.base import Engine
from impact.errors import (
    ClusterError,
    CohortError,
    EmptySampleError,
    InvalidOptionError,
)
from impact.linear.engine_sample import column_ref as _ref

__all__ = ["MAX_PERIODS", "NEVER", "EnginePanel", "engine_panel"]

#: Periods an engine panel may have (observation patterns are bit masks in a double).
MAX_PERIODS = 52
#: The cohort code of never-treated units inside the engine: no finite cohort equals it
#: (missing and infinite cohorts are never-treated codes anyway).
NEVER = -np.inf


@dataclass(frozen=True)
class EnginePanel:
    """The estimation sample of a staggered design, one row per unit, in the engine.

    Attributes
    ----------
    units : engine source
        Kept units: ``_impact_g`` (cohort grid position, :data:`NEVER` for never-treated),
        ``_impact_pool`` (0/1), ``_impact_w`` (weight), ``_impact_pat`` (observed
        periods as a bit mask), per period slot ``j``: ``_impact_y{j}`` (outcome, 0 when
        unobserved), ``_impact_o{j}`` (0/1) and, per covariate ``k``, ``_impact_x{j}_{k}``
        (0 when unobserved), and the cluster column if any.
    slots : ndarray of int
        Grid position of each period slot ``j``.
    periods : ndarray of int
        Observed grid positions of the kept rows, sorted.
    grid : PeriodGrid
    cohorts : ndarray
        Treated cohorts of the kept units (grid positions), sorted.
    never_in_pool : bool
        Some kept never-treated unit is in the control pool.
    n_units : int
    anticipation : int
    log : SampleLog
    notes : tuple of str
    """

    units: Any
    slots: np.ndarray
    periods: np.ndarray
    grid: PeriodGrid
    cohorts: np.ndarray
    never_in_pool: bool
    n_units: int
    anticipation: int
    log: SampleLog
    notes: tuple[str, ...]
    n_covariates: int = 0
    #: every kept unit is observed in every kept period
    complete: bool = False


def _popcount(pattern: np.ndarray) -> np.ndarray:
    bits = pattern.astype(np.int64)
    out = np.zeros(len(bits), dtype=np.int64)
    while bits.any():
        out += bits & 1
        bits >>= 1
    return out


def _observed(pattern: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Period numbers observed by any of the patterns."""
    union = int(np.bitwise_or.reduce(pattern.astype(np.int64))) if len(pattern) else 0
    return np.array([n for j, n in enumerate(numbers) if union >> j & 1])


def engine_panel(
    engine: Engine,
    src: Any,
    *,
    unit: str,
    time: str,
    cohort: str,
    y: str,
    control_pool: str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    anticipation: int = 0,
    never_treated: float | None = None,
    balanced: bool = False,
    covariates: Sequence[str] = (),
) -> EnginePanel:
    """Validate a staggered panel in ``engine`` and build its unit table (see module).

    Raises the in-memory design's typed errors: unknown columns, missing ids, duplicate
    (unit, period) rows, cohorts or pools or weights that vary within units, cohorts off
    the period grid, invalid weights, missing cluster ids, empty samples. Rows missing the
    outcome or a ``covariates`` value are dropped and counted, as in memory.
    """
    anticipation = check_anticipation(anticipation)
    covariates = list(covariates)  # repeats kept: the fit refuses them as memory does
    n0 = validate_panel(
        engine, src, unit, time, cohort, y, control_pool, weights, cluster, covariates
    )
    log = SampleLog(n_initial=n0)
    needed = list(dict.fromkeys([y, *covariates]))
    per, n_miss = engine.missing_counts(src, needed)
    for col in needed:
        if per[col] == n0:
            raise EmptySampleError(
                f"column {col!r} is missing or infinite on all {n0} rows; nothing can be estimated."
            )
    detail = {c: per[c] for c in needed if per[c]}
    log = log.with_drop("missing", "rows with missing or infinite values", n_miss, detail or None)
    times = engine.group_sums(src, [time], {}, count=None)
    if len(times) > MAX_PERIODS:
        raise InvalidOptionError(
            f"the engine path takes at most {MAX_PERIODS} periods; {time!r} has {len(times)}."
        )
    numbers, _ = time_numbers(times[time].rename(time))
    numbers = np.asarray(numbers, dtype=np.int64)
    slot = pd.DataFrame({time: times[time].to_numpy()})
    for j in range(len(slot)):
        slot[f"{P}d{j}"] = (np.arange(len(slot)) == j).astype(float)
    slot[f"{P}bit"] = 2.0 ** np.arange(len(slot))
    kept_rows = engine.join_small(engine.drop_missing(src, needed), slot, [time])
    sums = {f"{P}y{j}": f"{_ref(y)} * {P}d{j}" for j in range(len(slot))}
    sums |= {
        f"{P}x{j}_{k}": f"{_ref(c)} * {P}d{j}"
        for j in range(len(slot))
        for k, c in enumerate(covariates)
    }
    sums |= {f"{P}o{j}": f"{P}d{j}" for j in range(len(slot))} | {f"{P}pat": f"{P}bit"}
    observed = engine.group_relation(kept_rows, [unit], sums, count=None)
    keys = list(dict.fromkeys([unit, cohort, *(c for c in (control_pool, weights, cluster) if c)]))
    units = engine.group_relation(src, keys, {}, count=None)  # constant within units
    units = engine.join_groups(units, observed, [unit])
    units = engine.fill_missing(units, f"{P}pat", 0.0, f"{P}pat")  # no kept row
    units = engine.fill_missing(units, cohort, NEVER, f"{P}graw")
    pool = _ref(control_pool) if control_pool else "1"
    w = _ref(weights) if weights else "1"
    units = engine.with_columns(units, {f"{P}pool": pool, f"{P}w": w})
    typed = [f"{P}graw", f"{P}pool", f"{P}pat"]
    types = engine.group_sums(units, typed, {}, count="units")
    if weights:
        zero = engine.group_sums(engine.where(units, f"{P}w", "==", 0.0), typed, {}, count="zero")
        types = types.merge(zero, on=typed, how="left").fillna({"zero": 0})
    else:
        types["zero"] = 0
    rules = _type_rules(types, numbers, cohort, anticipation, never_treated, balanced, log)
    keep_types = rules.types[~rules.types["drop"]][[*typed, "pos"]].rename(columns={"pos": f"{P}g"})
    keep_types[f"{P}keep"] = 1.0
    final = engine.join_small(units, keep_types, typed)
    final = engine.where(engine.where(final, f"{P}keep", "==", 1.0), f"{P}pat", ">", 0.0)
    if weights:
        final = engine.where(final, f"{P}w", ">", 0.0)
    cols = [
        unit,
        f"{P}g",
        f"{P}pool",
        f"{P}w",
        f"{P}pat",
        *(f"{P}{k}{j}" for j in range(len(slot)) for k in ("y", "o")),
        *(f"{P}x{j}_{k}" for j in range(len(slot)) for k in range(len(covariates))),
    ]
    if cluster:
        cols.append(cluster)
    final = engine.materialize(engine.select(final, list(dict.fromkeys(cols))))
    if cluster:
        _, miss = engine.missing_counts(final, [cluster])
        if miss:
            raise ClusterError(
                f"cluster variable {cluster!r} is missing on {miss} units in the sample. "
                "Choosing a vcov must not change the sample: fill the cluster ids or drop "
                "those rows before estimating."
            )
    grid = rules.grid
    slots = np.round(grid.positions(numbers)).astype(np.int64)
    return EnginePanel(
        units=final,
        slots=slots,
        periods=np.sort(slots[[j for j in range(len(numbers)) if rules.observed_mask >> j & 1]]),
        grid=grid,
        cohorts=rules.cohorts,
        never_in_pool=rules.never_in_pool,
        n_units=rules.n_units,
        anticipation=anticipation,
        log=rules.log,
        notes=rules.notes,
        n_covariates=len(covariates),
        complete=rules.complete,
    )


@dataclass(frozen=True)
class _TypeRules:
    types: pd.DataFrame
    grid: PeriodGrid
    observed_mask: int
    cohorts: np.ndarray
    never_in_pool: bool
    n_units: int
    log: SampleLog
    notes: tuple[str, ...]
    complete: bool


def _type_rules(types, numbers, cohort, anticipation, never_treated, balanced, log0):
    """The sample rules of :func:`impact.design.rules.unit_rules` over unit types."""
    t = types.copy()
    raw = t[f"{P}graw"].to_numpy(dtype=float)
    raw = np.where(raw == NEVER, np.nan, raw)
    pat = t[f"{P}pat"].to_numpy().astype(np.int64)
    n_rows = _popcount(pat)
    units = t["units"].to_numpy(dtype=np.int64)
    zero = t["zero"].to_numpy(dtype=np.int64)
    pool = t[f"{P}pool"].to_numpy(dtype=float) != 0
    seen = pat != 0
    grid = period_grid(_observed(pat, numbers), None)
    for _ in range(10):
        kept_periods = _observed(pat[seen], numbers)
        g_num = _read_cohorts(pd.Series(raw, name=cohort), grid, kept_periods, never_treated)
        pos = grid.positions(g_num)
        notes = []
        late = np.isfinite(pos) & (pos > grid.size - 1)
        if late.any():
            notes.append(late_note(int(units[late].sum())))
        pos = np.where(late, np.nan, pos)
        log = log0
        drop_all = np.isfinite(pos) & (pos <= anticipation)

        def record(log, name, text, out, count=units):
            rows = int((count[out] * n_rows[out]).sum())
            return log.with_drop(name, text, rows, {"units": int(count[out & seen].sum())})

        log = record(
            log,
            "always_treated",
            "rows of always-treated units (treated by the first "
            "period" + (f" + {anticipation} anticipation periods)" if anticipation else ")"),
            drop_all,
        )
        outside = np.isnan(pos) & ~pool & ~drop_all
        log = record(
            log, "control_pool", "rows of never-treated units outside the control pool", outside
        )
        drop_all |= outside
        zero_out = (zero > 0) & ~drop_all
        log = record(log, "zero_weight", "rows of units with zero weight", zero_out, zero)
        remaining = np.where(drop_all, 0, units - zero)
        if balanced:
            n_seen = len(_observed(pat[remaining > 0], numbers))
            unbal = (n_rows < n_seen) & (remaining > 0)
            log = record(
                log,
                "unbalanced",
                "rows of units not observed in every period (panel='balanced')",
                unbal,
                remaining,
            )
            remaining = np.where(unbal, 0, remaining)
        off = (remaining > 0) & np.isfinite(pos) & (pos >= 0) & (pos != np.round(pos))
        if off.any():
            raise CohortError(
                f"cohort {raw[off][0]:g} of {int(units[off].sum())} units is not a period of "
                f"the time grid {grid.describe()}. Code the cohort as the first observed "
                "treated period."
            )
        keep = (remaining > 0) & seen
        if not keep.any():
            raise EmptySampleError(
                "no rows are left after the sample rules: " + str(log).replace("\n", ";")
            )
        new_grid = period_grid(_observed(pat[keep], numbers), None)
        if new_grid == grid:
            break
        grid = new_grid
    if not np.isfinite(pos[keep]).any():
        raise EmptySampleError(
            f"no treated unit is left: every unit in the sample is never-treated in {cohort!r}. "
            f"Sample decisions: {str(log).replace(chr(10), ';')} (check the cohort coding, "
            "anticipation and the control pool)."
        )
    t["drop"] = ~keep
    t["pos"] = np.where(np.isfinite(pos), pos, NEVER)
    mask = int(np.bitwise_or.reduce(pat[keep]))
    treated = pos[keep]
    cohorts = np.unique(treated[np.isfinite(treated)])
    never_in_pool = bool((keep & np.isnan(pos) & pool).any())
    complete = bool(np.all(pat[keep] == mask))
    return _TypeRules(
        t,
        grid,
        mask,
        cohorts,
        never_in_pool,
        int(remaining[keep].sum()),
        log,
        tuple(notes),
        complete,
    )
