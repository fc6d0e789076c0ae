"""The distributed engine: the relational primitives of SCALE.md §2.1 on Apache Spark.

A source is a ``pyspark.sql.DataFrame`` of a classic ``SparkSession`` or of a Spark
Connect session (:meth:`SparkEngine.source` also takes a pandas frame, a Parquet path or
glob). Every primitive is written with the DataFrame API: columns are named by
``F.col`` (never pasted into SQL text), literals are ``F.lit`` values and expressions are
built from the checked tree of :mod:`impact.engine.expressions` (:func:`spark_column`).
Group sums are ``groupBy().agg()`` of DOUBLE values; only small results (one row per
group) reach the driver, through Arrow. Division by zero gives a missing value
(``try_divide``), as in DuckDB, whatever the session's ANSI mode.

pyspark is an optional dependency (``pip install impact[spark]``); creating the engine
without it is a typed error.
"""

from __future__ import annotations

import contextlib
import glob as globmod
import warnings
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
    check_levels_unique,
    joined_columns,
)
from impact.engine.expressions import expression
from impact.engine.spark_columns import (
    column_ref,
    pyspark_functions,
    spark_column,
    spark_kind,
)
from impact.errors import (
    ColumnNotFoundError,
    EngineError,
    EngineMemoryError,
    ImpactError,
    InvalidOptionError,
    close_matches_hint,
)

__all__ = ["SparkEngine"]

#: Rows a group table may have (Java's largest int): a cap on Spark's size estimate of the
#: table that a broadcast join could never reach (Spark refuses to broadcast 512 million).
_GROUP_ROWS_CAP = 2**31 - 1


class SparkEngine:
    """:class:`~impact.engine.base.Engine` on Spark DataFrames of one session.

    Parameters
    ----------
    session : pyspark.sql.SparkSession, optional
        A classic or Spark Connect session; default the active session (a typed error
        when there is none: start one with ``SparkSession.builder...getOrCreate()``).
    """

    name = "spark"

    def __init__(self, session: Any = None) -> None:
        self.F = pyspark_functions()
        if session is None:
            from pyspark.sql import SparkSession

            session = SparkSession.getActiveSession()
            if session is None:
                raise InvalidOptionError(
                    "no active SparkSession: start one (SparkSession.builder.getOrCreate()) "
                    "or pass SparkEngine(session)."
                )
        self.spark = session
        self.meter = Meter()
        self._cached: dict[int, Any] = {}
        # column kinds of frames made from pandas (as the in-memory path reads them) and of
        # the frames derived from them, by id; the frame is held so its id is not reused
        self._known: dict[int, tuple[Any, dict[str, Kind]]] = {}

    # ------------------------------------------------------------------ helpers
    def _failed(self, exc: Exception, step: str) -> ImpactError:
        text = str(exc)
        if "OutOfMemory" in text or "Java heap space" in text:
            return EngineMemoryError(
                f"Spark ran out of memory {step}: raise spark.driver.memory / "
                f"spark.executor.memory or use more partitions. Spark said: {text[:500]}"
            )
        return EngineError(f"Spark could not run a step on the data ({step}): {text[:800]}")

    def _run(self, step: str, fn: Any) -> Any:
        try:
            return fn()
        except ImpactError:
            raise
        except Exception as exc:  # py4j, Connect (gRPC) and analysis errors alike
            raise self._failed(exc, step) from None

    def _collect(self, df: Any) -> pd.DataFrame:
        with warnings.catch_warnings():
            # pyspark 4.x converts Arrow columns with astype(copy=False), which pandas 3
            # deprecates (Pandas4Warning, a DeprecationWarning): a warning per column of every
            # result, about pyspark, not the data
            warnings.filterwarnings(
                "ignore", message="The copy keyword is deprecated", category=DeprecationWarning
            )
            out = self._run("collecting a result", df.toPandas)
        self.meter.record(out)
        return out

    def _check(self, df: Any, names: Sequence[str]) -> None:
        have = list(df.columns)
        for n in names:
            if n not in have:
                raise ColumnNotFoundError(
                    f"column {n!r} is not in the data." + close_matches_hint(n, have)
                )

    def _c(self, name: str) -> Any:
        return self.F.col(column_ref(name))

    def _expr(self, df: Any, text: Expr) -> Any:
        expr = expression(text)
        self._check(df, expr.columns)
        return spark_column(expr)

    def _bad(self, df: Any, name: str) -> Any:
        """The column is missing (or not finite, for numbers)."""
        self._check(df, [name])
        c, F = self._c(name), self.F
        if self.kinds(df)[name] == "number":
            d = c.cast("double")
            return c.isNull() | F.isnan(d) | (F.abs(d) == F.lit(float("inf")))
        return c.isNull()

    def _compare(self, df: Any, column: str, op: Comparison, value: float) -> Any:
        if op not in COMPARISONS:
            raise InvalidOptionError(f"comparison must be one of {COMPARISONS}, got {op!r}.")
        self._check(df, [column])
        c, v = self._c(column).cast("double"), self.F.lit(float(value))
        return {"<": c < v, "<=": c <= v, "==": c == v, "!=": c != v, ">=": c >= v,
                ">": c > v}[op]  # fmt: skip

    # ------------------------------------------------------------------ sources
    def source(self, data: Any) -> Any:
        """A DataFrame of ``data``: a Spark DataFrame (as it is), a pandas frame (made a
        DataFrame of the session), or a Parquet path or glob."""
        if isinstance(data, pd.DataFrame):
            frame = data.copy()
            frame.columns = [str(c) for c in frame.columns]
            df = self._run("reading a pandas frame", lambda: self.spark.createDataFrame(frame))
            from impact.engine.pandas_engine import column_kind

            self._known[id(df)] = (df, {str(c): column_kind(frame[c]) for c in frame.columns})
            return df
        if isinstance(data, str | Path):
            text = str(data)
            if not text.lower().endswith((".parquet", ".pq")):
                raise InvalidOptionError(
                    f"{text!r}: the Spark engine reads Parquet files (name ending .parquet)."
                )
            if not globmod.glob(text) and "://" not in text:
                raise FileNotFoundError(f"no Parquet file matches {text!r}.")
            return self._run(f"reading {text!r}", lambda: self.spark.read.parquet(text))
        if hasattr(data, "groupBy") and hasattr(data, "sparkSession"):
            return data
        raise InvalidOptionError(
            "the Spark engine reads Spark DataFrames, pandas frames and Parquet paths, got "
            f"{type(data).__name__}."
        )

    # ------------------------------------------------------------------ primitives
    def columns(self, source: Any) -> list[str]:
        return list(source.columns)

    def kinds(self, source: Any) -> dict[str, Kind]:
        known = self._known_kinds(source)
        if known is not None:
            return dict(known)
        return {name: spark_kind(t) for name, t in source.dtypes}

    def count(self, source: Any) -> int:
        self.meter.record()
        return int(self._run("counting rows", source.count))

    def missing_counts(self, source: Any, columns: Sequence[str]) -> tuple[dict[str, int], int]:
        cols = list(dict.fromkeys(columns))
        if not cols:
            return {}, 0
        F = self.F
        bads = [self._bad(source, c) for c in cols]
        anyb = bads[0]
        for b in bads[1:]:
            anyb = anyb | b
        items = [F.sum(F.when(b, 1).otherwise(0)).alias(f"m{j}") for j, b in enumerate(bads)]
        items.append(F.sum(F.when(anyb, 1).otherwise(0)).alias("any_missing"))
        out = self._collect(source.agg(*items)).fillna(0)
        per = {c: int(out[f"m{j}"].iloc[0]) for j, c in enumerate(cols)}
        return per, int(out["any_missing"].iloc[0])

    def drop_missing(self, source: Any, columns: Sequence[str]) -> Any:
        cols = list(dict.fromkeys(columns))
        if not cols:
            return source
        bad = self._bad(source, cols[0])
        for c in cols[1:]:
            bad = bad | self._bad(source, c)
        return self._keep(source, source.filter(~bad))

    def _known_kinds(self, df: Any) -> dict[str, Kind] | None:
        entry = self._known.get(id(df))
        return entry[1] if entry is not None and entry[0] is df else None

    def _note(
        self, df: Any, source: Any, changes: Mapping[str, Kind], keep: Sequence[str] | None = None
    ) -> Any:
        """Record ``df``'s kinds: ``source``'s (those of ``keep`` only, if given) updated
        by ``changes``, when ``source``'s are known; returns ``df``."""
        known = self._known_kinds(source)
        if known is not None:
            base = known if keep is None else {c: known[c] for c in keep if c in known}
            self._known[id(df)] = (df, {**base, **changes})
        return df

    def _keep(self, source: Any, df: Any) -> Any:
        """``df`` derived from ``source`` without new columns: the kinds carry over."""
        return self._note(df, source, {})

    def where(self, source: Any, column: str, op: Comparison, value: float) -> Any:
        return self._keep(source, source.filter(self._compare(source, column, op, value)))

    def flag(self, source: Any, column: str, op: Comparison, value: float, name: str) -> Any:
        return self.flags(source, [(column, op, value, name)])

    def flags(self, source: Any, specs: Sequence[tuple[str, Comparison, float, str]]) -> Any:
        F = self.F
        made = {
            name: F.when(self._compare(source, column, op, value), 1.0).otherwise(0.0)
            for column, op, value, name in specs
        }
        return self._add(source, made)

    def _add(self, source: Any, made: Mapping[str, Any]) -> Any:
        """``source`` with the columns ``made`` (DOUBLE; replacing those of the same name)."""
        df = source.withColumns({n: c.cast("double") for n, c in made.items()})
        return self._note(df, source, dict.fromkeys(made, "number"))

    def fill_missing(self, source: Any, column: str, value: float, name: str) -> Any:
        F = self.F
        filled = F.when(self._bad(source, column), F.lit(float(value))).otherwise(
            self._c(column).cast("double")
        )
        return self._add(source, {name: filled})

    def select(self, source: Any, columns: Sequence[str]) -> Any:
        self._check(source, columns)
        return self._note(source.select(*(self._c(c) for c in columns)), source, {}, columns)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        before = set(self._cached)
        try:
            yield
        finally:
            for key in [k for k in self._cached if k not in before]:
                self._release_key(key)

    def materialize(self, source: Any) -> Any:
        def run() -> Any:
            # a checkpoint cuts the lineage: iterative fits would otherwise replay every
            # step, and their plans (a step joined with its own group means) double
            return source.localCheckpoint(eager=True)

        df = self._run("keeping the estimation sample", run)
        self.meter.record()
        self._keep(source, df)
        self._cached[id(df)] = df
        return df

    def _release_key(self, key: int) -> None:
        df = self._cached.pop(key, None)
        if df is not None:
            with contextlib.suppress(Exception):  # a stopped session frees it anyway
                df.unpersist()

    def release(self, source: Any) -> None:
        if self._cached.get(id(source)) is source:
            self._release_key(id(source))

    def with_columns(self, source: Any, columns: Mapping[str, Expr]) -> Any:
        made = {name: self._expr(source, text) for name, text in columns.items()}
        return self._add(source, made)

    def join_small(self, source: Any, table: pd.DataFrame, on: Sequence[str]) -> Any:
        self._check(source, on)
        check_levels_unique(table, on)
        extra = joined_columns(table.columns, self.columns(source), on, "small")
        small = self.source(table.reset_index(drop=True))
        small = small.select(*(self.F.col(column_ref(k)).cast(dict(source.dtypes)[k]).alias(k)
                               for k in on), *(self._c(c) for c in extra))  # fmt: skip
        from impact.engine.pandas_engine import column_kind

        return self._join(source, small, on, {c: column_kind(table[c]) for c in extra})

    def _join(self, source: Any, small: Any, on: Sequence[str], extra: dict[str, Kind]) -> Any:
        F = self.F
        right = small.select(*(F.col(column_ref(k)).alias(f"__r{j}") for j, k in enumerate(on)),
                             *(self._c(c) for c in extra))  # fmt: skip
        cond = None
        for j, k in enumerate(on):
            c = self._c(k).eqNullSafe(F.col(f"__r{j}"))
            cond = c if cond is None else cond & c
        joined = source.join(F.broadcast(right), on=cond, how="left")
        return self._note(joined.drop(*(f"__r{j}" for j in range(len(on)))), source, extra)

    def _agg(self, source: Any, keys: Sequence[str], sums: Mapping[str, Expr],
             count: str | None) -> Any:  # fmt: skip
        self._check(source, keys)
        F = self.F
        items = [F.sum(self._expr(source, t).cast("double")).alias(n) for n, t in sums.items()]
        if count is not None:
            items.append(F.count(F.lit(1)).cast("long").alias(count))
        keyed = [self._c(k) for k in keys]
        if not items:
            return source.select(*keyed).distinct()
        if not keys:
            return source.agg(*items)
        return source.groupBy(*keyed).agg(*items)

    def group_sums(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        out = self._collect(self._agg(source, keys, sums, count))
        if keys and out[list(keys)].isna().any().any():
            raise InvalidOptionError(f"a group key among {list(keys)} is missing on some rows.")
        if keys:  # sorted on the driver: an orderBy would cost Spark a sampling job and a shuffle
            out = out.sort_values(list(keys), kind="mergesort", ignore_index=True)
        return out

    def group_relation(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> Any:
        made = dict.fromkeys([*sums, *([count] if count else [])], "number")
        return self._note(self._agg(source, keys, sums, count), source, made, keys)

    def group_min(self, source: Any, keys: Sequence[str], column: str, name: str) -> Any:
        self._check(source, [*keys, column])
        F = self.F
        df = source.groupBy(*(self._c(k) for k in keys)).agg(
            F.min(self._c(column).cast("double")).alias(name)
        )
        return self._note(df, source, {name: "number"}, keys)

    def _hints_disabled(self) -> bool:
        try:
            value = self.spark.conf.get("spark.sql.optimizer.disableHints", "false")
        except Exception:  # a server that hides the setting keeps Spark's default (hints on)
            return False
        return str(value).strip().lower() == "true"

    def join_groups(self, source: Any, groups: Any, on: Sequence[str]) -> Any:
        self._check(source, on)
        self._check(groups, on)
        extra = joined_columns(self.columns(groups), self.columns(source), on, "group")
        kinds = self.kinds(groups)
        # Spark sizes a join as the product of its sides, and a checkpoint keeps its
        # origin's size: a frame joined with its own group sums (every sweep and IRLS
        # step) would square its estimate each time, whose digits soon stall the planner.
        # A limit caps the group side's estimate at _GROUP_ROWS_CAP rows; it never drops
        # a row of a table Spark can broadcast (at most 512 million rows), and the join
        # broadcasts it (a hint: without hints a larger table could be cut, so refused).
        if self._hints_disabled():
            raise EngineError(
                "the Spark engine joins group tables by broadcast hints, which this session "
                "disables (spark.sql.optimizer.disableHints=true): set it to false to fit here."
            )
        capped = groups.limit(_GROUP_ROWS_CAP)
        return self._join(source, capped, on, {c: kinds[c] for c in extra})
