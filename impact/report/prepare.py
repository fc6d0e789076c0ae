"""The evaluation's copy of the user's data, and the names of the columns the report adds.

The report adds a handful of helper columns (control pool, membership, normalised cohort,
and, in single tables' own copies, placebo and exposure cohorts). Their names are chosen
fresh for every data set (:func:`internal_columns`): a user column is never overwritten
and never refused, whatever it is called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts, zero_one
from impact.errors import ColumnTypeError, InvalidOptionError, MissingIdError
from impact.report.spec import Spec, derive_column

__all__ = ["InternalColumns", "cohort_from_treatment", "internal_columns", "prepare"]


@dataclass(frozen=True)
class InternalColumns:
    """Names of the columns the report adds (distinct from every user column).

    Attributes
    ----------
    pool : the control pool of the spec's ``control`` setting (bool).
    pool_notyet : the pool plus every eventual member (not-yet-treated comparisons).
    member : 1.0 on members' rows from their joining year on, else 0.0.
    cohort : the cohort with every never-member code (NaN, 0, inf) read as NaN.
    placebo : table 9's placebo cohort (its own copy).
    outside : tables 8 and 9's out-of-cell pool (their own copies).
    exposure : table 8's exposure cohort, the cell's launch year (its own copy).

    The names do not start with ``_impact_``, which the engine estimators reserve.
    """

    pool: str = "_report_control_pool"
    pool_notyet: str = "_report_control_pool_notyet"
    member: str = "_report_member"
    cohort: str = "_report_cohort"
    placebo: str = "_report_placebo_cohort"
    outside: str = "_report_outside_cells"
    exposure: str = "_report_exposure"


def internal_columns(taken: Iterable[object]) -> InternalColumns:
    """The default names, each suffixed ``_1``, ``_2``, ... until no name in ``taken``
    (the user's columns and the spec's derived outcomes) or another internal name has it."""
    used = {str(c) for c in taken}
    chosen = {}
    for f in fields(InternalColumns):
        name, k = f.default, 0
        while name in used:
            k += 1
            name = f"{f.default}_{k}"
        used.add(name)
        chosen[f.name] = name
    return InternalColumns(**chosen)


def prepare(data: pd.DataFrame, spec: Spec) -> tuple[pd.DataFrame, InternalColumns]:
    """The evaluation's copy of ``data``: derived outcomes, cohort, control pool, membership.

    The cohort is read as the estimators read it (:func:`normalize_cohorts`: NaN, 0 and
    inf mean never-member). Boolean covariates become 0/1 floats. ``data`` is not
    modified. Returns the copy and the names of the columns added to it.
    """
    spec.validate(data)
    c = spec.columns
    derived = spec.used_derived()
    names = internal_columns([*data.columns, *derived])
    out = data.copy()
    for name, expr in derived.items():
        out[name] = derive_column(data, name, expr)
    if c.cluster_cell:
        flag = zero_one(data[c.cluster_cell], c.cluster_cell, "cluster-cell")
        if np.isnan(flag).any():
            raise InvalidOptionError(
                f"cluster-cell column {c.cluster_cell!r} has missing values; it must say for "
                "every row whether the firm's cell hosts a cluster."
            )
        in_cell = pd.Series(flag == 1, index=data.index)
        pool = {"out_of_cell": ~in_cell, "in_cell": in_cell, "never": in_cell | True}
        pool = pool[spec.control]
    elif spec.control == "never":  # no cell geography: every never-treated unit
        pool = pd.Series(True, index=data.index)
    else:
        raise InvalidOptionError(f"control = {spec.control!r} needs the cluster_cell role.")
    periods = np.unique(period_numbers(data[c.time]))
    if c.cohort:
        cohort = normalize_cohorts(data[c.cohort], periods=periods)
    else:
        cohort = cohort_from_treatment(data, c.unit, c.time, c.treatment)
    if c.cluster_cell:  # the tables read the flag as booleans
        out[c.cluster_cell] = in_cell.to_numpy()
    out[names.pool] = pool
    out[names.cohort] = cohort
    out[names.pool_notyet] = out[names.pool] | ~np.isnan(cohort)
    out[names.member] = (data[c.time].to_numpy(dtype=float) >= cohort).astype(float)
    for cov in spec.covariates:
        if pd.api.types.is_bool_dtype(out[cov]):
            out[cov] = out[cov].astype(float)
    return out, names


def cohort_from_treatment(
    data: pd.DataFrame, unit: str, time: str, treatment: str | None
) -> np.ndarray:
    """Each row's cohort: the first period (a value of the numeric ``time`` column) in
    which its unit's 0/1 ``treatment`` is 1 (first entry: a unit that leaves treatment
    stays in its cohort); NaN for units never treated.

    Raises
    ------
    InvalidOptionError
        No treatment role (the spec has neither a cohort nor a treatment column).
    ColumnTypeError
        A treatment value other than 0/1, or a time column that is not numeric.
    MissingIdError
        A row without a treatment status.
    """
    if not treatment:
        raise InvalidOptionError("the spec needs a cohort column or a treatment column.")
    d = zero_one(data[treatment], treatment, "treatment")
    if np.isnan(d).any():
        raise MissingIdError(
            f"treatment column {treatment!r} is missing on {int(np.isnan(d).sum()):,} rows; "
            "every row needs a treatment status."
        )
    if not pd.api.types.is_numeric_dtype(data[time]):
        raise ColumnTypeError(
            f"deriving cohorts from treatment column {treatment!r} needs a numeric time "
            f"column (years); {time!r} has dtype {data[time].dtype}."
        )
    t = data[time].to_numpy(dtype=float)
    first = pd.Series(np.where(d == 1, t, np.inf)).groupby(data[unit].to_numpy()).min()
    cohort = first.reindex(data[unit].to_numpy()).to_numpy(dtype=float)
    return np.where(np.isfinite(cohort), cohort, np.nan)
