"""Turn a user's time column (int, Period, datetime) into integer period numbers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from math import gcd

import numpy as np
import pandas as pd

from impact.errors import InvalidTimeError

__all__ = [
    "PeriodGrid",
    "lag_positions",
    "period_grid",
    "period_numbers",
    "time_numbers",
    "unique_numbers",
]

#: Largest integer period read without the float route: every integer up to 2**53 is a
#: float exactly, so periods and cohorts (read as floats) compare exactly.
EXACT_FLOAT_INT = 2**53

#: unique_numbers counts values by position when their range is at most this many
#: times the number of values (one pass, no hashing); otherwise np.unique.
DENSE_RANGE_FACTOR = 4


def unique_numbers(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (periods, positions), as
    ``np.unique``; a counting pass when their range is small (years, grid positions),
    several times faster on millions of rows. Other dtypes go to ``np.unique``."""
    v = np.asarray(values)
    if v.size == 0 or v.dtype.kind not in "iu":
        return np.unique(v)
    lo, hi = int(v.min()), int(v.max())
    if hi - lo > DENSE_RANGE_FACTOR * v.size + 1024 or hi > np.iinfo(np.int64).max:
        return np.unique(v)
    present = np.bincount(v.astype(np.int64, copy=False) - lo, minlength=hi - lo + 1)
    return (np.flatnonzero(present) + lo).astype(v.dtype, copy=False)


def period_numbers(time: pd.Series, *, freq: str | None = None) -> np.ndarray:
    """Integer period number of every row, such that consecutive periods differ by 1.

    Parameters
    ----------
    time : Series
        Integer (or integral float) periods such as years, ``pandas.Period`` values, or
        datetimes (then ``freq`` is required).
    freq : str, optional
        Pandas frequency alias (``"Y"``, ``"Q"``, ``"M"``, ...) used to turn datetimes
        into periods. With Period data it converts to that frequency first.

    Returns
    -------
    ndarray of int64
        Years stay years; Period and datetime values become Period ordinals.

    Raises
    ------
    InvalidTimeError
        Non-integral numbers, strings, or datetimes without ``freq``.
    """
    name = time.name
    dtype = time.dtype
    if isinstance(dtype, pd.PeriodDtype):
        per = time.dt.asfreq(freq) if freq else time
        return per.array.asi8.astype(np.int64)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if freq is None:
            raise InvalidTimeError(
                f"time column {name!r} holds datetimes; pass freq= (e.g. freq='Y' for years, "
                "'Q' for quarters, 'M' for months) so periods can be numbered."
            )
        return time.dt.to_period(freq).array.asi8.astype(np.int64)
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        example = time.dropna().iloc[0] if time.notna().any() else None
        raise InvalidTimeError(
            f"time column {name!r} has dtype {dtype} (example value {example!r}); use integer "
            "periods (e.g. years), pandas Periods, or datetimes with freq=."
        )
    if isinstance(dtype, np.dtype) and dtype.kind == "i":  # no missing, integral: as is
        ints = time.to_numpy().astype(np.int64, copy=False)
        if not len(ints) or max(-int(ints.min()), int(ints.max())) <= EXACT_FLOAT_INT:
            return ints
        # beyond 2**53 the cohorts (read as floats) could not be matched exactly: the
        # float route below keeps one reading of periods and cohorts
    vals = time.to_numpy(dtype=float, na_value=np.nan)
    if not np.all(np.isfinite(vals)):
        raise InvalidTimeError(f"time column {name!r} has infinite values.")
    if np.any(vals != np.round(vals)):
        bad = vals[vals != np.round(vals)][0]
        raise InvalidTimeError(
            f"time column {name!r} has non-integer periods (example {bad!r}); "
            "use integer period numbers."
        )
    return vals.astype(np.int64)


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

    def int_positions(self, numbers: np.ndarray) -> np.ndarray:
        """Grid position (``intp``) of integer period numbers known to lie on the grid."""
        v = np.asarray(numbers)
        if v.dtype.kind not in "iu":
            return np.round(self.positions(v)).astype(np.intp)
        out = v.astype(np.intp) - self.origin  # a new array: the caller's is not touched
        if self.step != 1:
            out //= self.step
        return out

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


def _freq_code(uniq: pd.DatetimeIndex) -> str | None:
    """pandas' inferred frequency as a string (pandas 3.1+ may return an offset object,
    and warns when asked for the string without saying which it wants)."""
    try:
        with pd.option_context("future.infer_freq_returns_offset", True):
            found = pd.infer_freq(uniq)
    except (KeyError, pd.errors.OptionError):  # pandas without the option returns strings
        found = pd.infer_freq(uniq)
    return getattr(found, "freqstr", found)


def _infer_freq(time: pd.Series) -> str:
    """Period frequency of a datetime column observed on a regular calendar grid."""
    uniq = pd.DatetimeIndex(pd.unique(time.dropna())).sort_values()
    code = _freq_code(uniq) if len(uniq) >= 3 else None
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
    numpy_int = isinstance(time.dtype, np.dtype) and time.dtype.kind == "i"  # never missing
    if (
        not numpy_int
        and pd.api.types.is_numeric_dtype(time.dtype)
        and not pd.api.types.is_bool_dtype(time.dtype)
    ):
        vals = time.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(vals).any():
            raise InvalidTimeError(f"time column {time.name!r} has missing values.")
    return period_numbers(time), None


def period_grid(numbers: np.ndarray, freq: str | None) -> PeriodGrid:
    """The regular grid through the observed period numbers (step = gcd of differences)."""
    uniq = unique_numbers(numbers)
    if not len(uniq):
        return PeriodGrid(origin=0, step=1, size=0, freq=freq)
    diffs = np.diff(uniq).astype(np.int64).tolist()
    step = reduce(gcd, diffs, 0) or 1
    size = int((uniq[-1] - uniq[0]) // step) + 1
    return PeriodGrid(origin=int(uniq[0]), step=int(step), size=size, freq=freq)


def lag_positions(unit: np.ndarray, period: np.ndarray, periods: int = 1) -> np.ndarray:
    """Row of ``(unit, period - periods)`` for every row, -1 where that row is absent.

    Looks the earlier period up by number, so a gap gives -1, never a non-adjacent row.
    Negative ``periods`` looks up leads.
    """
    if len(unit) == 0:
        return np.zeros(0, dtype=np.intp)
    span = int(period.max()) + 1 + abs(periods)
    key = unit.astype(np.int64) * span + period
    target = period - periods
    valid = (target >= 0) & (target < span)
    pos = np.asarray(pd.Index(key).get_indexer(np.where(valid, key - periods, -1)), dtype=np.intp)
    pos[~valid] = -1
    return pos
