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

import numpy as np
import pandas as pd

from impact._typing import BoolArray, FloatArray, IntArray
from impact.data.columns import check_columns, missing_mask, require_ids, validate_weights
from impact.data.keys import check_unique_keys, show
from impact.data.panel import _factorize_ids, compact_codes
from impact.data.samplelog import SampleLog
from impact.data.timeindex import unique_numbers
from impact.design.checks import (
    category_by_time,
    check_anticipation,
    check_cohort_dates,
    check_numeric,
    first_rows,
    require_complete,
    unit_constant,
)
from impact.design.grid import PeriodGrid, period_grid, time_numbers
from impact.design.rules import UnitInputs, unit_pool, unit_rules, unit_weights
from impact.errors import EmptySampleError

__all__ = [
    "StaggeredDesign",
    "category_by_time",
    "check_numeric",
    "cohort_membership",
    "show",
    "staggered_design",
    "unit_constant",
]

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
        return unique_numbers(self.t)

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
    anticipation = check_anticipation(anticipation)
    if len(data) == 0:
        raise EmptySampleError("the data frame has no rows: nothing can be estimated.")
    require_ids(data, [(c, r) for c, r in ((unit, "unit id"), (time, "time")) if c])
    check_numeric(data, [*outcomes, *covariates], "column")
    numbers_all, fr = time_numbers(data[time], freq=freq)
    log = SampleLog(n_initial=len(data))
    if unit is not None:
        codes_all, labels_all = _factorize_ids(data[unit])
        check_unique_keys(data, unit, time, codes_all, numbers_all - numbers_all.min())
        first_row = first_rows(codes_all, len(labels_all))
        unit_constant(
            data[cohort], codes_all, cohort, "cohort", pd.Index(labels_all), first_row=first_row
        )
        raw_g = data[cohort].iloc[first_row].reset_index(drop=True)  # keeps the dtype
    else:
        codes_all = np.arange(len(data))
        labels_all = pd.RangeIndex(len(data))
        raw_g = data[cohort].reset_index(drop=True)
    keep0, log0 = missing_mask(data, [*outcomes, *covariates], log)
    if weights:
        validate_weights(data, weights)
    units = UnitInputs(
        codes=codes_all,
        labels=pd.Index(labels_all),
        raw_cohort=raw_g,
        pool=unit_pool(data, control_pool, codes_all, labels_all, unit),
        weights=unit_weights(data, weights, codes_all, labels_all, unit),
    )
    if isinstance(raw_g.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
        raw_g.dtype
    ):
        check_cohort_dates(raw_g, data[time], units.labels)
    # the grid is the grid of the rows that survive every rule: a dropped unit observed in
    # other periods must not change what a period is (iterate until the grid is stable)
    all_rows = bool(keep0.all())  # a complete frame: no row copies below
    grid = period_grid(numbers_all if all_rows else numbers_all[keep0], fr)
    for _ in range(_MAX_GRID_ROUNDS):
        rules = unit_rules(
            units, grid, numbers_all, keep0, log0, anticipation, never_treated, balanced
        )
        if not rules.drop_unit.any():  # no unit dropped: the rows and the grid stand
            keep = keep0
            break
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
    rows = np.arange(len(keep)) if all_rows and keep is keep0 else np.flatnonzero(keep)
    for col in clusters:
        require_complete(data, col, rows)
    row_code = row_unit if len(rows) == len(row_unit) else row_unit[rows]
    # units renumbered over those with rows (the identity when every unit kept a row)
    unit_code, kept_units = compact_codes(row_code, n_u)
    present = np.zeros(n_u, dtype=bool)
    present[kept_units] = True
    unit_cohort = pos[present]
    if not np.isfinite(unit_cohort).any():
        raise EmptySampleError(
            f"no treated unit is left: every unit in the sample is never-treated in {cohort!r}. "
            f"Sample decisions: {str(log).replace(chr(10), ';')} (check the cohort coding, "
            "anticipation and the control pool)."
        )
    t = grid.int_positions(numbers_all if len(rows) == len(numbers_all) else numbers_all[rows])
    return StaggeredDesign(
        unit=unit,
        time=time,
        cohort=cohort,
        rows=rows,
        unit_code=unit_code.astype(np.intp, copy=False),
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
