"""The out-of-core engine: the relational primitives of SCALE.md §2.1 in DuckDB.

A source is a DuckDB relation on the engine's connection (a Parquet file or glob, a table
of the connection, or a registered in-memory frame: :meth:`DuckDBEngine.source`). Each
primitive is one SQL statement over a view of the source: column names quoted by
:func:`~impact.engine.identifiers.quote_identifier`, every literal a bound parameter,
expressions written by :meth:`~impact.engine.expressions.Expression.to_sql`; only small
results (one row per group) are collected, as pandas frames. Sums are of DOUBLE values.

DuckDB is an optional dependency (``pip install impact[duckdb]``); creating the engine
without it is a typed error.
"""

from __future__ import annotations

import contextlib
import glob as globmod
import itertools
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from impact.engine.base import (
    COMPARISONS,
    Comparison,
    Expr,
    Kind,
    Meter,
    TypeNames,
    check_levels_unique,
    joined_columns,
)
from impact.engine.expressions import expression
from impact.engine.identifiers import quote_identifier
from impact.errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    EngineError,
    EngineMemoryError,
    ImpactError,
    InvalidOptionError,
    close_matches_hint,
)

__all__ = ["DuckDBEngine"]


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise InvalidOptionError(
            "the DuckDB engine needs duckdb: pip install 'impact[duckdb]' (or duckdb)."
        ) from None
    return duckdb


def _q(name: str) -> str:
    return quote_identifier(str(name), "duckdb")


#: DuckDB's type names (unsigned types are ``U`` + a signed name).
_INTEGERS = ("tinyint", "smallint", "integer", "bigint", "hugeint")
_TYPES = TypeNames(
    numbers=(*_INTEGERS, *("u" + t for t in _INTEGERS), "float", "double", "decimal"),
    boolean="boolean",
    text="varchar",
)


def _frame_kinds(frame: pd.DataFrame) -> dict[str, Kind]:
    """Column kinds of a pandas frame as the in-memory path reads them; an object column
    mixing numbers and text is refused (DuckDB would read 3 and "3" as one level)."""
    from impact.engine.pandas_engine import column_kind

    out: dict[str, Kind] = {}
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True).startswith("mixed"):
            raise ColumnTypeError(
                f"column {c!r} mixes values of different types (e.g. 3 and '3'), which DuckDB "
                "would read as one; convert it to one type (astype(str) or a number)."
            )
        out[str(c)] = column_kind(col)
    return out


def _is_arrow(data: Any) -> bool:
    """A pyarrow Table or Dataset, or a polars (Lazy)Frame (read through Arrow)."""
    mod = type(data).__module__
    return mod.startswith(("pyarrow", "polars"))


def _string_literal(text: str) -> str:
    """A SQL string literal (single quotes doubled), for settings that take no parameters."""
    return "'" + text.replace("'", "''") + "'"


def _query(*parts: str) -> str:
    """Query text from fixed keywords and fragments that are quoted identifiers or the
    SQL of checked expressions (:meth:`~impact.engine.expressions.Expression.to_sql`):
    nothing from a user's file or spec is pasted in unquoted."""
    return " ".join(parts)


class DuckDBEngine:
    """:class:`~impact.engine.base.Engine` on DuckDB relations of one connection.

    Parameters
    ----------
    connection : duckdb.DuckDBPyConnection, optional
        Default: a new in-memory database (spilling to a temporary directory when a
        ``memory_limit`` is set on it) that need not keep the rows' order. A connection
        of yours is used with its settings as they are (``SET preserve_insertion_order =
        false`` lets DuckDB stream more under a memory limit).
    """

    name = "duckdb"

    def __init__(self, connection: Any = None) -> None:
        duckdb = _duckdb()
        if connection is None:  # our own database: results never depend on row order
            connection = duckdb.connect()
            connection.execute("SET preserve_insertion_order = false")
            # spill under the system's temporary folder, not DuckDB's default '.tmp' in
            # the working directory (an interrupted fit would leave its files there)
            spill = Path(tempfile.gettempdir()) / "impact_duckdb_spill"
            connection.execute(f"SET temp_directory = {_string_literal(str(spill))}")
        self.con = connection
        self._names = itertools.count()
        # names of this engine's views and tables: unique per engine, so engines sharing a
        # connection (or a user's own objects) never collide
        self._tag = f"impact_{uuid.uuid4().hex[:12]}"
        self.meter = Meter()
        self._errors = duckdb
        self._frame_kinds: dict[int, dict[str, Kind]] = {}
        # the temporary tables materialize() made, by the id of their relation (the
        # relation is held, so the id is not reused while the table exists)
        self._tables: dict[int, tuple[Any, str]] = {}
        # the views _view() registered, in order (scope() drops those made inside it)
        self._views: list[str] = []

    def _failed(self, exc: Exception, step: str) -> ImpactError:
        """A DuckDB failure as a typed error naming the fix."""
        if isinstance(exc, self._errors.OutOfMemoryException):
            return EngineMemoryError(
                f"DuckDB ran out of memory {step}: raise the connection's memory_limit (SET "
                "memory_limit = '8GB') or give it a temp_directory on a disk with room to "
                f"spill (SET temp_directory = '/path'). DuckDB said: {exc}"
            )
        return EngineError(f"DuckDB could not run a step on the data ({step}): {exc}")

    def _collect(self, rel: Any) -> pd.DataFrame:
        """Execute ``rel`` and collect its (small) result; engine failures become typed."""
        try:
            out = rel.df()
        except self._errors.Error as exc:
            raise self._failed(exc, "collecting a result") from None
        self.meter.record(out)
        return out

    # ------------------------------------------------------------------ sources
    def source(self, data: Any) -> Any:
        """A relation of ``data``: a pandas frame (registered, not copied), a Parquet
        path or glob (``str`` or ``Path`` ending in ``.parquet``), a relation of this
        engine's connection, a pyarrow Table or Dataset, or a polars frame."""
        if isinstance(data, pd.DataFrame):
            try:
                rel = self.con.from_df(data)
            except self._errors.Error as exc:
                odd = [str(c) for c, k in _frame_kinds(data).items() if k == "other"]
                raise ColumnTypeError(
                    f"DuckDB cannot read this frame (columns of dtypes it does not know: "
                    f"{', '.join(odd) or 'see below'}). Convert them (a Period year with "
                    f".dt.year) or fit in memory (engine=None). DuckDB said: {exc}"
                ) from None
            # what the columns hold as pandas sees them: DuckDB reads an object column of
            # numbers as numbers and one of 3 and "3" as text (merging the two)
            self._frame_kinds[id(rel)] = _frame_kinds(data)
            return rel
        if isinstance(data, str | Path):
            text = str(data)
            if not text.lower().endswith((".parquet", ".pq")):
                raise InvalidOptionError(
                    f"{text!r}: the DuckDB engine reads Parquet files (name ending .parquet)."
                )
            if not globmod.glob(text):
                raise FileNotFoundError(f"no Parquet file matches {text!r}.")
            try:
                return self.con.read_parquet(text)
            except self._errors.Error as exc:
                raise self._failed(exc, f"reading {text!r}") from None
        if _is_arrow(data):
            if hasattr(data, "collect"):  # a polars LazyFrame: its plan runs in polars
                data = data.collect()
            if hasattr(data, "to_arrow") and type(data).__module__.startswith("polars"):
                data = data.to_arrow()
            return self.con.from_arrow(data)
        if hasattr(data, "columns") and hasattr(data, "create_view"):
            try:
                self.con.sql(_query("SELECT * FROM", self._view(data), "LIMIT 0")).fetchall()
            except self._errors.Error:
                raise InvalidOptionError(
                    "this DuckDB relation belongs to another connection: pass "
                    "engine=impact.engine.DuckDBEngine(connection) with its connection."
                ) from None
            return data
        raise InvalidOptionError(
            f"the DuckDB engine reads pandas frames, Parquet paths, DuckDB relations, pyarrow "
            "tables or datasets and polars frames, "
            f"got {type(data).__name__}."
        )

    def _view(self, rel: Any) -> str:
        """A fresh view name on the connection for ``rel`` (quoted, ready for SQL)."""
        name = f"{self._tag}_v{next(self._names)}"
        self._views.append(name)
        try:
            rel.create_view(name, replace=False)
        except self._errors.Error as exc:
            raise self._failed(
                exc,
                "registering a view (use an in-memory connection, "
                "duckdb.connect(), with a temp_directory to spill)",
            ) from None
        return _q(name)

    def _check(self, rel: Any, names: Sequence[str]) -> None:
        have = [str(c) for c in rel.columns]
        for n in names:
            if n not in have:
                raise ColumnNotFoundError(
                    f"column {n!r} is not in the data." + close_matches_hint(n, have)
                )

    def _sql(self, rel: Any, text: Expr) -> tuple[str, list[float]]:
        expr = expression(text)
        self._check(rel, expr.columns)
        return expr.to_sql("duckdb")

    # ------------------------------------------------------------------ primitives
    def columns(self, source: Any) -> list[str]:
        return [str(c) for c in source.columns]

    def kinds(self, source: Any) -> dict[str, Kind]:
        if id(source) in self._frame_kinds:  # a pandas frame: as the in-memory path reads it
            return dict(self._frame_kinds[id(source)])
        return {str(c): _TYPES.kind(t) for c, t in zip(source.columns, source.dtypes, strict=True)}

    def count(self, source: Any) -> int:
        out = self._collect(self.con.sql(_query("SELECT COUNT(*) AS n FROM", self._view(source))))
        return int(out["n"].iloc[0])

    def _bad(self, source: Any, name: str) -> str:
        """SQL condition: the column is missing (or not finite, for numbers)."""
        self._check(source, [name])
        col = _q(name)
        if self.kinds(source)[name] == "number":
            return f"({col} IS NULL OR NOT isfinite(CAST({col} AS DOUBLE)))"
        return f"({col} IS NULL)"

    def missing_counts(self, source: Any, columns: Sequence[str]) -> tuple[dict[str, int], int]:
        cols = list(dict.fromkeys(columns))
        if not cols:
            return {}, 0
        conds = [self._bad(source, c) for c in cols]
        items = [
            f"SUM(CASE WHEN {b} THEN 1 ELSE 0 END) AS {_q(f'm{j}')}" for j, b in enumerate(conds)
        ]
        items.append(f"SUM(CASE WHEN {' OR '.join(conds)} THEN 1 ELSE 0 END) AS any_missing")
        out = self._collect(
            self.con.sql(_query("SELECT", ", ".join(items), "FROM", self._view(source)))
        ).fillna(0)
        per = {c: int(out[f"m{j}"].iloc[0]) for j, c in enumerate(cols)}
        return per, int(out["any_missing"].iloc[0])

    def drop_missing(self, source: Any, columns: Sequence[str]) -> Any:
        cols = list(dict.fromkeys(columns))
        if not cols:
            return source
        cond = " OR ".join(self._bad(source, c) for c in cols)
        return self.con.sql(_query("SELECT * FROM", self._view(source), "WHERE NOT (", cond, ")"))

    def where(self, source: Any, column: str, op: Comparison, value: float) -> Any:
        if op not in COMPARISONS:
            raise InvalidOptionError(f"comparison must be one of {COMPARISONS}, got {op!r}.")
        self._check(source, [column])
        sql_op = "=" if op == "==" else op
        cond = f"CAST({_q(column)} AS DOUBLE) {sql_op} CAST(? AS DOUBLE)"
        query = _query("SELECT * FROM", self._view(source), "WHERE", cond)
        return self.con.sql(query, params=[float(value)])

    def flag(self, source: Any, column: str, op: Comparison, value: float, name: str) -> Any:
        return self.flags(source, [(column, op, value, name)])

    def flags(self, source: Any, specs: Sequence[tuple[str, Comparison, float, str]]) -> Any:
        items, params = [], []
        for column, op, value, name in specs:
            if op not in COMPARISONS:
                raise InvalidOptionError(f"comparison must be one of {COMPARISONS}, got {op!r}.")
            self._check(source, [column])
            sql_op = "=" if op == "==" else op
            cond = f"CAST({_q(column)} AS DOUBLE) {sql_op} CAST(? AS DOUBLE)"
            items.append(f"CAST(CASE WHEN {cond} THEN 1.0 ELSE 0.0 END AS DOUBLE) AS {_q(name)}")
            params.append(float(value))
        names = {name for *_, name in specs}
        replaced = [c for c in self.columns(source) if c in names]
        star = f"* EXCLUDE ({', '.join(_q(c) for c in replaced)})" if replaced else "*"
        query = _query("SELECT", ", ".join([star, *items]), "FROM", self._view(source))
        return self.con.sql(query, params=params)

    def fill_missing(self, source: Any, column: str, value: float, name: str) -> Any:
        self._check(source, [column])
        col = f"CAST({_q(column)} AS DOUBLE)"
        expr = f"CASE WHEN {self._bad(source, column)} THEN CAST(? AS DOUBLE) ELSE {col} END"
        replaced = [c for c in self.columns(source) if c == name]
        star = f"* EXCLUDE ({_q(name)})" if replaced else "*"
        query = _query("SELECT", star + ",", expr, "AS", _q(name), "FROM", self._view(source))
        return self.con.sql(query, params=[float(value)])

    def select(self, source: Any, columns: Sequence[str]) -> Any:
        self._check(source, columns)
        picks = ", ".join(_q(c) for c in columns)
        return self.con.sql(_query("SELECT", picks, "FROM", self._view(source)))

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        tables, views = set(self._tables), len(self._views)
        try:
            yield
        finally:
            drops = [_query("DROP VIEW IF EXISTS", _q(n)) for n in reversed(self._views[views:])]
            del self._views[views:]
            made = [k for k in self._tables if k not in tables]
            drops += [_query("DROP TABLE IF EXISTS", self._tables.pop(k)[1]) for k in made]
            for drop in drops:
                try:
                    self.con.execute(drop)
                except self._errors.Error:  # an aborted transaction of the user's: its
                    break  # rollback removes them, and the fit's own error must surface

    def materialize(self, source: Any) -> Any:
        name = _q(f"{self._tag}_t{next(self._names)}")
        try:  # a temporary table: gone with the connection, never in a database file
            self.con.execute(
                _query("CREATE TEMP TABLE", name, "AS SELECT * FROM", self._view(source))
            )
        except self._errors.Error as exc:
            raise self._failed(exc, "keeping the estimation sample") from None
        self.meter.record()
        table = self.con.table(name)
        self._tables[id(table)] = (table, name)
        return table

    def release(self, source: Any) -> None:
        entry = self._tables.get(id(source))
        if entry is None or entry[0] is not source:
            return
        del self._tables[id(source)]
        self.con.execute(_query("DROP TABLE IF EXISTS", entry[1]))

    def with_columns(self, source: Any, columns: Mapping[str, Expr]) -> Any:
        replaced = [c for c in self.columns(source) if c in columns]
        star = f"* EXCLUDE ({', '.join(_q(c) for c in replaced)})" if replaced else "*"
        items, params = [star], []
        for name, text in columns.items():
            sql, p = self._sql(source, text)
            items.append(f"CAST({sql} AS DOUBLE) AS {_q(name)}")
            params += p
        query = _query("SELECT", ", ".join(items), "FROM", self._view(source))
        return self.con.sql(query, params=params)

    def join_small(self, source: Any, table: pd.DataFrame, on: Sequence[str]) -> Any:
        self._check(source, on)
        check_levels_unique(table, on)
        extra = joined_columns(table.columns, self.columns(source), on, "small")
        left, right = self._view(source), self._view(self.con.from_df(table))
        cond = " AND ".join(
            f"l.{quote_identifier(k)} IS NOT DISTINCT FROM r.{quote_identifier(k)}" for k in on
        )
        picks = ", ".join(["l.*", *(f"r.{quote_identifier(c)}" for c in extra)])
        query = _query("SELECT", picks, "FROM", left, "AS l LEFT", "JOIN", right, "AS r ON", cond)
        return self.con.sql(query)

    def _grouped(
        self, source: Any, keys: Sequence[str], sums: Mapping[str, Expr], count: str | None
    ) -> tuple[list[str], list[float]]:
        self._check(source, keys)
        types = dict(zip(self.columns(source), (str(t).upper() for t in source.dtypes),
                         strict=True))  # fmt: skip
        wide = [k for k in keys if types[k] in ("HUGEINT", "UHUGEINT")]
        if wide:  # pandas would receive them as floats, merging neighbouring ids
            raise ColumnTypeError(
                f"column {wide[0]!r} holds 128-bit integers; cast it to BIGINT or VARCHAR "
                "before estimating."
            )
        items, params = [_q(k) for k in keys], []
        for name, text in sums.items():
            sql, p = self._sql(source, text)
            items.append(f"SUM(CAST({sql} AS DOUBLE)) AS {_q(name)}")
            params += p
        if count is not None:
            items.append(f"CAST(COUNT(*) AS BIGINT) AS {_q(count)}")
        parts = ["SELECT", ", ".join(items), "FROM", self._view(source)]
        if keys:
            parts += ["GROUP BY", ", ".join(_q(k) for k in keys)]
        return parts, params

    def group_sums(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        parts, params = self._grouped(source, keys, sums, count)
        if keys:
            parts += ["ORDER BY", ", ".join(_q(k) for k in keys)]
        out = self._collect(self.con.sql(_query(*parts), params=params))
        if keys and out[list(keys)].isna().any().any():
            raise InvalidOptionError(f"a group key among {list(keys)} is missing on some rows.")
        return out

    def group_relation(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> Any:
        parts, params = self._grouped(source, keys, sums, count)
        return self.con.sql(_query(*parts), params=params)

    def group_min(self, source: Any, keys: Sequence[str], column: str, name: str) -> Any:
        parts, _ = self._grouped(source, keys, {}, None)
        self._check(source, [column])
        parts[1] = ", ".join(
            [*(_q(k) for k in keys), f"MIN(CAST({_q(column)} AS DOUBLE)) AS {_q(name)}"]
        )
        return self.con.sql(_query(*parts))

    def join_groups(self, source: Any, groups: Any, on: Sequence[str]) -> Any:
        self._check(source, on)
        self._check(groups, on)
        extra = joined_columns(self.columns(groups), self.columns(source), on, "group")
        left, right = self._view(source), self._view(groups)
        cond = " AND ".join(
            f"l.{quote_identifier(k)} IS NOT DISTINCT FROM r.{quote_identifier(k)}" for k in on
        )
        picks = ", ".join(["l.*", *(f"r.{_q(c)}" for c in extra)])
        query = _query("SELECT", picks, "FROM", left, "AS l LEFT", "JOIN", right, "AS r ON", cond)
        return self.con.sql(query)
