"""Minimum-cell-count disclosure control of the report's tables.

Statistical offices and research data centres release results only when every published
statistic rests on at least a minimum number of firms (commonly 3 to 10): a mean or an
effect estimated from two firms reveals them. With ``Spec.disclosure_min_firms = k``
(0, the default, turns the control off), the report

- suppresses every statistic of a row resting on 1 to k - 1 firms (estimates, standard
  errors, intervals, p-values, truth, and the count itself) in the written tables, CSV
  included, and marks the row as suppressed;
- replaces counts of 1 to k - 1 firms in count tables (the roll-out) by ``< k``;
- states in each table's note how many statistics it suppressed.

A count of zero is not disclosive and stays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DisclosureError

__all__ = [
    "SUPPRESSED",
    "check_engine_treated_firms",
    "check_treated_firms",
    "disclosure_note",
    "small_counts",
    "suppress_counts",
    "suppress_rows",
    "treated_firms_by_event_time",
    "treated_firms_from_cells",
]

#: Numeric columns that identify a row rather than report a statistic: kept.
IDENTIFIERS = ("exposure_time", "rel_time", "event time", "year", "time", "cohort")
#: Marker of a suppressed row (the ``suppressed`` column of the tidy frame).
SUPPRESSED = "suppressed"


def small_counts(counts: pd.Series, min_firms: int) -> np.ndarray:
    """True where a count is disclosive: between 1 and ``min_firms - 1`` firms."""
    v = pd.to_numeric(counts, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.isfinite(v) & (v >= 1) & (v < min_firms)


def suppress_rows(
    frame: pd.DataFrame, count: str, min_firms: int, keep: tuple[str, ...] = IDENTIFIERS
) -> tuple[pd.DataFrame, int]:
    """``frame`` with the numbers of every row resting on fewer than ``min_firms`` firms
    (column ``count``) removed, and the number of rows suppressed.

    Numeric columns other than ``keep`` (identifiers such as event times) become missing
    and a ``suppressed`` column (bool) marks the rows; ``frame`` itself is not modified.
    Nothing changes when ``min_firms`` is 0 or 1.
    """
    if min_firms <= 1 or frame.empty or count not in frame.columns:
        return frame, 0
    small = small_counts(frame[count], min_firms)
    if not small.any():
        return frame, 0
    out = frame.copy()
    numeric = [
        c for c in out.columns
        if c not in keep and (pd.api.types.is_numeric_dtype(out[c]) or c == count)
        and not pd.api.types.is_bool_dtype(out[c])
    ]  # fmt: skip
    for c in numeric:
        if pd.api.types.is_integer_dtype(out[c]):
            out[c] = out[c].astype("Int64").mask(small)
        else:
            out[c] = pd.to_numeric(out[c], errors="coerce").mask(small)
    out[SUPPRESSED] = small
    return out, int(small.sum())


def suppress_counts(
    frame: pd.DataFrame, columns: tuple[str, ...], min_firms: int
) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
    """Count columns with disclosive counts removed: (tidy frame with them missing,
    display frame showing ``< k`` in their place or None if nothing was suppressed,
    number of counts suppressed)."""
    if min_firms <= 1 or frame.empty:
        return frame, None, 0
    cols = [c for c in columns if c in frame.columns]
    masks = {c: small_counts(frame[c], min_firms) for c in cols}
    n = int(sum(m.sum() for m in masks.values()))
    if not n:
        return frame, None, 0
    out, shown = frame.copy(), frame.copy()
    for c, m in masks.items():
        if m.any():
            out[c] = out[c].astype("Int64").mask(m)
            shown[c] = [f"< {min_firms}" if s else str(v) for v, s in zip(frame[c], m, strict=True)]
    return out, shown, n


def disclosure_note(n: int, min_firms: int, what: str = "statistics") -> str:
    """The sentence a table's note gains when it suppressed ``n`` items."""
    if not n:
        return ""
    return (
        f" Disclosure control: {n} {what} resting on fewer than {min_firms} firms "
        "suppressed (shown as 'suppressed' or '< k')."
    )


def _member_cohorts(data: pd.DataFrame, unit: str, time: str, cohort: str) -> pd.Series:
    """Each member firm's join period, for firms joining within the observed periods."""
    g = pd.to_numeric(data[cohort], errors="coerce").groupby(data[unit].to_numpy()).first()
    last = pd.to_numeric(data[time], errors="coerce").max()
    return g[g.notna() & (g <= last)]


def check_treated_firms(data: pd.DataFrame, spec: object, cohort: str) -> None:
    """Refuse a report whose effect estimates would all rest on fewer than the spec's
    ``disclosure_min_firms`` member firms (every effect table and figure would have to
    be suppressed): a :class:`~impact.errors.DisclosureError` naming the count."""
    if int(getattr(spec, "disclosure_min_firms", 0)) <= 1:
        return
    c = spec.columns  # type: ignore[attr-defined]
    _refuse_few(len(_member_cohorts(data, c.unit, c.time, cohort)), spec)


def check_engine_treated_firms(source: Any, spec: object) -> None:
    """:func:`check_treated_firms` on a panel held by a query engine (an
    :class:`~impact.report.engine_input.EngineInput`), from its member counts by cohort."""
    if int(getattr(spec, "disclosure_min_firms", 0)) <= 1:
        return
    units = source.member_units()
    _refuse_few(int(units.loc[units["cohort"] <= source.last_period(), "firms"].sum()), spec)


def treated_firms_from_cells(
    cells: pd.DataFrame, last: float, event_times: list[int]
) -> dict[int, int]:
    """:func:`treated_firms_by_event_time` from the member rows by cohort and period
    (``cohort``, ``time``, ``rows``: one row per firm and period), for cohorts joining by
    period ``last``."""
    c = cells[cells["cohort"] <= last]
    counts = c.groupby(c["time"] - c["cohort"])["rows"].sum()
    return {k: int(counts.get(float(k), 0)) for k in event_times}


def _refuse_few(n: int, spec: object) -> None:
    k = int(getattr(spec, "disclosure_min_firms", 0))
    if 1 <= n < k:
        raise DisclosureError(
            f"disclosure_min_firms = {k}, but fewer than {k} firms join a cluster within the "
            "observed years: every effect estimate would rest on them, so nothing of the "
            "report could be released. Lower the threshold only if your data centre allows, "
            "or pool more data."
        )


def treated_firms_by_event_time(
    data: pd.DataFrame, unit: str, time: str, cohort: str, event_times: list[int]
) -> dict[int, int]:
    """How many member firms an event-time estimate rests on: the member firms with a row
    in period ``g + e`` (a firm that left the panel before it counts no more)."""
    g = _member_cohorts(data, unit, time, cohort)
    units = data[unit].to_numpy()
    t = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float)
    e = t - g.reindex(units).to_numpy(dtype=float)
    seen = pd.DataFrame({"u": units, "e": e})[np.isfinite(e)].drop_duplicates()
    counts = seen["e"].value_counts()
    return {k: int(counts.get(float(k), 0)) for k in event_times}
