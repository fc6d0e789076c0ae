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

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from impact.engine.expressions import expression
from impact.engine.identifiers import quote_identifier
from impact.errors import ColumnNotFoundError, InvalidOptionError, close_matches_hint

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
        ``memory_limit`` is set on it).
    """

    name = "duckdb"

    def __init__(self, connection: Any = None) -> None:
        duckdb = _duckdb()
        self.con = connection if connection is not None else duckdb.connect()
        self._names = itertools.count()

    # ------------------------------------------------------------------ sources
    def source(self, data: Any) -> Any:
        """A relation of ``data``: a pandas frame (registered, not copied), a Parquet
        path or glob (``str`` or ``Path`` ending in ``.parquet``), or a relation."""
        if isinstance(data, pd.DataFrame):
            return self.con.from_df(data)
        if isinstance(data, str | Path):
            text = str(data)
            if not text.lower().endswith((".parquet", ".pq")):
                raise InvalidOptionError(
                    f"{text!r}: the DuckDB engine reads Parquet files (name ending .parquet)."
                )
            if not any(ch in text for ch in "*?[") and not Path(text).exists():
                raise FileNotFoundError(f"Parquet file {text!r} does not exist.")
            return self.con.read_parquet(text)
        if hasattr(data, "columns") and hasattr(data, "create_view"):
            return data
        raise InvalidOptionError(
            f"the DuckDB engine reads pandas frames, Parquet paths and DuckDB relations, "
            f"got {type(data).__name__}."
        )

    def _view(self, rel: Any) -> str:
        """A fresh view name on the connection for ``rel`` (quoted, ready for SQL)."""
        name = f"impact_view_{next(self._names)}"
        rel.create_view(name, replace=True)
        return _q(name)

    def _check(self, rel: Any, names: Sequence[str]) -> None:
        have = [str(c) for c in rel.columns]
        for n in names:
            if n not in have:
                raise ColumnNotFoundError(
                    f"column {n!r} is not in the data." + close_matches_hint(n, have)
                )

    def _sql(self, rel: Any, text: str) -> tuple[str, list[float]]:
        expr = expression(text)
        self._check(rel, expr.columns)
        return expr.to_sql("duckdb")

    # ------------------------------------------------------------------ primitives
    def columns(self, source: Any) -> list[str]:
        return [str(c) for c in source.columns]

    def with_columns(self, source: Any, columns: Mapping[str, str]) -> Any:
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
        if table.duplicated(list(on)).any():
            raise InvalidOptionError(
                f"the small table has more than one row for some level of {list(on)}."
            )
        extra = [str(c) for c in table.columns if c not in on]
        clash = [c for c in extra if c in self.columns(source)]
        if clash:
            raise InvalidOptionError(f"the small table's columns {clash} are in the data too.")
        left, right = self._view(source), self._view(self.con.from_df(table))
        cond = " AND ".join(f"l.{quote_identifier(k)} = r.{quote_identifier(k)}" for k in on)
        picks = ", ".join(["l.*", *(f"r.{quote_identifier(c)}" for c in extra)])
        query = _query("SELECT", picks, "FROM", left, "AS l LEFT", "JOIN", right, "AS r ON", cond)
        return self.con.sql(query)

    def group_sums(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, str],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        self._check(source, keys)
        items, params = [_q(k) for k in keys], []
        for name, text in sums.items():
            sql, p = self._sql(source, text)
            items.append(f"SUM(CAST({sql} AS DOUBLE)) AS {_q(name)}")
            params += p
        if count is not None:
            items.append(f"CAST(COUNT(*) AS BIGINT) AS {_q(count)}")
        parts = ["SELECT", ", ".join(items), "FROM", self._view(source)]
        if keys:
            by = ", ".join(_q(k) for k in keys)
            parts += ["GROUP BY", by, "ORDER BY", by]
        out = self.con.sql(_query(*parts), params=params).df()
        if keys and out[list(keys)].isna().any().any():
            raise InvalidOptionError(f"a group key among {list(keys)} is missing on some rows.")
        return out
