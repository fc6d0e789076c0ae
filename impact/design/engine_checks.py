"""The checks of a staggered panel inside a query engine, with the in-memory design's
typed errors (:func:`impact.design.staggered.staggered_design`): columns, reserved names,
kinds, missing ids, duplicate (unit, period) rows, weights, control pools, cluster ids, and
cohorts, pools, weights and clusters constant within units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from impact.engine.base import Engine
from impact.errors import (
    ClusterError,
    CohortError,
    ColumnTypeError,
    DuplicateRowsError,
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
    InvalidTimeError,
    InvalidWeightsError,
    MissingIdError,
)
from impact.linear.engine_sample import check_engine_columns
from impact.linear.engine_sample import column_ref as _ref

__all__ = ["P", "validate_panel"]

#: Prefix of the engine path's own columns (a user's column may not start with it).
P = "_impact_"


def _constant(engine: Engine, src: Any, unit: str, col: str, what: str) -> None:
    pairs = engine.group_relation(src, [unit, col], {}, count=None)
    per_unit = engine.group_relation(pairs, [unit], {}, count=f"{P}k")
    bad = engine.count(engine.where(per_unit, f"{P}k", ">", 1.0))
    if bad:
        raise ImpactError(
            f"{what} column {col!r} varies within {bad} units; it must be constant over time "
            "for every unit."
        )


def validate_panel(
    engine: Engine,
    src: Any,
    unit: str,
    time: str,
    cohort: str,
    y: str,
    control_pool: str | None,
    weights: str | None,
    cluster: str | None,
    covariates: Sequence[str] = (),
) -> int:
    """Check the panel in ``engine`` (see module); returns its rows."""
    wanted = [unit, time, cohort, y, *(c for c in (control_pool, weights, cluster) if c)]
    wanted += list(covariates)
    check_engine_columns(engine, src, list(dict.fromkeys(wanted)), "column")
    reserved = [c for c in engine.columns(src) if c.startswith(P)]
    if reserved:
        raise InvalidOptionError(
            f"column {reserved[0]!r} starts with {P!r}, which the engine path reserves for its "
            "own columns; rename it."
        )
    for c in (y, weights, control_pool, *covariates):
        if c:
            _ref(c)  # a backtick cannot be read inside an expression
    kinds = engine.kinds(src)
    if kinds[time] != "number":
        raise InvalidTimeError(
            f"time column {time!r} holds {kinds[time]} values; the engine path reads integer "
            "periods (fit an in-memory pandas frame for Period or date columns)."
        )
    if kinds[cohort] != "number":
        raise CohortError(
            f"cohort column {cohort!r} must hold numeric periods (first treated "
            f"period), it holds {kinds[cohort]} values."
        )
    for c in (y, *covariates):
        if kinds[c] not in ("number", "bool"):
            raise ColumnTypeError(f"column {c!r} must be numeric, it holds {kinds[c]} values.")
    n0 = engine.count(src)
    if n0 == 0:
        raise EmptySampleError("the data have no rows: nothing can be estimated.")
    per, _ = engine.missing_counts(src, [unit, time])
    for col, role in ((unit, "unit id"), (time, "time")):
        if per[col]:
            raise MissingIdError(
                f"{role} column {col!r} is missing on {per[col]} rows; drop "
                "or fill those rows first."
            )
    pairs = engine.group_relation(src, [unit, time], {}, count=f"{P}k")
    dup = engine.count(engine.where(pairs, f"{P}k", ">", 1.0))
    if dup:
        raise DuplicateRowsError(
            f"{dup} ({unit}, {time}) pairs have more than one row; a panel has one row per "
            "unit and period. Aggregate or drop the duplicates first."
        )
    if weights:
        if kinds[weights] != "number":
            raise InvalidWeightsError(
                f"weights column {weights!r} must be numeric, it holds {kinds[weights]} values."
            )
        _, bad = engine.missing_counts(src, [weights])
        if bad or engine.count(engine.where(src, weights, "<", 0.0)):
            raise InvalidWeightsError(
                f"weights column {weights!r} has missing, infinite or negative values. "
                "Weights must be >= 0."
            )
        if not engine.count(engine.where(src, weights, ">", 0.0)):
            raise InvalidWeightsError(f"weights column {weights!r} is zero on every row.")
    if control_pool:
        _, bad = engine.missing_counts(src, [control_pool])
        if bad:
            raise ImpactError(f"control_pool column {control_pool!r} has missing values.")
        other = kinds[control_pool] == "number" and engine.count(
            engine.where(engine.where(src, control_pool, "!=", 0.0), control_pool, "!=", 1.0)
        )
        if kinds[control_pool] not in ("bool", "number") or other:
            raise ColumnTypeError(
                f"control_pool column {control_pool!r} must hold True/False (or 1/0) values."
            )
    if cluster:
        per_c, _ = engine.missing_counts(src, [cluster])
        if per_c[cluster]:
            raise ClusterError(
                f"cluster variable {cluster!r} is missing on {per_c[cluster]} rows. Choosing a "
                "vcov must not change the sample: fill the cluster ids or drop those rows."
            )
    for col, what in (
        (cohort, "cohort"),
        (control_pool, "control_pool"),
        (weights, "weights"),
        (cluster, "cluster"),
    ):
        if col and col != unit:
            _constant(engine, src, unit, col, what)
    return n0
