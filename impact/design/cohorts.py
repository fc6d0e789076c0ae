"""Cohort coding: the first treated period of each unit, NaN for never-treated units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.data.keys import show
from impact.data.panel import Panel
from impact.errors import ColumnTypeError, ImpactError, MissingIdError, NonAbsorbingTreatmentError

__all__ = [
    "NonAbsorbingTreatmentError",
    "cohort_from_membership",
    "first_treated",
    "normalize_cohorts",
    "period_label",
    "zero_one",
]


def normalize_cohorts(
    cohort: pd.Series, *, periods: np.ndarray, never_treated: float | None = None
) -> np.ndarray:
    """Cohort values as floats with NaN for never-treated units.

    NaN is always never-treated. ``0`` and ``inf`` are read as never-treated too (the R
    ``did`` / Stata ``csdid`` convention) unless 0 is an observed period, in which case a
    typed error asks for ``never_treated=``. ``never_treated`` names an explicit code.

    Raises
    ------
    ImpactError
        Non-numeric cohorts, or 0 used both as a period and, possibly, as a code.
    """
    if not pd.api.types.is_numeric_dtype(cohort):
        raise ImpactError(
            f"cohort column {cohort.name!r} must hold numeric periods (first treated period), "
            f"got dtype {cohort.dtype}."
        )
    g = cohort.to_numpy(dtype=float, na_value=np.nan).copy()
    if never_treated is not None:
        g[g == never_treated] = np.nan
        if never_treated in set(periods.tolist()):
            raise ImpactError(
                f"never_treated={never_treated!r} is also an observed period; choose a code "
                "that is not a period (or use NaN)."
            )
        return g
    g[np.isinf(g)] = np.nan
    if (g == 0).any():
        if 0 in set(periods.tolist()):
            raise ImpactError(
                f"cohort column {cohort.name!r} contains 0, which is also an observed period: "
                "it cannot mean 'never treated'. Code never-treated units as NaN or pass "
                "never_treated=<code>."
            )
        g[g == 0] = np.nan
    return g


def zero_one(values: pd.Series, column: str, role: str) -> np.ndarray:
    """A 0/1 (or boolean) column as floats, NaN where missing; any dtype (numbers, bools,
    objects or categories holding 0/1/True/False) is read.

    Raises
    ------
    ColumnTypeError
        A value other than 0, 1, True, False (the message shows the first).
    """
    present = values.notna().to_numpy()
    ok = values.isin([0, 1, True, False]).to_numpy() | ~present
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise ColumnTypeError(
            f"{role} column {column!r} must be 0/1 or boolean, got dtype {values.dtype} (e.g. "
            f"{show(values.iloc[i])} at row {show(values.index[i])}). Map it to 0/1 first, e.g. "
            f"df[{column!r}].map({{'yes': 1, 'no': 0}})."
        )
    out = np.full(len(values), np.nan)
    out[present] = values[present].astype(float).to_numpy()
    return out


def cohort_from_membership(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    member: str,
    allow_exit: bool = False,
) -> pd.Series:
    """First period in which each unit's 0/1 membership is 1, aligned to the rows of ``data``.

    Parameters
    ----------
    data : DataFrame
    unit, time : str
    member : str
        0/1 (or boolean) treatment status per row.
    allow_exit : bool
        If False (default), a unit whose membership goes from 1 back to 0 raises
        :class:`NonAbsorbingTreatmentError` showing its path; if True its first entry is
        used.

    Returns
    -------
    Series
        Float, NaN for units never treated in the data; named ``"cohort"``.

    Examples
    --------
    In ``jtrain`` (Wooldridge) ``grant`` is 1 only in the year a firm received its training grant;
    "trained" (a grant this year or last year) switches on for good.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain")
    >>> jtrain["trained"] = ((jtrain["grant"] + jtrain["grant_1"]) > 0).astype(int)
    >>> jtrain["cohort"] = impact.cohort_from_membership(
    ...     jtrain, unit="fcode", time="year", member="trained")
    >>> firms = jtrain.groupby("fcode")["cohort"].first()
    >>> firms.value_counts().sort_index().to_dict(), int(firms.isna().sum())
    ({1988.0: 36, 1989.0: 30}, 91)
    """
    return first_treated(
        data, unit=unit, time=time, member=member, allow_exit=allow_exit,
        fix="Pass allow_exit=True to use the first entry.",
    )  # fmt: skip


def first_treated(
    data: pd.DataFrame, *, unit: str, time: str, member: str, allow_exit: bool, fix: str
) -> pd.Series:
    """:func:`cohort_from_membership` with the caller's advice (``fix``) for a unit that
    leaves treatment."""
    check_columns(data, [member], role="membership column")
    panel = Panel(data, unit=unit, time=time)
    d = zero_one(data[member], member, "membership")
    if np.isnan(d).any():
        i = int(np.flatnonzero(np.isnan(d))[0])
        raise MissingIdError(
            f"membership column {member!r} is missing on {int(np.isnan(d).sum())} rows (first "
            f"at row {show(data.index[i])}); every row needs a treatment status."
        )
    frame = pd.DataFrame(
        {"u": panel.unit_codes, "p": panel.period, "d": d, "row": np.arange(len(d))}
    )
    order = np.lexsort((frame["p"].to_numpy(), frame["u"].to_numpy()))
    f = frame.iloc[order]
    prev = f.groupby("u")["d"].shift()
    exits = (prev == 1) & (f["d"] == 0)
    if exits.any() and not allow_exit:
        u0 = f.loc[exits[exits].index[0], "u"]
        path = f[f["u"] == u0]
        times = data[time].to_numpy()[path["row"].to_numpy()]
        shown = ", ".join(
            f"{period_label(p)}: {int(x)}" for p, x in zip(times, path["d"], strict=True)
        )
        raise NonAbsorbingTreatmentError(
            f"unit {show(panel.unit_labels[u0])} leaves treatment ({shown}); staggered-adoption "
            f"methods need absorbing treatment. {fix}"
        )
    first = f[f["d"] == 1].groupby("u")["p"].min()
    cohort = pd.Series(panel.unit_codes).map(first).astype(float)
    return pd.Series(cohort.to_numpy(), index=data.index, name="cohort")


def period_label(value: object) -> str:
    """A period as the user wrote it (a date without its midnight time)."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value.item() if isinstance(value, np.generic) else value)
