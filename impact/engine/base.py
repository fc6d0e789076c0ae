"""The engine seam: the relational primitives of SCALE.md §2.1 that heavy steps are written in.

Every heavy step of an estimator (group means for demeaning, per-cluster score sums, the
cell sums of ATT(g,t)) is a ``GROUP BY`` of sums of products whose result is small (one
row per fixed-effect level, cluster or cohort), plus row-wise arithmetic with such small
tables joined back. An :class:`Engine` offers exactly these, on a *source* it holds (a
pandas frame here; a DuckDB relation or a Spark DataFrame in the engines to come), with
expressions of :mod:`impact.engine.expressions` (columns quoted, literals bound: never
query text built from a user's names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from impact.engine.expressions import Expression
from impact.errors import InvalidOptionError

__all__ = ["COMPARISONS", "Engine", "EngineUse", "Meter"]

#: Comparisons a row filter may apply (the value is a bound parameter).
COMPARISONS = ("<", "<=", "==", "!=", ">=", ">")
Comparison = Literal["<", "<=", "==", "!=", ">=", ">"]
#: What a column holds, as the estimators need to know it.
Kind = Literal["number", "bool", "text", "other"]
Expr = str | Expression


@dataclass(frozen=True)
class EngineUse:
    """What an estimation asked of its engine (reported in results, SCALE.md §tests).

    Attributes
    ----------
    engine : str
    passes : int
        Statements executed over the rows (each reads the data once or more).
    bytes_collected : int
        Bytes of the results brought to Python: small tables only, never the rows.
    """

    engine: str
    passes: int
    bytes_collected: int


class Meter:
    """Counts an engine's executed statements and collected bytes (one per engine)."""

    def __init__(self) -> None:
        self.passes = 0
        self.bytes_collected = 0

    def record(self, collected: pd.DataFrame | None = None) -> None:
        """One statement executed, with its collected result."""
        self.passes += 1
        if collected is not None:
            self.bytes_collected += int(collected.memory_usage(index=False, deep=True).sum())

    def since(self, engine: str, start: tuple[int, int]) -> EngineUse:
        """The use since ``start`` (a :meth:`mark`)."""
        return EngineUse(engine, self.passes - start[0], self.bytes_collected - start[1])

    def mark(self) -> tuple[int, int]:
        """The counters now."""
        return self.passes, self.bytes_collected


@dataclass(frozen=True)
class TypeNames:
    """A SQL dialect's type names, read case-insensitively: its numeric types (with or
    without parameters, as ``decimal(18,3)``), its boolean and its text type (everything
    else, dates and intervals too, is ``"other"``)."""

    numbers: tuple[str, ...]
    boolean: str
    text: str

    def kind(self, type_name: object) -> Kind:
        """The :data:`Kind` of a column of type ``type_name`` (e.g. ``"BIGINT"``)."""
        text = str(type_name).lower()
        if text == self.boolean:
            return "bool"
        if text.split("(", 1)[0].strip() in self.numbers:
            return "number"
        if text == self.text:
            return "text"
        return "other"


def joined_columns(
    small: Sequence[object], data: Sequence[object], on: Sequence[str], what: str
) -> list[str]:
    """The columns a join of a small table onto the data adds (those not in ``on``).

    Raises
    ------
    InvalidOptionError
        If one of them is a column of the data too (a join would rename or shadow it).
    """
    keys = {str(k) for k in on}
    extra = [str(c) for c in small if str(c) not in keys]
    present = {str(c) for c in data}
    clash = [c for c in extra if c in present]
    if clash:
        raise InvalidOptionError(f"the {what} table's columns {clash} are in the data too.")
    return extra


def check_levels_unique(table: pd.DataFrame, on: Sequence[str]) -> None:
    """Refuse a small table with more than one row for a level of ``on`` (a join would
    repeat the data's rows)."""
    if table.duplicated(list(on)).any():
        raise InvalidOptionError(
            f"the small table has more than one row for some level of {list(on)}."
        )


@runtime_checkable
class Engine(Protocol):
    """Relational primitives over a source table.

    Inputs are validated before they reach an engine (the design drops or refuses rows
    with missing keys and values), so sums are plain sums.
    """

    name: str
    meter: Meter

    def source(self, data: Any) -> Any:
        """The engine's source of ``data`` (typed error for data it cannot read)."""
        ...

    def columns(self, source: Any) -> list[str]:
        """The source's column names."""
        ...

    def kinds(self, source: Any) -> dict[str, Kind]:
        """What each column holds: ``number``, ``bool``, ``text`` or ``other``."""
        ...

    def count(self, source: Any) -> int:
        """Number of rows (one pass)."""
        ...

    def missing_counts(self, source: Any, columns: Sequence[str]) -> tuple[dict[str, int], int]:
        """Rows where each column is missing (or not finite, for numbers), and rows where
        any is (one pass)."""
        ...

    def drop_missing(self, source: Any, columns: Sequence[str]) -> Any:
        """The rows where every column of ``columns`` is present (and finite)."""
        ...

    def where(self, source: Any, column: str, op: Comparison, value: float) -> Any:
        """The rows where ``column op value`` (a numeric comparison)."""
        ...

    def flag(self, source: Any, column: str, op: Comparison, value: float, name: str) -> Any:
        """The source with column ``name``: 1.0 where ``column op value`` (a numeric
        comparison), else 0.0 (also where ``column`` is missing)."""
        ...

    def flags(self, source: Any, specs: Sequence[tuple[str, Comparison, float, str]]) -> Any:
        """:meth:`flag` for every ``(column, op, value, name)`` of ``specs`` in one step
        (no nesting of one step per flag)."""
        ...

    def fill_missing(self, source: Any, column: str, value: float, name: str) -> Any:
        """The source with column ``name``: ``column`` as a number, ``value`` where it is
        missing (or not finite)."""
        ...

    def select(self, source: Any, columns: Sequence[str]) -> Any:
        """The source with only ``columns`` (in that order)."""
        ...

    def scope(self) -> AbstractContextManager[None]:
        """A context in which the tables and views this engine makes are its own: they are
        dropped when it exits (an estimator's result holds numbers, not relations), so
        fits on a long-lived connection do not pile up temporary tables."""
        ...

    def materialize(self, source: Any) -> Any:
        """The source computed once and kept (in memory or spilled by the engine), so
        later statements do not recompute its filters and joins (one pass)."""
        ...

    def release(self, source: Any) -> None:
        """Free the storage of a source made by :meth:`materialize` (iterative fits keep
        one step's rows at a time); sources read from it must not be used afterwards.
        Other sources are left alone."""
        ...

    def with_columns(self, source: Any, columns: Mapping[str, Expr]) -> Any:
        """Row-wise arithmetic: the source with new columns computed from expressions."""
        ...

    def join_small(self, source: Any, table: pd.DataFrame, on: Sequence[str]) -> Any:
        """The source with a small per-level table's columns attached to every row (a
        many-to-one left join on ``on``; a missing key matches a missing key); rows
        without a level get missing values."""
        ...

    def group_sums(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        """``GROUP BY keys: SUM(expression) AS name`` for each item of ``sums`` and
        ``COUNT(*) AS count``, collected as a small frame sorted by the keys."""
        ...

    def group_relation(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> Any:
        """As :meth:`group_sums`, kept in the engine (not collected): a source for
        further sums over the groups or for :meth:`join_groups`."""
        ...

    def group_min(self, source: Any, keys: Sequence[str], column: str, name: str) -> Any:
        """``GROUP BY keys: MIN(column) AS name`` (a numeric column), kept in the engine as
        :meth:`group_relation` keeps its sums."""
        ...

    def join_groups(self, source: Any, groups: Any, on: Sequence[str]) -> Any:
        """The source with the columns of a :meth:`group_relation` on ``on`` attached
        to every row (many-to-one)."""
        ...
