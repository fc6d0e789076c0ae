"""``impact spec check``: every problem of a spec on a data set, at once, before any
estimation.

:func:`check_data` runs the spec fitting of :mod:`impact.report.spec_fit` (missing
columns, tables whose roles are absent) and the data checks the estimators would stop at
one by one: missing or duplicate unit-time identifiers, a time column that is not a
period, cohorts off the period grid or changing within a unit, outcomes that are not
numbers or do not fit their scale. Each problem is one line with a count and an example.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.errors import ImpactError, SpecError
from impact.report.spec import Spec
from impact.report.spec_fit import FittedSpec, fit_spec

__all__ = ["check_data"]


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def _example(values: pd.Series) -> str:
    return repr(_plain(values.iloc[0])) if len(values) else "(none)"


def _ids(data: pd.DataFrame, unit: str, time: str) -> list[str]:
    out = []
    for role, col in (("unit", unit), ("time", time)):
        n = int(data[col].isna().sum())
        if n:
            out.append(f"{role} column {col!r}: {n:,} rows have no value")
    ok = data[unit].notna() & data[time].notna()
    dup = data.loc[ok].duplicated([unit, time], keep=False)
    if dup.any():
        first = data.loc[ok][dup].iloc[0]
        out.append(
            f"{int(dup.sum()):,} rows share a ({unit}, {time}) pair with another row, e.g. "
            f"{unit} {_plain(first[unit])!r} in {_plain(first[time])!r}: one row per unit "
            "and period"
        )
    return out


def _periods(data: pd.DataFrame, time: str) -> tuple[np.ndarray | None, list[str]]:
    if not pd.api.types.is_numeric_dtype(data[time]) or pd.api.types.is_bool_dtype(data[time]):
        return None, [
            f"time column {time!r} must hold numbers (years or period numbers) for the "
            f"report; it has dtype {data[time].dtype}"
        ]
    try:
        return np.unique(period_numbers(data[time].dropna())), []
    except ImpactError as exc:
        return None, [f"time column {time!r}: {exc}"]


def _cohorts(data: pd.DataFrame, unit: str, cohort: str, periods: np.ndarray | None):
    col = data[cohort]
    if not pd.api.types.is_numeric_dtype(col):
        bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
        return [
            f"cohort column {cohort!r} must hold the first treated period as a number "
            f"(empty, 0 or inf for never-treated); {int(bad.sum()):,} rows are not numbers, "
            f"e.g. {_example(col[bad])}"
        ]
    out = []
    g = col.to_numpy(dtype=float, na_value=np.nan)
    if periods is not None:
        # inside the panel's span but not one of its periods (cohorts before the first
        # period are always treated and after the last never treated in the sample: the
        # estimators handle both)
        inside = np.isfinite(g) & (g != 0) & (g >= periods.min()) & (g <= periods.max())
        off = inside & ~np.isin(g, periods.astype(float))
        if off.any():
            out.append(
                f"cohort column {cohort!r}: {int(off.sum()):,} rows hold a cohort that is not "
                f"a period of the data, e.g. {g[off][0]:g} (periods {periods.min()}-"
                f"{periods.max()})"
            )
    varies = pd.Series(g).fillna(np.inf).groupby(data[unit].to_numpy()).nunique() > 1
    if varies.any():
        out.append(
            f"cohort column {cohort!r} changes within {int(varies.sum()):,} units, e.g. "
            f"{unit} {varies[varies].index[0]!r}: a unit's cohort is its first treated period"
        )
    return out


def _outcomes(data: pd.DataFrame, spec: Spec) -> list[str]:
    out = []
    for fam in spec.families:
        for name in fam.outcomes:
            if name not in data.columns:
                continue  # derived, or reported as missing already
            raw = data[name]
            values = pd.to_numeric(raw, errors="coerce")
            bad = values.isna() & raw.notna()
            if not bad.any() and not (
                pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw)
            ):
                if raw.notna().any():
                    out.append(f"outcome {name!r} holds numbers stored as text: convert it")
                continue
            if bad.any():
                out.append(
                    f"outcome {name!r}: {int(bad.sum()):,} rows are not numbers, "
                    f"e.g. {_example(raw[bad])}"
                )
                continue
            v = values.dropna()
            if fam.scale == "binary" and not v.isin([0, 1]).all():
                out.append(
                    f"outcome {name!r} (family {fam.name!r}, scale binary): "
                    f"{int((~v.isin([0, 1])).sum()):,} rows are not 0 or 1"
                )
            if fam.scale == "count" and (v < 0).any():
                out.append(
                    f"outcome {name!r} (family {fam.name!r}, scale count): "
                    f"{int((v < 0).sum()):,} rows are negative"
                )
    return out


def _zero_one(values: pd.Series, role: str, col: str) -> list[str]:
    out = []
    ok = values.isin([0, 1, True, False])
    bad = ~ok & values.notna()
    if bad.any():
        out.append(
            f"{role} column {col!r}: {int(bad.sum()):,} rows are not 0/1 or true/false, e.g. "
            f"{_example(values[bad])}"
        )
    if values.isna().any():
        n = int(values.isna().sum())
        out.append(f"{role} column {col!r} has missing values on {n:,} rows")
    return out


def check_data(spec: Spec, data: pd.DataFrame) -> tuple[list[str], FittedSpec | None]:
    """Every problem of ``spec`` on ``data`` (one line each) and the fitted spec (None
    when the spec does not fit the data's columns)."""
    problems: list[str] = []
    fitted = None
    try:
        fitted = fit_spec(spec, data)
    except SpecError as exc:
        problems += list(exc.problems)
        if data.columns.duplicated().any():  # every lookup below would be ambiguous
            return problems, None
    if len(data) == 0:  # nothing to check row by row
        return problems, fitted
    c = spec.columns
    has = set(map(str, data.columns))
    if c.unit in has and c.time in has:
        problems += _ids(data, c.unit, c.time)
    periods = None
    if c.time in has:
        periods, bad = _periods(data, c.time)
        problems += bad
    if c.cohort in has and c.unit in has:
        problems += _cohorts(data, c.unit, c.cohort, periods)
    problems += _outcomes(data, fitted.spec if fitted else spec)
    for role, col in (("treatment", c.treatment), ("cluster_cell", c.cluster_cell)):
        if col and col in has:
            problems += _zero_one(data[col], role, col)
    if spec.cluster in has and spec.cluster != c.unit and data[spec.cluster].isna().any():
        n = int(data[spec.cluster].isna().sum())
        problems.append(f"cluster column {spec.cluster!r}: {n:,} rows have no value")
    return problems, fitted
