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
    unit_codes, period_codes : ndarray of int
        Per row: unit code in ``0..U-1`` and period code ``>= 0``.
    """
    span = int(period_codes.max()) + 1 if len(period_codes) else 1
    n_units = int(unit_codes.max()) + 1 if len(unit_codes) else 0
    key = unit_codes.astype(np.int64) * span + period_codes.astype(np.int64)
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
