"""Sample rules of the staggered design on a period grid: cohort positions, late and
always-treated units, control pools, zero weights, balance — each drop counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import BoolArray, FloatArray, IntArray
from impact.data.samplelog import SampleLog
from impact.data.timeindex import unique_numbers
from impact.design.checks import as_bool, has_rows, refuse_cohorts, unit_constant
from impact.design.cohorts import normalize_cohorts
from impact.design.grid import PeriodGrid, cohort_numbers

__all__ = ["UnitInputs", "late_note", "unit_pool", "unit_rules", "unit_weights"]


def _read_cohorts(raw: pd.Series, grid: PeriodGrid, observed_labels, never_treated):
    """Cohort period numbers with never-treated codes read as NaN (see normalize_cohorts)."""
    if isinstance(raw.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return cohort_numbers(raw, grid)
    numeric = cohort_numbers(raw, PeriodGrid(0, 1, 0, None))  # type checks only
    coded = normalize_cohorts(
        pd.Series(numeric, name=raw.name), periods=observed_labels, never_treated=never_treated
    )
    return cohort_numbers(pd.Series(coded, name=raw.name), grid)


def late_note(n_units: int) -> str:
    """The note on units first treated after the last period (read as never-treated)."""
    return f"{n_units} units first treated after the last period are treated as never-treated."


@dataclass(frozen=True)
class UnitInputs:
    """Per-unit inputs of the sample rules (read once from the user's frame)."""

    codes: IntArray  # unit of every row of the user's frame
    labels: pd.Index
    raw_cohort: pd.Series  # per unit, the user's values
    pool: BoolArray
    weights: FloatArray | None


@dataclass(frozen=True)
class _Rules:
    pos: FloatArray  # per unit cohort position, NaN never (late included)
    drop_unit: BoolArray
    log: SampleLog
    notes: tuple[str, ...]


def unit_rules(
    units: UnitInputs,
    grid: PeriodGrid,
    numbers: IntArray,
    keep: BoolArray,
    log: SampleLog,
    anticipation: int,
    never_treated: float | None,
    balanced: bool,
) -> _Rules:
    """Cohort positions on ``grid`` and the unit drops (always-treated, control pool, zero
    weight, unbalanced), counted over the rows in ``keep``."""
    fr = grid.freq
    every_row = bool(keep.all())  # a complete frame: no row copies below
    if fr is None:
        observed = unique_numbers(numbers if every_row else numbers[keep])
    elif str(fr).upper().startswith(("Y", "A")):
        observed = np.array([p.year for p in grid.labels(range(grid.size))])
    else:
        observed = np.array([])
    pos = grid.positions(_read_cohorts(units.raw_cohort, grid, observed, never_treated))
    row_unit = units.codes
    notes: list[str] = []
    late = np.isfinite(pos) & (pos > grid.size - 1)
    if late.any():
        notes.append(late_note(int(late.sum())))
    pos = np.where(late, np.nan, pos)
    drop_unit = np.isfinite(pos) & (pos <= anticipation)
    seen = has_rows(row_unit if every_row else row_unit[keep], len(pos))

    def drop(log: SampleLog, name: str, text: str, units_out: BoolArray) -> SampleLog:
        """Count the rows (in ``keep``) and the units (with rows) a unit-level drop removes."""
        if not units_out.any():
            return log.with_drop(name, text, 0, {"units": 0})
        rows = int(np.count_nonzero(units_out[row_unit] & keep))
        return log.with_drop(name, text, rows, {"units": int(np.count_nonzero(units_out & seen))})

    log = drop(
        log,
        "always_treated",
        "rows of always-treated units (treated by the first period"
        + (f" + {anticipation} anticipation periods)" if anticipation else ")"),
        drop_unit,
    )
    outside = np.isnan(pos) & ~units.pool & ~drop_unit
    log = drop(log, "control_pool", "rows of never-treated units outside the control pool", outside)
    drop_unit = drop_unit | outside
    if units.weights is not None:
        zero = (units.weights == 0) & ~drop_unit
        log = drop(log, "zero_weight", "rows of units with zero weight", zero)
        drop_unit = drop_unit | zero
    if balanced:
        if fr is None and every_row and not drop_unit.any():  # observed: the periods seen
            n_seen = len(observed)
        else:
            n_seen = len(unique_numbers(numbers[keep & ~drop_unit[row_unit]]))
        counts = np.bincount(row_unit if every_row else row_unit[keep], minlength=len(pos))
        unbal = (counts < n_seen) & ~drop_unit
        log = drop(
            log,
            "unbalanced",
            "rows of units not observed in every period (panel='balanced')",
            unbal,
        )
        drop_unit = drop_unit | unbal
    off = ~drop_unit & np.isfinite(pos) & (pos >= 0) & (pos != np.round(pos))
    refuse_cohorts(
        off, units.raw_cohort, units.labels, f"a period of the time grid {grid.describe()}",
        "Code the cohort as the first observed treated period.",
    )  # fmt: skip
    return _Rules(pos=pos, drop_unit=drop_unit, log=log, notes=tuple(notes))


def unit_pool(data, control_pool, codes, labels, unit) -> BoolArray:
    """Per-unit control-pool flag (all True without a pool)."""
    if not control_pool:
        return np.ones(len(labels), dtype=bool)
    flags = as_bool(data[control_pool])  # rejects missing values before comparing
    if unit is None:
        return flags
    return unit_constant(flags, codes, control_pool, "control_pool", pd.Index(labels))


def unit_weights(data, weights, codes, labels, unit) -> FloatArray | None:
    """Per-unit weights (validated by the caller); None without weights."""
    if not weights:
        return None
    w = data[weights].to_numpy(dtype=float)
    if unit is None:
        return w
    return unit_constant(w, codes, weights, "weights", pd.Index(labels)).astype(float)
