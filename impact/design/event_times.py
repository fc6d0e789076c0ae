"""Checks of an event-time design shared by the regression event studies and their
diagnostics: a comparison group exists and the reference event time is observed."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from impact.design.grid import PeriodGrid
from impact.errors import ImpactError, InvalidOptionError

__all__ = ["check_window", "require_comparison", "require_reference"]


def check_window(window: object, reference: object) -> tuple[tuple[int, int], int]:
    """An event window ``(first, last)`` and reference of whole numbers of periods, the
    window holding the reference and event time 0; returns them as ints."""
    try:
        vals = [] if isinstance(window, str) else [*window, reference]  # type: ignore[misc]
    except TypeError:
        vals = []
    if len(vals) != 3 or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in vals):
        raise InvalidOptionError(
            f"window {window!r} and reference {reference!r} are counted in periods: give "
            "whole numbers, e.g. window=(-5, 5), reference=-1."
        )
    lo, hi, ref = (int(v) for v in vals)
    if not (lo <= ref <= hi) or hi < 0:
        raise InvalidOptionError(f"window {window} must contain the reference {reference} and 0.")
    return (lo, hi), ref


def require_comparison(g: np.ndarray, grid: PeriodGrid) -> None:
    """A comparison group exists: never-treated units, or a second cohort."""
    cohorts = np.unique(g[~np.isnan(g)])
    if np.isnan(g).any() or len(cohorts) > 1:
        return
    raise ImpactError(
        f"no comparison group: every unit is treated in {grid.label(cohorts[0])} and none is "
        "never-treated, so period effects and event-time effects cannot be told apart. Add "
        "never-treated units (or units treated later)."
    )


def require_reference(
    g: np.ndarray, rel: np.ndarray, reference: int, grid: PeriodGrid, per_cohort: bool = False
) -> None:
    """The omitted event time must be observed (for every cohort, with ``per_cohort``):
    otherwise the coefficients are normalised on some other period, or not at all."""
    cohorts = np.unique(g) if per_cohort else np.array([np.nan])
    for c in cohorts:
        rows = (g == c) if per_cohort else np.ones(len(g), dtype=bool)
        if not (rel[rows] == reference).any():
            who = f" for cohort {grid.label(c)}" if per_cohort else " for any treated unit"
            raise ImpactError(
                f"the reference event time {reference} is not observed{who} (a gap in the "
                "time column?): the event-time effects would not be normalised on it. Fill "
                "the gap or choose another reference."
            )
