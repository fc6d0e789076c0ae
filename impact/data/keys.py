"""One check that a panel has one row per (unit, period), shared by :class:`Panel` and
the staggered design."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.errors import DuplicateRowsError

__all__ = ["check_unique_keys", "show"]

#: (unit, period) pairs quoted in the error
_MAX_LISTED = 5
#: the dense occupancy table is used while it has at most this many slots per row (+ a floor)
_DENSE_SLOTS_PER_ROW = 8
_DENSE_FLOOR = 1_000_000


def show(value: object) -> str:
    """``repr`` of a user's value without numpy's type wrapper (``5``, not ``np.int64(5)``)."""
    item = getattr(value, "item", None)
    if isinstance(value, np.generic) and item is not None:
        value = item()
    return repr(value)


def check_unique_keys(
    data: pd.DataFrame, unit: str, time: str, unit_codes: np.ndarray, period_codes: np.ndarray
) -> None:
    """Raise :class:`DuplicateRowsError` when a (unit, period) pair has more than one row.

    Parameters
    ----------
    data : DataFrame
        The user's frame (only read, to quote the offending pairs).
    unit, time : str
        Column names, for the message.
    unit_codes : ndarray of int
        Per row: unit code in ``0..U-1``.
    period_codes : ndarray of int
        Per row: any integer code of the period (equal periods, equal codes).
    """
    if not len(unit_codes):
        return
    periods = np.asarray(period_codes, dtype=np.int64)
    if int(periods.min()) < 0 or int(periods.max()) >= len(periods):
        # sparse or negative codes (epoch seconds, a 2**62 gap): rank them, so that the
        # key below cannot overflow and equal keys mean equal pairs
        periods = np.unique(periods, return_inverse=True)[1].astype(np.int64)
    span = int(periods.max()) + 1
    n_units = int(unit_codes.max()) + 1
    key = unit_codes.astype(np.int64) * span + periods
    size = n_units * span
    if size <= _DENSE_SLOTS_PER_ROW * len(key) + _DENSE_FLOOR:
        # dense occupancy table: O(n), no hashing; only a clash needs the slow path
        seen = np.zeros(size, dtype=bool)
        seen[key] = True
        if int(np.count_nonzero(seen)) == len(key):
            return
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    pairs = data.loc[dup, [unit, time]].drop_duplicates().head(_MAX_LISTED)
    listed = ", ".join(f"({show(u)}, {show(v)})" for u, v in pairs.itertuples(index=False))
    n_pairs = int(pd.Series(key[dup]).nunique())
    raise DuplicateRowsError(
        f"{n_pairs} ({unit}, {time}) pairs appear more than once ({int(dup.sum())} rows), "
        f"e.g. {listed}. A panel needs one row per unit and period: aggregate or remove "
        "the duplicates explicitly."
    )
