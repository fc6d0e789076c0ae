"""The report on a query engine: the evaluation's columns as engine expressions, the small
facts the tables state (member counts by cohort and period, clusters), and the user's panel
read into memory only when a table needs its rows.

:func:`engine_input` adds to the user's relation (a Parquet file, a DuckDB relation, ...)
the columns :func:`impact.report.prepare.prepare` adds to a frame: derived outcomes, the
control pool, the pool with every eventual member, membership, and the cohort (NaN for
every never-member code: missing, 0 and inf, as :func:`prepare` reads them). The
estimators that run in the engine read this relation; nothing of it is collected.
"""

from __future__ import annotations

import glob as globmod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.data.files import read_panel
from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts
from impact.engine.base import Engine
from impact.linear.engine_sample import column_ref as q
from impact.report.prepare import InternalColumns, internal_columns, prepare
from impact.report.spec import Spec

__all__ = ["EngineInput", "engine_input", "engine_note", "fresh_prefix", "read_frame"]

#: Prefix of the flags built here on the way (suffixed until no user column starts with it).
_TMP = "_report_tmp_"


def fresh_prefix(base: str, taken: list[str]) -> str:
    """``base``, or ``base`` with ``k_`` appended for the first ``k`` such that no name of
    ``taken`` starts with it (so columns made with the prefix never replace a user's)."""
    prefix, k = base, 0
    while any(str(t).startswith(prefix) for t in taken):
        k += 1
        prefix = f"{base}{k}_"
    return prefix


@dataclass(frozen=True, eq=False)
class EngineInput:
    """A user's panel held by a query engine, prepared for the report.

    Attributes
    ----------
    engine : Engine
    source : engine relation
        The user's columns, derived outcomes and the columns of ``names``.
    raw : object
        The user's data as given (path, relation, Arrow or polars frame): read into memory
        (projected to the spec's columns) only by :meth:`frame`.
    spec : Spec
        The user's spec (cohort role the user's column).
    names : InternalColumns
    rows : int
    tmp : str
        Prefix of the helper flags (``{tmp}real``: a member's row, ...).
    """

    engine: Engine
    source: Any
    raw: Any
    spec: Spec
    names: InternalColumns
    rows: int
    tmp: str = _TMP  # prefix of the flags made on the way (no user column has it)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def frame(self) -> pd.DataFrame:
        """The prepared in-memory copy (:func:`prepare` on the projected columns), for the
        tables whose estimators have no engine path; read once (:attr:`uses` counts the
        calls)."""
        self._memo["uses"] = self.uses + 1
        if "frame" not in self._memo:
            data = read_frame(self.raw, self.spec.read_columns())
            prepared, names = prepare(data, self.spec)
            if names != self.names:  # fresh names chosen among fewer columns
                renames = zip(_as_tuple(names), _as_tuple(self.names), strict=True)
                prepared = prepared.rename(columns=dict(renames))
            self._memo["frame"] = prepared
        return self._memo["frame"]

    @property
    def uses(self) -> int:
        """How often the in-memory copy was asked for (:meth:`frame`)."""
        return int(self._memo.get("uses", 0))

    def _count_name(self, base: str) -> str:
        return f"{self.tmp}{base}"

    def member_cells(self) -> pd.DataFrame:
        """Rows of members by cohort and period (``cohort``, ``time``, ``rows``): one row
        per (unit, period), so ``rows`` is the number of member firms observed."""
        if "cells" not in self._memo:
            e, n, t = self.engine, self.names, self.spec.columns.time
            members = e.where(self.source, f"{self.tmp}real", ">", 0.5)
            k = self._count_name("rows")
            cells = e.group_sums(members, [n.cohort, t], {}, count=k)
            self._memo["cells"] = pd.DataFrame(
                {"cohort": cells[n.cohort], "time": cells[t], "rows": cells[k]}
            )
        return self._memo["cells"]

    def member_units(self) -> pd.DataFrame:
        """Member firms by cohort (``cohort``, ``firms``)."""
        if "units" not in self._memo:
            e, n, u = self.engine, self.names, self.spec.columns.unit
            members = e.where(self.source, f"{self.tmp}real", ">", 0.5)
            pairs = e.group_relation(members, [u, n.cohort], {}, count=None)
            k = self._count_name("firms")
            units = e.group_sums(pairs, [n.cohort], {}, count=k)
            self._memo["units"] = pd.DataFrame({"cohort": units[n.cohort], "firms": units[k]})
        return self._memo["units"]

    def last_period(self) -> float:
        """The panel's last period."""
        if "last" not in self._memo:
            t = self.spec.columns.time
            periods = self.engine.group_sums(self.source, [t], {}, count=None)
            self._memo["last"] = float(periods[t].max())
        return self._memo["last"]

    def distinct(self, column: str, *, where: str | None = None, present: str | None = None) -> int:
        """Distinct non-missing values of ``column`` on the rows where the 0/1 column
        ``where`` is 1 and the column ``present`` is not missing (each optional)."""
        key = f"distinct {column} {where} {present}"
        if key not in self._memo:
            e = self.engine
            src = self.source if where is None else e.where(self.source, where, ">", 0.5)
            if present is not None:
                src = e.drop_missing(src, [present])
            src = e.drop_missing(e.select(src, [column]), [column])
            self._memo[key] = len(e.group_sums(src, [column], {}, count=None))
        return self._memo[key]


def _as_tuple(names: InternalColumns) -> tuple[str, ...]:
    return tuple(getattr(names, f) for f in names.__dataclass_fields__)


def engine_input(engine: Engine, data: Any, spec: Spec) -> EngineInput:
    """The user's ``data`` in ``engine`` with the report's columns (see module).

    ``spec`` is the fitted spec (checked against the data by
    :func:`impact.report.engine_check.check_source`); its cohort role is the user's column.
    Only the columns the report reads are kept (as a file is read projected).

    Raises
    ------
    ImpactError
        The cohort column codes never-treated units as 0 while 0 is an observed period
        (as :func:`impact.design.cohorts.normalize_cohorts`).
    """
    src = engine.source(data)
    c = spec.columns
    have = engine.columns(src)
    src = engine.select(src, [x for x in spec.read_columns() if x in have])
    derived = spec.used_derived()
    names = internal_columns([*engine.columns(src), *derived])
    tmp = fresh_prefix(_TMP, [*have, *derived])
    _check_cohort_codes(engine, src, c.cohort, c.time)
    if derived:
        src = engine.with_columns(src, dict(derived))
    flags: list[tuple[str, Any, float, str]] = [
        (c.cohort, "!=", 0.0, f"{tmp}nonzero"),
        (c.cohort, "<", np.inf, f"{tmp}below_inf"),
        (c.cohort, ">", -np.inf, f"{tmp}above_minus_inf"),
    ]
    if c.cluster_cell and spec.control != "never":
        flags.append((c.cluster_cell, "==", 1.0 if spec.control == "in_cell" else 0.0, names.pool))
    src = engine.flags(src, flags)
    real, pool = q(f"{tmp}real"), q(names.pool)
    src = engine.fill_missing(src, c.cohort, 0.0, f"{tmp}finite")
    made = {
        f"{tmp}real": f"{q(tmp + 'nonzero')} * {q(tmp + 'below_inf')} * "
        f"{q(tmp + 'above_minus_inf')}",
        f"{tmp}since": f"{q(c.time)} - {q(c.cohort)}",
    }
    if not (c.cluster_cell and spec.control != "never"):
        made[names.pool] = "1"  # every never-member is a control
    src = engine.with_columns(src, made)
    # the cohort with one never-treated code, NaN (as prepare's): a member's finite
    # cohort divided by 1, anything else by 0 (missing or not finite), then NaN
    src = engine.with_columns(src, {f"{tmp}ratio": f"{q(tmp + 'finite')} / {real}"})
    src = engine.fill_missing(src, f"{tmp}ratio", np.nan, names.cohort)
    src = engine.flag(src, f"{tmp}since", ">=", 0.0, f"{tmp}after")
    src = engine.with_columns(
        src,
        {
            names.pool_notyet: f"{pool} + {real} - {pool} * {real}",
            names.member: f"{q(tmp + 'after')} * {real}",
        },
    )
    return EngineInput(engine, src, data, spec, names, engine.count(src), tmp)


def _check_cohort_codes(engine: Engine, src: Any, cohort: str, time: str) -> None:
    """:func:`normalize_cohorts` on the distinct cohorts and periods (its typed errors)."""
    values = engine.group_sums(engine.drop_missing(engine.select(src, [cohort]), [cohort]),
                               [cohort], {}, count=None)  # fmt: skip
    times = engine.group_sums(engine.drop_missing(engine.select(src, [time]), [time]), [time],
                              {}, count=None)  # fmt: skip
    periods = np.unique(period_numbers(times[time]))
    normalize_cohorts(values[cohort].rename(cohort), periods=periods)


def read_frame(data: Any, columns: list[str]) -> pd.DataFrame:
    """``data`` (a pandas frame, Parquet path or glob, DuckDB relation, pyarrow Table or
    Dataset, polars frame) as a pandas frame of ``columns`` (those it has)."""
    if isinstance(data, pd.DataFrame):
        return data[[c for c in columns if c in data.columns]]
    if isinstance(data, str | Path):
        files = sorted(globmod.glob(str(data))) if globmod.has_magic(str(data)) else [data]
        if not files:
            raise FileNotFoundError(f"no Parquet file matches {str(data)!r}.")
        parts = [read_panel(f, columns) for f in files]
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    module = type(data).__module__
    if module.startswith("polars"):
        frame = data.collect() if hasattr(data, "collect") else data
        return frame.select([c for c in columns if c in frame.columns]).to_pandas()
    if module.startswith("duckdb"):  # a relation: read through Arrow
        table = data.arrow()
        table = table.read_all() if hasattr(table, "read_all") else table
    elif module.startswith("pyarrow.dataset") or module.startswith("pyarrow._dataset"):
        have = set(data.schema.names)
        return data.to_table(columns=[c for c in columns if c in have]).to_pandas()
    else:  # a pyarrow Table
        table = data
    have = set(table.schema.names)
    return table.select([c for c in columns if c in have]).to_pandas()


def engine_note(source: EngineInput, read: list[str]) -> str:
    """The report's note on where it ran: what the engine computed and which steps read
    the panel into memory (``read``: "table main", ...)."""
    events = (
        ""
        if source.spec.sector_by_year and source.spec.columns.sector
        else (", the TWFE, Sun-Abraham, imputation and did2s event studies")
    )
    text = (
        f"held by {source.engine.name} ({source.rows:,} rows): the data checks, the member "
        f"counts, Callaway-Sant'Anna, static TWFE{events} ran in the engine; "
    )
    if not read:
        return text + "no rows were read into memory"
    cols = len(source.spec.read_columns())
    steps = ", ".join(read)
    return text + f"the panel's {cols} report columns were read into memory (once) for {steps}"
