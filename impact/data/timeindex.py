"""Turn a user's time column (int, Period, datetime) into integer period numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.errors import InvalidTimeError

__all__ = ["lag_positions", "period_numbers"]


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
