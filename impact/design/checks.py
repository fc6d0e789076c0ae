"""Input checks of the staggered design: ids, types, duplicates, flags, cluster ids.

Each raises a typed :mod:`impact.errors` error that names the user's column, ids and values.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import pandas as pd

from impact._typing import BoolArray, IntArray
from impact.data.keys import show
from impact.errors import (
    ClusterError,
    CohortError,
    ColumnTypeError,
    ImpactError,
    InvalidOptionError,
)
from impact.linear.formula import parse_fixed_effects

__all__ = [
    "as_bool",
    "category_by_time",
    "check_anticipation",
    "check_cohort_dates",
    "check_numeric",
    "first_rows",
    "has_rows",
    "refuse_cohorts",
    "require_complete",
    "unit_constant",
]


def unit_constant(
    values: pd.Series | np.ndarray,
    unit_codes: IntArray,
    col: str,
    what: str,
    labels: pd.Index | None = None,
    first_row: IntArray | None = None,
) -> np.ndarray:
    """One value per unit code (0..U-1) of a column that must not vary within units.

    Raises ImpactError naming the unit (its user id when ``labels`` are given) and the
    two values. ``first_row`` (each unit's first row, :func:`first_rows`) saves a pass
    when the caller has it.
    """
    if isinstance(values, pd.DataFrame):
        values = values[col]
    vals = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if first_row is None:
        n_units = int(unit_codes.max()) + 1 if len(unit_codes) else 0
        first_row = first_rows(unit_codes, n_units)
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
    dims = parse_fixed_effects(fixed_effects)
    parts = dims[0] if len(dims) == 1 else ()
    if len(parts) != 2 or time not in parts:
        raise InvalidOptionError(
            f"fixed_effects={fixed_effects!r}: {who} takes one interaction of the time "
            f"column with a category, e.g. 'sector^{time}'."
        )
    return parts[0] if parts[1] == time else parts[1]


def check_anticipation(anticipation: object) -> int:
    if isinstance(anticipation, bool) or not isinstance(anticipation, Integral | float):
        raise InvalidOptionError(
            f"anticipation must be a whole number of periods >= 0, got {anticipation!r}."
        )
    if anticipation < 0 or float(anticipation) != int(anticipation):
        raise InvalidOptionError(
            f"anticipation must be a whole number of periods >= 0, got {anticipation!r}."
        )
    return int(anticipation)


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


def check_cohort_dates(raw: pd.Series, time: pd.Series, labels: pd.Index) -> None:
    """Date cohorts must be dates of the (datetime) time column: no silent rounding."""
    if not pd.api.types.is_datetime64_any_dtype(time.dtype):
        raise CohortError(
            f"cohort column {raw.name!r} holds dates but the time column {time.name!r} does "
            "not; give cohorts as values of the time column."
        )
    bad = raw.notna().to_numpy() & ~raw.isin(pd.unique(time.dropna())).to_numpy()
    refuse_cohorts(
        bad, raw, labels, f"a date of the time column {time.name!r}",
        "Give the first treated period as one of the time column's dates.",
    )  # fmt: skip


def refuse_cohorts(bad: BoolArray, raw: pd.Series, labels: pd.Index, what: str, fix: str) -> None:
    """Raise :class:`CohortError` naming the first unit whose cohort is not ``what``.

    ``bad`` flags units (positions of ``raw`` and ``labels``); nothing happens when none is.
    """
    if bad.any():
        u = int(np.flatnonzero(bad)[0])
        raise CohortError(
            f"cohort {show(raw.iloc[u])} of unit {show(labels[u])} is not {what} "
            f"({int(bad.sum())} units). {fix}"
        )


def first_rows(unit_codes: IntArray, n_units: int) -> IntArray:
    """Each unit code's first row (-1 for a code without rows)."""
    first_row = np.full(n_units, -1)
    first_row[unit_codes[::-1]] = np.arange(len(unit_codes))[::-1]
    return first_row


def has_rows(codes: IntArray, n: int) -> BoolArray:
    return np.bincount(codes, minlength=n) > 0


def as_bool(s: pd.Series) -> BoolArray:
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


def require_complete(data: pd.DataFrame, col: str, rows: IntArray) -> None:
    miss = data[col].isna().to_numpy(dtype=bool)[rows]
    if miss.any():
        idx = data.index[rows[np.flatnonzero(miss)[0]]]
        raise ClusterError(
            f"cluster variable {col!r} is missing on {int(miss.sum())} rows of the sample "
            f"(first at row {show(idx)}). Choosing a vcov must not change the sample: fill the "
            "cluster ids or drop those rows before estimating."
        )
