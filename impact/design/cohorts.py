"""Cohort coding: the first treated period of each unit, NaN for never-treated units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.data.panel import Panel
from impact.errors import ColumnTypeError, ImpactError

__all__ = ["NonAbsorbingTreatmentError", "cohort_from_membership", "normalize_cohorts"]


class NonAbsorbingTreatmentError(ImpactError):
    """A unit leaves treatment, but the estimator assumes staggered (absorbing) adoption."""


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
    """
    check_columns(data, [member], role="membership column")
    panel = Panel(data, unit=unit, time=time)
    m = data[member]
    if m.isna().any():
        raise ImpactError(f"membership column {member!r} has missing values.")
    numeric = pd.api.types.is_numeric_dtype(m.dtype) or pd.api.types.is_bool_dtype(m.dtype)
    d = m.to_numpy(dtype=float) if numeric else np.array([])
    if not numeric or not np.isin(d, (0.0, 1.0)).all():
        bad = m[~m.isin([0, 1, True, False])]
        raise ColumnTypeError(
            f"membership column {member!r} must be 0/1 or boolean, got dtype {m.dtype} "
            f"(e.g. {bad.iloc[0]!r} at row {bad.index[0]!r}). Map it to 0/1 first, e.g. "
            f"df[{member!r}].map({{'yes': 1, 'no': 0}})."
        )
    frame = pd.DataFrame({"u": panel.unit_codes, "p": panel.period, "d": d})
    order = np.lexsort((frame["p"].to_numpy(), frame["u"].to_numpy()))
    f = frame.iloc[order]
    prev = f.groupby("u")["d"].shift()
    exits = (prev == 1) & (f["d"] == 0)
    if exits.any() and not allow_exit:
        u0 = f.loc[exits[exits].index[0], "u"]
        path = f[f["u"] == u0]
        shown = ", ".join(f"{p}: {int(x)}" for p, x in zip(path["p"], path["d"], strict=True))
        raise NonAbsorbingTreatmentError(
            f"unit {panel.unit_labels[u0]!r} leaves treatment ({shown}); staggered-adoption "
            "estimators need absorbing treatment. Pass allow_exit=True to use first entry."
        )
    first = f[f["d"] == 1].groupby("u")["p"].min()
    cohort = pd.Series(panel.unit_codes).map(first).astype(float)
    return pd.Series(cohort.to_numpy(), index=data.index, name="cohort")
