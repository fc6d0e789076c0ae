"""Staggered-adoption data: unit-by-period arrays, cohorts, control pools, sample rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.columns import check_columns, missing_mask, validate_weights
from impact.data.panel import Panel, compact_codes
from impact.data.samplelog import SampleLog
from impact.design.cohorts import normalize_cohorts
from impact.errors import ImpactError, InvalidOptionError

__all__ = ["StaggeredData", "category_by_time", "prepare_staggered", "unit_constant"]


@dataclass(frozen=True)
class StaggeredData:
    """Unit-by-period arrays of the estimation sample."""

    y: FloatArray  # (n_units, n_periods), NaN where unobserved
    x: FloatArray  # (n_units, n_periods, k) covariates, NaN where unobserved
    cohort: FloatArray  # (n_units,), NaN = never treated
    pool: np.ndarray  # (n_units,) bool: may serve as control
    weights: FloatArray  # (n_units,)
    cluster: np.ndarray | None  # (n_units,) codes
    periods: np.ndarray  # (n_periods,) period numbers
    units: pd.Index


def unit_constant(frame: pd.DataFrame, unit_codes: np.ndarray, col: str, what: str) -> np.ndarray:
    """One value per unit code (0..U-1) of a column that must not vary within units."""
    values = frame[col].to_numpy()
    n_units = int(unit_codes.max()) + 1 if len(unit_codes) else 0
    first_row = np.full(n_units, -1)
    first_row[unit_codes[::-1]] = np.arange(len(unit_codes))[::-1]
    first = values[first_row]
    ref = first[unit_codes]
    same = pd.isna(values) & pd.isna(ref)
    differs = ~((values == ref) | same)
    if differs.any():
        bad = unit_codes[np.flatnonzero(differs)[0]]
        raise ImpactError(
            f"{what} column {col!r} varies within a unit (unit code {bad}); it must be constant "
            "over time for every unit."
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


def prepare_staggered(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str],
    control_pool: str | None,
    weights: str | None,
    cluster: str | None,
    anticipation: int,
    panel_mode: str,
    never_treated: float | None,
) -> tuple[StaggeredData, SampleLog, list[str]]:
    cols = [y, unit, time, cohort, *covariates]
    cols += [c for c in (control_pool, weights, cluster) if c]
    check_columns(data, list(dict.fromkeys(cols)))
    notes: list[str] = []
    p0 = Panel(data, unit=unit, time=time)
    log = SampleLog(n_initial=len(data))
    frame = data[list(dict.fromkeys(cols))]
    keep, log = missing_mask(frame, [y, *covariates], log)
    frame, unit_codes_all = frame.loc[keep], p0.unit_codes[keep]
    period = p0.period[keep]
    if weights:
        validate_weights(frame, weights)
    codes, labels = compact_codes(unit_codes_all, p0.n_units)
    units = p0.unit_labels[labels]
    periods = p0.period_min + compact_codes(p0.time_codes[keep], int(p0.time_codes.max()) + 1)[1]
    g = normalize_cohorts(
        pd.Series(unit_constant(frame, codes, cohort, "cohort"), name=cohort),
        periods=periods,
        never_treated=never_treated,
    )
    late = g > periods.max()
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period are treated as "
            "never-treated."
        )
        g[late] = np.nan
    always = g <= periods.min() + anticipation
    pool = (
        unit_constant(frame, codes, control_pool, "control_pool").astype(bool)
        if control_pool
        else np.ones(len(units), dtype=bool)
    )
    drop_unit = always.copy()
    n_always_rows = int(np.count_nonzero(always[codes]))
    log = log.with_drop(
        "always_treated",
        "rows of units treated in the first period (always-treated)",
        n_always_rows,
        {"units": int(always.sum())},
    )
    useless = np.isnan(g) & ~pool & ~drop_unit
    log = log.with_drop(
        "control_pool",
        "rows of never-treated units outside the control pool",
        int(np.count_nonzero(useless[codes])),
        {"units": int(useless.sum())},
    )
    drop_unit |= useless
    T = len(periods)
    tpos = np.searchsorted(periods, period)
    if panel_mode == "balanced":
        counts = np.bincount(codes, minlength=len(units))
        unbal = (counts < T) & ~drop_unit
        log = log.with_drop(
            "unbalanced",
            "rows of units not observed in every period (panel='balanced')",
            int(np.count_nonzero(unbal[codes])),
            {"units": int(unbal.sum())},
        )
        drop_unit |= unbal
    keep_u = ~drop_unit
    new_code = np.cumsum(keep_u) - 1
    row_ok = keep_u[codes]
    n = int(keep_u.sum())
    # one flat (column-major) position per used row, shared by the outcome and covariates
    flat = new_code[codes[row_ok]] + n * tpos[row_ok]
    Y = np.full((n, T), np.nan, order="F")
    Y.reshape(-1, order="F")[flat] = frame[y].to_numpy(dtype=float)[row_ok]
    X = np.full((n, T, len(covariates)), np.nan, order="F")  # contiguous (unit) columns
    for j, c in enumerate(covariates):
        X[:, :, j].reshape(-1, order="F")[flat] = frame[c].to_numpy(dtype=float)[row_ok]
    w = (
        unit_constant(frame, codes, weights, "weights").astype(float)[keep_u]
        if weights
        else np.ones(n)
    )
    cl = None
    if cluster:
        raw = unit_constant(frame, codes, cluster, "cluster")
        if pd.isna(raw).any():
            raise ImpactError(f"cluster variable {cluster!r} has missing values.")
        cl = pd.factorize(raw[keep_u], sort=True)[0]
    wide = StaggeredData(
        y=Y,
        x=X,
        cohort=g[keep_u],
        pool=pool[keep_u],
        weights=w,
        cluster=cl,
        periods=periods,
        units=units[keep_u],
    )
    return wide, log, notes
