"""ONE staggered design for every DiD estimator: rows, units, periods, cohorts, samples.

:func:`staggered_design` reads the user's frame once — ids, time on a regular period grid,
cohorts on that grid, never-treated codes, late and always-treated units, control pools,
weights, cluster ids — with typed errors that name the user's ids and values, and counted
drops in a :class:`SampleLog`. Every estimator then works in grid positions: event time,
anticipation and windows are counted in periods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from impact._typing import BoolArray, FloatArray, IntArray
from impact.data.columns import check_columns, missing_mask, validate_weights
from impact.data.panel import _factorize_ids
from impact.data.samplelog import SampleLog
from impact.design.cohorts import normalize_cohorts
from impact.design.grid import PeriodGrid, cohort_numbers, period_grid, time_numbers
from impact.errors import (
    ClusterError,
    CohortError,
    ColumnTypeError,
    DuplicateRowsError,
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
    MissingIdError,
)

__all__ = [
    "StaggeredDesign",
    "category_by_time",
    "cohort_membership",
    "staggered_design",
    "unit_constant",
]

_MAX_LISTED = 5
#: Rounds of "drop units, recompute the grid" before giving up (one or two suffice).
_MAX_GRID_ROUNDS = 10


@dataclass(frozen=True)
class StaggeredDesign:
    """The validated staggered-adoption sample, in grid positions.

    Attributes
    ----------
    unit, time, cohort : str
        The user's column names (``unit`` None for repeated cross-sections).
    rows : ndarray of int
        Positions (``iloc``) of the user's rows that form the sample.
    unit_code : ndarray of int
        Per sample row: its unit, ``0 .. n_units - 1`` (rows themselves without ``unit``).
    t : ndarray of int
        Per sample row: its period as a grid position ``0 .. grid.size - 1``.
    unit_cohort : ndarray of float
        Per unit: first treated period as a grid position, NaN for never-treated.
    units : Index
        The user's id of every unit.
    pool : ndarray of bool
        Per unit: may serve as a control.
    weights : ndarray of float or None
        Per unit sampling weights (zero-weight units are dropped).
    grid : PeriodGrid
    anticipation : int
        Periods of anticipation.
    sample_log : SampleLog
    notes : tuple of str
    """

    unit: str | None
    time: str
    cohort: str
    rows: IntArray
    unit_code: IntArray
    t: IntArray
    unit_cohort: FloatArray
    units: pd.Index
    pool: BoolArray
    weights: FloatArray | None
    grid: PeriodGrid
    anticipation: int
    sample_log: SampleLog
    notes: tuple[str, ...] = ()

    @property
    def n_units(self) -> int:
        """Units in the sample."""
        return len(self.units)

    @property
    def n_obs(self) -> int:
        """Rows in the sample."""
        return len(self.rows)

    @property
    def g(self) -> FloatArray:
        """Per sample row: the unit's cohort position (NaN never-treated)."""
        return self.unit_cohort[self.unit_code]

    @property
    def rel_time(self) -> FloatArray:
        """Per sample row: periods since treatment, ``t - g`` (NaN for never-treated)."""
        return self.t - self.g

    @property
    def positions(self) -> IntArray:
        """Observed grid positions, sorted."""
        return np.unique(self.t)

    @property
    def cohorts(self) -> FloatArray:
        """Treated cohorts (grid positions), sorted."""
        g = self.unit_cohort
        return np.unique(g[~np.isnan(g)])

    def frame(self, data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """A new frame of the sample rows with time and cohort as grid positions.

        The user's frame is not modified; ``columns`` are copied, the time column holds
        integer positions and the cohort column positions (NaN never-treated).
        """
        cols = list(dict.fromkeys(columns))
        out = data.iloc[self.rows][cols].copy()
        if self.time in out.columns:
            out[self.time] = self.t
        if self.cohort in out.columns:
            out[self.cohort] = self.g
        return out


def show(value: object) -> str:
    """``repr`` of a user's value without numpy's type wrapper (``5``, not ``np.int64(5)``)."""
    item = getattr(value, "item", None)
    if isinstance(value, np.generic) and item is not None:
        value = item()
    return repr(value)


def unit_constant(
    values: pd.Series | np.ndarray,
    unit_codes: IntArray,
    col: str,
    what: str,
    labels: pd.Index | None = None,
) -> np.ndarray:
    """One value per unit code (0..U-1) of a column that must not vary within units.

    Raises ImpactError naming the unit (its user id when ``labels`` are given) and the
    two values.
    """
    if isinstance(values, pd.DataFrame):
        values = values[col]
    vals = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    n_units = int(unit_codes.max()) + 1 if len(unit_codes) else 0
    first_row = np.full(n_units, -1)
    first_row[unit_codes[::-1]] = np.arange(len(unit_codes))[::-1]
    first = vals[first_row]
    ref = first[unit_codes]
    same = pd.isna(vals) & pd.isna(ref)
    differs = ~((vals == ref) | same)
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        code = unit_codes[row]
        who = show(labels[code]) if labels is not None else f"code {code}"
        raise ImpactError(
            f"{what} column {col!r} varies within unit {who} ({show(first[code])} and "
            f"{show(vals[row])}); it must be constant over time for every unit."
        )
    return first


def category_by_time(fixed_effects: str | None, time: str, who: str) -> str | None:
    """The category column of a ``"category^time"`` fixed effect (None if not given).

    Raises InvalidOptionError for anything but one interaction of ``time`` with a column.
    """
    if not fixed_effects:
        return None
    parts = [p.strip() for p in fixed_effects.split("^")]
    if "+" in fixed_effects or len(parts) != 2 or time not in parts:
        raise InvalidOptionError(
            f"fixed_effects={fixed_effects!r}: {who} takes one interaction of the time "
            f"column with a category, e.g. 'sector^{time}'."
        )
    return parts[0] if parts[1] == time else parts[1]


def _check_anticipation(anticipation: object) -> int:
    if isinstance(anticipation, bool) or not isinstance(anticipation, Integral | float):
        raise InvalidOptionError(
            f"anticipation must be a whole number of periods >= 0, got {anticipation!r}."
        )
    if anticipation < 0 or float(anticipation) != int(anticipation):
        raise InvalidOptionError(
            f"anticipation must be a whole number of periods >= 0, got {anticipation!r}."
        )
    return int(anticipation)


def _check_ids(data: pd.DataFrame, cols: Sequence[tuple[str, str]]) -> None:
    for col, role in cols:
        miss = data[col].isna().to_numpy(dtype=bool)
        if miss.any():
            idx = data.index[np.flatnonzero(miss)[0]]
            raise MissingIdError(
                f"{role} column {col!r} is missing on {int(miss.sum())} rows (first at row "
                f"{show(idx)}); drop or fill those rows first."
            )


def check_numeric(data: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    """ColumnTypeError for a column that is not numeric (or boolean), with an example."""
    for col in dict.fromkeys(columns):
        s = data[col]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        conv = pd.to_numeric(s, errors="coerce")
        bad = conv.isna().to_numpy() & s.notna().to_numpy()
        example = ""
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            example = (
                f" (e.g. {show(s.iloc[i])} at row {show(s.index[i])}, {int(bad.sum())} such rows)"
            )
        raise ColumnTypeError(
            f"{role} {col!r} must be numeric, got dtype {s.dtype}{example}. Convert it with "
            "pandas.to_numeric and decide what non-numbers mean before estimating."
        )


def _check_duplicates(data, unit, time, codes, t, n_units, size) -> None:
    key = codes.astype(np.int64) * max(size, 1) + t
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if dup.any():
        pairs = data.loc[dup, [unit, time]].drop_duplicates().head(_MAX_LISTED)
        listed = ", ".join(f"({show(u)}, {show(v)})" for u, v in pairs.itertuples(index=False))
        n_pairs = int(pd.Series(key[dup]).nunique())
        raise DuplicateRowsError(
            f"{n_pairs} ({unit}, {time}) pairs appear more than once ({int(dup.sum())} rows), "
            f"e.g. {listed}. A panel needs one row per unit and period: aggregate or remove "
            "the duplicates explicitly."
        )


def _read_cohorts(raw: pd.Series, grid: PeriodGrid, observed_labels, never_treated):
    """Cohort period numbers with never-treated codes read as NaN (see normalize_cohorts)."""
    if isinstance(raw.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return cohort_numbers(raw, grid)
    numeric = cohort_numbers(raw, PeriodGrid(0, 1, 0, None))  # type checks only
    coded = normalize_cohorts(
        pd.Series(numeric, name=raw.name), periods=observed_labels, never_treated=never_treated
    )
    return cohort_numbers(pd.Series(coded, name=raw.name), grid)


def staggered_design(
    data: pd.DataFrame,
    *,
    unit: str | None,
    time: str,
    cohort: str,
    outcomes: Sequence[str] = (),
    covariates: Sequence[str] = (),
    control_pool: str | None = None,
    weights: str | None = None,
    clusters: Sequence[str] = (),
    columns: Sequence[str] = (),
    anticipation: int = 0,
    never_treated: float | None = None,
    freq: str | None = None,
    balanced: bool = False,
) -> StaggeredDesign:
    """Validate a staggered-adoption panel once and code it on its period grid.

    Parameters
    ----------
    data : DataFrame
        The user's frame; never modified.
    unit : str or None
        Unit id column; None for repeated cross-sections (every row its own unit, cohort
        read per row).
    time : str
        Integer periods on any regular grid (step 1, 2, 5, …), pandas Periods, or
        datetimes (``freq`` inferred from a regular calendar grid when not given).
    cohort : str
        First treated period (NaN — or 0/inf when 0 is not a period, or
        ``never_treated`` — for never-treated units). Must lie on the period grid.
    outcomes, covariates : sequence of str
        Numeric columns; rows with a missing or infinite value are dropped (counted).
    control_pool : str, optional
        Boolean unit-level column: never-treated units outside it are dropped (counted).
    weights : str, optional
        Unit-level sampling weights: negative/missing is an error, zero drops the unit.
    clusters : sequence of str
        Cluster columns: missing values are an error (a vcov must not change the sample).
    columns : sequence of str
        Further columns the estimator reads (must exist).
    anticipation : int
        Periods of anticipation (>= 0): units treated by the first period + anticipation
        are always-treated and dropped (counted).
    never_treated : float, optional
        Explicit never-treated code of ``cohort``.
    freq : str, optional
        Period frequency of a datetime or Period time column.
    balanced : bool
        Keep only units observed in every observed period (dropped units counted).

    Returns
    -------
    StaggeredDesign
    """
    names = [c for c in (unit, time, cohort) if c]
    wanted = [*names, *outcomes, *covariates, *clusters, *columns]
    wanted += [c for c in (control_pool, weights) if c]
    check_columns(data, list(dict.fromkeys(wanted)))
    anticipation = _check_anticipation(anticipation)
    if len(data) == 0:
        raise EmptySampleError("the data frame has no rows: nothing can be estimated.")
    _check_ids(data, [(c, r) for c, r in ((unit, "unit id"), (time, "time")) if c])
    check_numeric(data, [*outcomes, *covariates], "column")
    numbers_all, fr = time_numbers(data[time], freq=freq)
    log = SampleLog(n_initial=len(data))
    if unit is not None:
        codes_all, labels_all = _factorize_ids(data[unit])
        span = int(numbers_all.max() - numbers_all.min()) + 1
        _check_duplicates(
            data, unit, time, codes_all, numbers_all - numbers_all.min(), len(labels_all), span
        )
        unit_constant(data[cohort], codes_all, cohort, "cohort", pd.Index(labels_all))
        first_row = np.full(len(labels_all), -1)
        first_row[codes_all[::-1]] = np.arange(len(codes_all))[::-1]
        raw_g = data[cohort].iloc[first_row].reset_index(drop=True)  # keeps the dtype
    else:
        codes_all = np.arange(len(data))
        labels_all = pd.RangeIndex(len(data))
        raw_g = data[cohort].reset_index(drop=True)
    keep0, log0 = missing_mask(data, [*outcomes, *covariates], log)
    if weights:
        validate_weights(data, weights)
    units = _UnitInputs(
        codes=codes_all,
        labels=pd.Index(labels_all),
        raw_cohort=raw_g,
        pool=_unit_pool(data, control_pool, codes_all, labels_all, unit),
        weights=_unit_weights(data, weights, codes_all, labels_all, unit),
    )
    if isinstance(raw_g.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
        raw_g.dtype
    ):
        _check_cohort_dates(raw_g, data[time], units.labels)
    # the grid is the grid of the rows that survive every rule: a dropped unit observed in
    # other periods must not change what a period is (iterate until the grid is stable)
    grid = period_grid(numbers_all[keep0], fr)
    for _ in range(_MAX_GRID_ROUNDS):
        rules = _unit_rules(
            units, grid, numbers_all, keep0, log0, anticipation, never_treated, balanced
        )
        keep = keep0 & ~rules.drop_unit[codes_all]
        if not keep.any():
            raise EmptySampleError(
                "no rows are left after the sample rules: " + str(rules.log).replace("\n", ";")
            )
        new_grid = period_grid(numbers_all[keep], fr)
        if new_grid == grid:
            break
        grid = new_grid
    log, pos, notes = rules.log, rules.pos, list(rules.notes)
    pool, w_unit, n_u, row_unit = units.pool, units.weights, len(rules.pos), codes_all
    rows = np.flatnonzero(keep)
    for col in clusters:
        _require_complete(data, col, rows)
    present = np.zeros(n_u, dtype=bool)
    present[row_unit[rows]] = True
    new_code = np.cumsum(present) - 1
    unit_cohort = pos[present]
    if not np.isfinite(unit_cohort).any():
        raise EmptySampleError(
            f"no treated unit is left: every unit in the sample is never-treated in {cohort!r}. "
            f"Sample decisions: {str(log).replace(chr(10), ';')} (check the cohort coding, "
            "anticipation and the control pool)."
        )
    t = np.round(grid.positions(numbers_all[rows])).astype(np.intp)
    return StaggeredDesign(
        unit=unit,
        time=time,
        cohort=cohort,
        rows=rows,
        unit_code=new_code[row_unit[rows]].astype(np.intp),
        t=t,
        unit_cohort=unit_cohort,
        units=pd.Index(labels_all)[present] if unit else pd.RangeIndex(int(present.sum())),
        pool=pool[present],
        weights=None if w_unit is None else w_unit[present],
        grid=grid,
        anticipation=anticipation,
        sample_log=log,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class _UnitInputs:
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


def _unit_rules(
    units: _UnitInputs,
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
    if fr is None:
        observed = np.unique(numbers[keep])
    elif str(fr).upper().startswith(("Y", "A")):
        observed = np.array([p.year for p in grid.labels(range(grid.size))])
    else:
        observed = np.array([])
    pos = grid.positions(_read_cohorts(units.raw_cohort, grid, observed, never_treated))
    row_unit = units.codes
    notes: list[str] = []
    late = np.isfinite(pos) & (pos > grid.size - 1)
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period are treated as "
            "never-treated."
        )
    pos = np.where(late, np.nan, pos)
    drop_unit = np.isfinite(pos) & (pos <= anticipation)
    has_rows = _has_rows(row_unit[keep], len(pos))
    log = log.with_drop(
        "always_treated",
        "rows of always-treated units (treated by the first period"
        + (f" + {anticipation} anticipation periods)" if anticipation else ")"),
        int(np.count_nonzero(drop_unit[row_unit] & keep)),
        {"units": int(np.count_nonzero(drop_unit & has_rows))},
    )
    outside = np.isnan(pos) & ~units.pool & ~drop_unit
    log = log.with_drop(
        "control_pool",
        "rows of never-treated units outside the control pool",
        int(np.count_nonzero(outside[row_unit] & keep)),
        {"units": int(np.count_nonzero(outside & has_rows))},
    )
    drop_unit = drop_unit | outside
    if units.weights is not None:
        zero = (units.weights == 0) & ~drop_unit
        log = log.with_drop(
            "zero_weight",
            "rows of units with zero weight",
            int(np.count_nonzero(zero[row_unit] & keep)),
            {"units": int(np.count_nonzero(zero & has_rows))},
        )
        drop_unit = drop_unit | zero
    if balanced:
        n_seen = len(np.unique(numbers[keep & ~drop_unit[row_unit]]))
        counts = np.bincount(row_unit[keep], minlength=len(pos))
        unbal = (counts < n_seen) & ~drop_unit
        log = log.with_drop(
            "unbalanced",
            "rows of units not observed in every period (panel='balanced')",
            int(np.count_nonzero(unbal[row_unit] & keep)),
            {"units": int(np.count_nonzero(unbal & has_rows))},
        )
        drop_unit = drop_unit | unbal
    off = ~drop_unit & np.isfinite(pos) & (pos >= 0) & (pos != np.round(pos))
    if off.any():
        u = int(np.flatnonzero(off)[0])
        raise CohortError(
            f"cohort {show(units.raw_cohort.iloc[u])} of unit {show(units.labels[u])} is not a "
            f"period of the time grid {grid.describe()} ({int(off.sum())} units). Code the "
            "cohort as the first observed treated period."
        )
    return _Rules(pos=pos, drop_unit=drop_unit, log=log, notes=tuple(notes))


def _unit_pool(data, control_pool, codes, labels, unit) -> BoolArray:
    """Per-unit control-pool flag (all True without a pool)."""
    if not control_pool:
        return np.ones(len(labels), dtype=bool)
    flags = _as_bool(data[control_pool])  # rejects missing values before comparing
    if unit is None:
        return flags
    return unit_constant(flags, codes, control_pool, "control_pool", pd.Index(labels))


def _unit_weights(data, weights, codes, labels, unit) -> FloatArray | None:
    """Per-unit weights (validated by the caller); None without weights."""
    if not weights:
        return None
    w = data[weights].to_numpy(dtype=float)
    if unit is None:
        return w
    return unit_constant(w, codes, weights, "weights", pd.Index(labels)).astype(float)


def _check_cohort_dates(raw: pd.Series, time: pd.Series, labels: pd.Index) -> None:
    """Date cohorts must be dates of the (datetime) time column: no silent rounding."""
    if not pd.api.types.is_datetime64_any_dtype(time.dtype):
        raise CohortError(
            f"cohort column {raw.name!r} holds dates but the time column {time.name!r} does "
            "not; give cohorts as values of the time column."
        )
    bad = raw.notna().to_numpy() & ~raw.isin(pd.unique(time.dropna())).to_numpy()
    if bad.any():
        u = int(np.flatnonzero(bad)[0])
        raise CohortError(
            f"cohort {show(raw.iloc[u])} of unit {show(labels[u])} is not a date of the time "
            f"column {time.name!r} ({int(bad.sum())} units). Give the first treated period as "
            "one of the time column's dates."
        )


def _has_rows(codes: IntArray, n: int) -> BoolArray:
    return np.bincount(codes, minlength=n) > 0


def _as_bool(s: pd.Series) -> BoolArray:
    if s.isna().any():
        idx = s.index[np.flatnonzero(s.isna().to_numpy())[0]]
        raise ImpactError(
            f"control_pool column {s.name!r} has {int(s.isna().sum())} missing values (first at "
            f"row {show(idx)}); use True/False for every row."
        )
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype) and s.isin([0, 1]).all():
        return s.to_numpy(dtype=float) == 1
    raise ColumnTypeError(
        f"control_pool column {s.name!r} must be boolean (or 0/1), got dtype {s.dtype}."
    )


def _require_complete(data: pd.DataFrame, col: str, rows: IntArray) -> None:
    miss = data[col].isna().to_numpy(dtype=bool)[rows]
    if miss.any():
        idx = data.index[rows[np.flatnonzero(miss)[0]]]
        raise ClusterError(
            f"cluster variable {col!r} is missing on {int(miss.sum())} rows of the sample "
            f"(first at row {show(idx)}). Choosing a vcov must not change the sample: fill the "
            "cluster ids or drop those rows before estimating."
        )


def cohort_membership(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    never_treated: float | None = None,
    freq: str | None = None,
) -> FloatArray:
    """0/1 per row of ``data``: the unit is treated in that period (period >= cohort).

    The cohort is read exactly as the estimators read it (:func:`staggered_design`);
    always-treated units are 1 throughout, never-treated and late units 0.
    """
    design = staggered_design(
        data, unit=unit, time=time, cohort=cohort, never_treated=never_treated, freq=freq
    )
    member = np.ones(len(data))  # rows outside the design belong to always-treated units
    with np.errstate(invalid="ignore"):
        member[design.rows] = (design.rel_time >= 0).astype(float)
    return member
