"""``check_data`` for a panel held by a query engine: every problem of a spec at once,
before any estimation, from counts computed in the engine (no row reaches Python).

The checks are those of :func:`impact.report.spec_check.check_data`: the spec fitted to the
data's columns (:func:`~impact.report.spec_fit.fit_spec` on the column kinds), missing or
duplicate identifiers, a time column that is not numeric, cohorts that are not numbers,
change within a unit or lie off the period grid, outcomes against their scale, 0/1 roles
and missing cluster ids. A cohort derived from a treatment column needs the rows in time
order and is refused here (give the cohort column, or read the panel into memory).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.engine.base import Engine
from impact.errors import ImpactError, SpecError
from impact.linear.engine_sample import column_ref as q
from impact.report.engine_input import fresh_prefix
from impact.report.spec import Spec
from impact.report.spec_fit import FittedSpec, fit_spec

__all__ = ["check_source"]

#: pandas dtypes standing for the engine's column kinds in the spec fitting.
_DTYPES = {"number": "float64", "bool": "bool", "text": "object", "other": "object"}


def _count(engine: Engine, src: Any, *conds: tuple[str, Any, float]) -> int:
    for column, op, value in conds:
        src = engine.where(src, column, op, value)
    return engine.count(src)


def _ids(engine: Engine, src: Any, unit: str, time: str, k: str) -> list[str]:
    per, _ = engine.missing_counts(src, [unit, time])
    out = [f"{role} column {col!r}: {per[col]:,} rows have no value"
           for role, col in (("unit", unit), ("time", time)) if per[col]]  # fmt: skip
    pairs = engine.group_relation(engine.drop_missing(src, [unit, time]), [unit, time], {},
                                  count=k)  # fmt: skip
    many = engine.where(pairs, k, ">", 1.0)
    dup = engine.group_sums(many, [], {k: q(k)}, count=None)
    n = int(dup[k].iloc[0]) if len(dup) and pd.notna(dup[k].iloc[0]) else 0
    if n:
        out.append(f"{n:,} rows share a ({unit}, {time}) pair with another row: one row per "
                   "unit and period")  # fmt: skip
    return out


def _cohorts(
    engine: Engine, src: Any, unit: str, cohort: str, periods: np.ndarray, k: str
) -> list[str]:
    out = []
    values = engine.group_sums(engine.drop_missing(engine.select(src, [cohort]), [cohort]),
                               [cohort], {}, count=k)  # fmt: skip
    g = values[cohort].to_numpy(dtype=float, na_value=np.nan)
    if periods.size:
        inside = np.isfinite(g) & (g != 0) & (g >= periods.min()) & (g <= periods.max())
        off = inside & ~np.isin(g, periods)
        if off.any():
            out.append(
                f"cohort column {cohort!r}: {int(values[k][off].sum()):,} rows hold a "
                f"cohort that is not a period of the data, e.g. {g[off][0]:g} (periods "
                f"{periods.min():g}-{periods.max():g})"
            )
    # missing read as inf, as memory reads them (NaN, NULL and inf are one code)
    filled = engine.fill_missing(engine.select(src, [unit, cohort]), cohort, np.inf, k)
    pairs = engine.group_relation(filled, [unit, k], {}, count=None)
    per_unit = engine.group_relation(pairs, [unit], {}, count=k)
    varies = engine.count(engine.where(per_unit, k, ">", 1.0))
    if varies:
        out.append(f"cohort column {cohort!r} changes within {varies:,} units: a unit's "
                   "cohort is its first treated period")  # fmt: skip
    return out


def _outcomes(engine: Engine, src: Any, spec: Spec, kinds: dict[str, str]) -> list[str]:
    out = []
    for fam in spec.families:
        for name in fam.outcomes:
            if name not in kinds:
                continue  # derived, or reported as missing already
            if kinds[name] not in ("number", "bool"):
                out.append(f"outcome {name!r}: its values are not numbers ({kinds[name]})")
                continue
            if fam.scale == "binary":
                n = _count(engine, src, (name, "!=", 0.0), (name, "!=", 1.0))
                if n:
                    out.append(f"outcome {name!r} (family {fam.name!r}, scale binary): "
                               f"{n:,} rows are not 0 or 1")  # fmt: skip
            if fam.scale == "count":
                n = _count(engine, src, (name, "<", 0.0))
                if n:
                    out.append(f"outcome {name!r} (family {fam.name!r}, scale count): "
                               f"{n:,} rows are negative")  # fmt: skip
    return out


def _zero_one(engine: Engine, src: Any, role: str, col: str, kind: str) -> list[str]:
    out = []
    if kind not in ("number", "bool"):
        return [f"{role} column {col!r}: its values are not 0/1 or true/false ({kind})"]
    present = engine.drop_missing(engine.select(src, [col]), [col])  # NaN is missing
    bad = _count(engine, present, (col, "!=", 0.0), (col, "!=", 1.0))
    if bad:
        out.append(f"{role} column {col!r}: {bad:,} rows are not 0/1 or true/false")
    missing = engine.missing_counts(src, [col])[0][col]
    if missing:
        out.append(f"{role} column {col!r} has missing values on {missing:,} rows")
    return out


def check_source(engine: Engine, src: Any, spec: Spec) -> tuple[list[str], FittedSpec | None]:
    """Every problem of ``spec`` on the engine relation ``src`` (one line each) and the
    fitted spec (None when the spec does not fit the data's columns)."""
    kinds = engine.kinds(src)
    rows = engine.count(src)
    schema = pd.DataFrame({c: pd.Series(dtype=_DTYPES[k]) for c, k in kinds.items()})
    problems: list[str] = []
    fitted = None
    try:
        fitted = fit_spec(spec, schema, rows=rows)
    except SpecError as exc:
        problems += list(exc.problems)
    if fitted is not None and not fitted.spec.columns.cohort:
        problems.append(
            "a cohort derived from the treatment column needs the rows in time order: give "
            "the cohort column (each unit's first treated period), or read the panel into "
            "memory (engine='numpy')"
        )
    if rows == 0:
        return problems, fitted
    c = spec.columns
    k = fresh_prefix("_report_k", list(kinds))  # a count's name (no user column's)
    if c.unit in kinds and c.time in kinds:
        problems += _ids(engine, src, c.unit, c.time, k)
    periods = np.array([])
    if c.time in kinds:
        if kinds[c.time] != "number":
            problems.append(
                f"time column {c.time!r} must hold numbers (years or period numbers) for the "
                f"report; it holds {kinds[c.time]} values"
            )
        else:
            kept = engine.drop_missing(engine.select(src, [c.time]), [c.time])
            per = engine.group_sums(kept, [c.time], {}, count=None)[c.time].rename(c.time)
            try:  # the distinct periods: as memory reads the column
                period_numbers(per)
                periods = per.to_numpy(dtype=float)
            except ImpactError as exc:
                problems.append(f"time column {c.time!r}: {exc}")
    if c.cohort and c.cohort in kinds and c.unit in kinds:
        if kinds[c.cohort] != "number":
            problems.append(f"cohort column {c.cohort!r} must hold the first treated period "
                            "as a number (empty, 0 or inf for never-treated)")  # fmt: skip
        else:
            problems += _cohorts(engine, src, c.unit, c.cohort, periods, k)
    problems += _outcomes(engine, src, fitted.spec if fitted else spec, kinds)
    for role, col in (("treatment", c.treatment), ("cluster_cell", c.cluster_cell)):
        if col and col in kinds:
            problems += _zero_one(engine, src, role, col, kinds[col])
    if spec.cluster in kinds and spec.cluster != c.unit:
        missing = engine.missing_counts(src, [spec.cluster])[0][spec.cluster]
        if missing:
            problems.append(f"cluster column {spec.cluster!r}: {missing:,} rows have no value")
    return problems, fitted
