"""Panel: a validated firm-year panel with integer unit and period codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.columns import check_columns, require_ids
from impact.data.keys import check_unique_keys
from impact.data.samplelog import SampleLog
from impact.data.timeindex import lag_positions, period_grid, time_numbers

__all__ = ["Panel", "compact_codes"]


def compact_codes(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber integer codes in ``[0, size)`` to ``0..k-1`` keeping their order.

    Returns the new codes and the old code of every new one (O(n), no hashing); the
    codes themselves (as ``intp``) when every code in ``[0, size)`` occurs.
    """
    present = np.zeros(size, dtype=bool)
    present[codes] = True
    old = np.flatnonzero(present)
    if len(old) == size:
        return codes.astype(np.intp, copy=False), old
    new = np.cumsum(present, dtype=np.intp) - 1
    return new[codes], old


def _factorize_ids(ids: pd.Series) -> tuple[np.ndarray, object]:
    """Sorted factorisation of an id column; integer ids in a dense range skip hashing."""
    if (
        pd.api.types.is_integer_dtype(ids.dtype)
        and not isinstance(ids.dtype, pd.CategoricalDtype)
        and len(ids)
    ):
        if int(ids.max()) > np.iinfo(np.int64).max:  # uint64 beyond int64: hash instead
            codes, labels = pd.factorize(ids, sort=True)
            return codes.astype(np.intp), labels
        values = ids.to_numpy(dtype=np.int64)
        lo, hi = int(values.min()), int(values.max())
        if hi - lo <= 4 * len(values) + 1_000_000:
            codes, old = compact_codes((values - lo).astype(np.intp), hi - lo + 1)
            labels = old + lo
            if isinstance(ids.dtype, np.dtype):
                return codes, labels.astype(ids.dtype)
            return codes, pd.array(labels, dtype=ids.dtype)
    codes, labels = pd.factorize(ids, sort=True)
    return codes.astype(np.intp), labels


class Panel:
    """A validated panel: unit and time identifiers checked and coded as integers.

    The user's frame is never modified; the panel keeps a reference to it and
    separate integer arrays aligned with its rows.

    Parameters
    ----------
    data : DataFrame
        One row per (unit, time).
    unit : str
        Unit identifier column (int, str or categorical).
    time : str
        Time column: integer periods on any regular grid (years, or every second year, …),
        ``pandas.Period`` or datetimes (``freq`` inferred from a regular calendar grid).
    freq : str, optional
        Frequency alias for datetime or Period time columns (``"Y"``, ``"Q"``, ``"M"``).

    Raises
    ------
    MissingIdError
        A unit or time value is missing.
    DuplicateRowsError
        Two rows share a (unit, time) pair; the message lists the first pairs.
    InvalidTimeError
        The time column cannot be numbered.

    Examples
    --------
    >>> import pandas as pd, impact
    >>> df = pd.DataFrame({"firm": ["a", "a", "b"], "year": [2000, 2001, 2001], "y": [1., 2., 3.]})
    >>> p = impact.Panel(df, unit="firm", time="year")
    >>> p.n_units, p.n_periods, p.is_balanced
    (2, 2, False)
    """

    def __init__(
        self, data: pd.DataFrame, *, unit: str, time: str, freq: str | None = None
    ) -> None:
        check_columns(data, [unit], role="unit column")
        check_columns(data, [time], role="time column")
        require_ids(data, [(unit, "unit id"), (time, "time")])
        self._data = data
        self.unit = unit
        self.time = time
        self.freq = freq
        codes, labels = _factorize_ids(data[unit])
        self.unit_codes: np.ndarray = codes
        self.unit_labels: pd.Index = pd.Index(labels, name=unit)
        self.period, self.freq = time_numbers(data[time], freq=freq)
        self.period_min = int(self.period.min()) if len(self.period) else 0
        #: the regular grid through the observed periods (step = gcd of their distances)
        self.grid = period_grid(self.period, self.freq)
        #: period of every row as a grid position: lags count periods, so a panel observed
        #: every second year lags by two years
        self.time_codes: np.ndarray = ((self.period - self.grid.origin) // self.grid.step).astype(
            np.intp
        )
        check_unique_keys(data, unit, time, self.unit_codes, self.time_codes)
        self.sample_log = SampleLog(n_initial=len(data))

    # ------------------------------------------------------------------ properties
    @property
    def data(self) -> pd.DataFrame:
        """The user's frame (not a copy; never modified by impact)."""
        return self._data

    @property
    def n_obs(self) -> int:
        """Number of rows."""
        return len(self.unit_codes)

    @property
    def n_units(self) -> int:
        """Number of distinct units."""
        return len(self.unit_labels)

    @property
    def periods(self) -> np.ndarray:
        """Sorted distinct observed period numbers."""
        return np.unique(self.period)

    @property
    def n_periods(self) -> int:
        """Number of distinct observed periods."""
        return len(self.periods)

    @property
    def is_balanced(self) -> bool:
        """True if every unit is observed in every observed period."""
        return self.n_obs == self.n_units * self.n_periods

    def gaps(self) -> pd.DataFrame:
        """Units with a hole between their first and last period.

        Returns
        -------
        DataFrame
            Columns ``unit``, ``first``, ``last``, ``n_obs``, ``n_missing`` (periods
            missing inside the unit's span), one row per unit with gaps.
        """
        df = pd.DataFrame({"u": self.unit_codes, "p": self.time_codes})
        g = df.groupby("u")["p"].agg(["min", "max", "size"])
        g["n_missing"] = g["max"] - g["min"] + 1 - g["size"]
        g = g[g["n_missing"] > 0]
        first = self.grid.origin + self.grid.step * g["min"].to_numpy()
        last = self.grid.origin + self.grid.step * g["max"].to_numpy()
        return pd.DataFrame(
            {
                "unit": self.unit_labels[g.index.to_numpy()],
                "first": first,
                "last": last,
                "n_obs": g["size"].to_numpy(),
                "n_missing": g["n_missing"].to_numpy(),
            }
        )

    @property
    def has_gaps(self) -> bool:
        """True if some unit skips a period inside its observed span."""
        return len(self.gaps()) > 0

    # ------------------------------------------------------------------ lags
    def lag(self, column: str, periods: int = 1) -> pd.Series:
        """Value of ``column`` ``periods`` periods earlier for the same unit.

        Lags are looked up by period number, never by row position, so gaps give NaN
        rather than the value of an earlier, non-adjacent period. Negative ``periods``
        gives leads.

        Returns
        -------
        Series
            Aligned to the data's index, float (or object for non-numeric columns).
        """
        check_columns(self._data, [column])
        pos = lag_positions(self.unit_codes, self.time_codes, periods)
        values = self._data[column].to_numpy()
        if pd.api.types.is_numeric_dtype(self._data[column]):
            out = np.where(pos >= 0, values[np.maximum(pos, 0)].astype(float), np.nan)
        else:
            out = np.where(pos >= 0, values[np.maximum(pos, 0)], None)
        name = f"{column}_lag{periods}" if periods >= 0 else f"{column}_lead{-periods}"
        return pd.Series(out, index=self._data.index, name=name)

    def lead(self, column: str, periods: int = 1) -> pd.Series:
        """Value of ``column`` ``periods`` periods later for the same unit (see :meth:`lag`)."""
        return self.lag(column, -periods)

    def __repr__(self) -> str:
        bal = "balanced" if self.is_balanced else "unbalanced"
        return (
            f"Panel({self.n_units} units x {self.n_periods} periods, {self.n_obs} rows, {bal}; "
            f"unit={self.unit!r}, time={self.time!r})"
        )
