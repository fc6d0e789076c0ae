"""Cohorts on the period grid of a staggered design (the grid itself: data.timeindex).

A panel observed in 2000, 2002, 2004, … has a grid of step 2: event time, anticipation
and windows are counted in *periods* (grid steps), so relabelling the periods 1, 2, 3, …
or as pandas ``Period`` years gives identical results. Cohorts must lie on the grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.timeindex import PeriodGrid, period_grid, time_numbers
from impact.errors import CohortError

__all__ = ["PeriodGrid", "cohort_numbers", "period_grid", "time_numbers"]


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
            if cohort.dtype != pd.PeriodDtype(grid.freq):
                raise CohortError(
                    f"cohort column {name!r} holds {cohort.dtype} values but time is counted in "
                    f"{grid.freq!r} periods; give cohorts in the time column's frequency (a "
                    "coarser cohort does not say in which period treatment starts)."
                )
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
