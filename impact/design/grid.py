"""The period grid of a staggered design: time and cohorts read once, counted in periods.

A panel observed in 2000, 2002, 2004, … has a grid of step 2: event time, anticipation
and windows are counted in *periods* (grid steps), so relabelling the periods 1, 2, 3, …
or as pandas ``Period`` years gives identical results. Cohorts must lie on the grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from math import gcd

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.timeindex import period_numbers
from impact.errors import CohortError, InvalidTimeError

__all__ = ["PeriodGrid", "cohort_numbers", "period_grid", "time_numbers"]

#: pandas offset prefixes (``pd.infer_freq`` output) and the period frequency they mean
_INFERRED = (
    ("Y", "Y"),
    ("A", "Y"),
    ("BY", "Y"),
    ("BA", "Y"),
    ("Q", "Q"),
    ("BQ", "Q"),
    ("M", "M"),
    ("BM", "M"),
    ("MS", "M"),
    ("W", "W"),
    ("D", "D"),
    ("B", "D"),
)


@dataclass(frozen=True)
class PeriodGrid:
    """Regular grid of period numbers: ``origin + step * k`` for ``k = 0 .. size - 1``.

    Attributes
    ----------
    origin : int
        Period number of the first observed period (a year, or a pandas Period ordinal).
    step : int
        Distance between consecutive grid points (the gcd of observed differences).
    size : int
        Grid points from the first to the last observed period (holes included).
    freq : str or None
        Period frequency when the user's time is Period or datetime; None for integers.
    """

    origin: int
    step: int
    size: int
    freq: str | None = None

    def positions(self, numbers: np.ndarray) -> np.ndarray:
        """Grid position of period numbers known to lie on the grid (float in, float out)."""
        return (np.asarray(numbers, dtype=float) - self.origin) / self.step

    def labels(self, positions: np.ndarray | list[int]) -> list:
        """The user's label of each grid position: an int, or a ``pandas.Period``."""
        nums = self.origin + self.step * np.asarray(positions, dtype=np.int64)
        if self.freq is None:
            return [int(v) for v in nums]
        return list(pd.PeriodIndex.from_ordinals(nums, freq=self.freq))

    def label(self, position: float) -> object:
        """One label (see :meth:`labels`)."""
        return self.labels([int(position)])[0]

    def describe(self) -> str:
        """``"2000, 2002, …, 2010 (step 2)"``."""
        first, last = self.label(0), self.label(self.size - 1)
        step = f" (step {self.step})" if self.step != 1 else ""
        return f"{first} … {last}{step}"


def _infer_freq(time: pd.Series) -> str:
    """Period frequency of a datetime column observed on a regular calendar grid."""
    uniq = pd.DatetimeIndex(pd.unique(time.dropna())).sort_values()
    code = pd.infer_freq(uniq) if len(uniq) >= 3 else None
    if code is not None:
        head = code.split("-")[0].rstrip("0123456789E")
        for prefix, freq in _INFERRED:
            if head == prefix:
                return freq
    # irregular spacing: the coarsest calendar unit on which every date is a period start
    for freq in ("Y", "Q", "M"):
        if (uniq.to_period(freq).to_timestamp() == uniq).all():
            return freq
    raise InvalidTimeError(
        f"time column {time.name!r} holds datetimes on no regular calendar grid (e.g. "
        f"{uniq[0]!s}); pass freq= ('Y', 'Q', 'M', 'W' or 'D') so periods can be numbered."
    )


def time_numbers(time: pd.Series, *, freq: str | None = None) -> tuple[np.ndarray, str | None]:
    """Period number of every row and the frequency they are counted in.

    Integers stay as they are (``freq`` None); ``pandas.Period`` values become ordinals of
    their own (or the given) frequency; datetimes become ordinals of ``freq``, inferred from
    a regular calendar grid when not given.

    Raises
    ------
    InvalidTimeError
        Strings, non-integral numbers, non-finite values, or datetimes on no calendar grid.
    """
    if isinstance(time.dtype, pd.PeriodDtype):
        return period_numbers(time, freq=freq), freq or time.array.freqstr
    if pd.api.types.is_datetime64_any_dtype(time.dtype):
        f = freq or _infer_freq(time)
        return period_numbers(time, freq=f), f
    if freq is not None:
        raise InvalidTimeError(
            f"freq={freq!r} applies to Period or datetime time columns; {time.name!r} holds "
            f"{time.dtype} values (integer periods need no freq)."
        )
    if pd.api.types.is_numeric_dtype(time.dtype) and not pd.api.types.is_bool_dtype(time.dtype):
        vals = time.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(vals).any():
            raise InvalidTimeError(f"time column {time.name!r} has missing values.")
    return period_numbers(time), None


def period_grid(numbers: np.ndarray, freq: str | None) -> PeriodGrid:
    """The regular grid through the observed period numbers (step = gcd of differences)."""
    uniq = np.unique(numbers)
    if not len(uniq):
        return PeriodGrid(origin=0, step=1, size=0, freq=freq)
    diffs = np.diff(uniq).astype(np.int64).tolist()
    step = reduce(gcd, diffs, 0) or 1
    size = int((uniq[-1] - uniq[0]) // step) + 1
    return PeriodGrid(origin=int(uniq[0]), step=int(step), size=size, freq=freq)


def cohort_numbers(cohort: pd.Series, grid: PeriodGrid) -> FloatArray:
    """Cohort values as period numbers of ``grid`` (float; never-treated codes untouched).

    Numeric cohorts with integer time are period numbers already. With Period or datetime
    time, cohorts may be Periods or datetimes (read in the grid's frequency), or — for an
    annual grid — numeric years.

    Raises
    ------
    CohortError
        Strings, booleans, or numeric cohorts with a non-annual Period/datetime grid.
    """
    name = cohort.name
    if isinstance(cohort.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(
        cohort.dtype
    ):
        if grid.freq is None:
            raise CohortError(
                f"cohort column {name!r} holds dates but the time column holds integers; "
                "code both the same way (e.g. integer years)."
            )
        per = cohort if isinstance(cohort.dtype, pd.PeriodDtype) else None
        if per is not None:
            per = per.dt.asfreq(grid.freq)
        else:
            per = cohort.dt.to_period(grid.freq)
        out = per.array.asi8.astype(float)
        out[per.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(cohort.dtype) or not pd.api.types.is_numeric_dtype(cohort.dtype):
        example = cohort.dropna().iloc[0] if cohort.notna().any() else None
        raise CohortError(
            f"cohort column {name!r} must hold the first treated period as numeric periods "
            f"(or Periods like the time column), got dtype {cohort.dtype} (example "
            f"{example!r}). Build it "
            "from a 0/1 membership column with impact.cohort_from_membership."
        )
    g = cohort.to_numpy(dtype=float, na_value=np.nan).copy()
    if grid.freq is None:
        return g
    if not str(grid.freq).upper().startswith(("Y", "A")):
        raise CohortError(
            f"cohort column {name!r} is numeric but time is counted in {grid.freq!r} periods; "
            "give cohorts as pandas Periods (or dates) of the same frequency."
        )
    finite = np.isfinite(g) & (g != 0)
    years = g[finite]
    if (years != np.round(years)).any():
        bad = years[years != np.round(years)][0]
        raise CohortError(
            f"cohort column {name!r} has a non-integer year {bad!r}; cohorts must be periods "
            "of the time grid."
        )
    ordinal = {y: pd.Period(year=int(y), freq=grid.freq).ordinal for y in np.unique(years)}
    g[finite] = [float(ordinal[y]) for y in years]
    return g
