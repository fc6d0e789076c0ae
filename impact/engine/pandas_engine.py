"""The in-memory engine: the relational primitives on a pandas frame, with numpy kernels."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
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
from impact.engine.kernels import group_sums, group_weights
from impact.errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    InvalidOptionError,
    close_matches_hint,
)

__all__ = ["PandasEngine", "column_kind", "engine_for", "group_codes", "is_number"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}


def is_number(col: pd.Series) -> bool:
    """Numeric and not boolean."""
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def column_kind(col: pd.Series) -> Kind:
    """What a pandas column holds, as the estimators read it (object columns are text,
    even of numbers: the in-memory path does not read them as numbers)."""
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if is_number(col):
        return "number"
    if pd.api.types.is_string_dtype(col) or pd.api.types.is_object_dtype(col):
        return "text"
    return "other"


def _bad(col: pd.Series) -> np.ndarray:
    """Missing, or not finite for numbers."""
    bad = col.isna().to_numpy(dtype=bool, copy=True)
    if is_number(col):
        bad |= ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
    return bad


def group_codes(
    frame: pd.DataFrame, keys: Sequence[str], *, missing_keys: bool = False
) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group codes ``0..G-1`` of the rows (groups sorted by the keys) and the
    keys' values of each group; with ``missing_keys`` a missing key is a level of its own
    (as SQL's GROUP BY), else an error."""
    if not keys:
        return np.zeros(len(frame), dtype=np.intp), pd.DataFrame(index=range(1))
    per_key = [
        pd.factorize(frame[k].to_numpy(), sort=True, use_na_sentinel=not missing_keys) for k in keys
    ]
    if any((c < 0).any() for c, _ in per_key):
        raise InvalidOptionError(f"a group key among {list(keys)} is missing on some rows.")
    shape = tuple(len(u) for _, u in per_key)
    flat = np.ravel_multi_index(tuple(c for c, _ in per_key), shape)
    uniq, codes = np.unique(flat, return_inverse=True)
    levels = np.unravel_index(uniq, shape)
    table = pd.DataFrame({k: u[lv] for k, (_, u), lv in zip(keys, per_key, levels, strict=True)})
    return codes.astype(np.intp), table


def _add(source: pd.DataFrame, made: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """``source`` with the columns ``made`` (replacing those of the same name) in one block,
    not one insertion per column (which fragments a frame given many columns)."""
    if not made:
        return source
    kept = source.drop(columns=[c for c in made if c in source.columns])
    new = pd.DataFrame(dict(made))
    out = pd.concat([kept.reset_index(drop=True), new], axis=1)
    return out.set_axis(source.index, axis=0)


class PandasEngine:
    """:class:`~impact.engine.base.Engine` on a pandas frame (never modified)."""

    name = "pandas"

    def __init__(self) -> None:
        self.meter = Meter()

    def source(self, data: Any) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise InvalidOptionError(
                f"the pandas engine reads pandas DataFrames, got {type(data).__name__}."
            )
        return data

    def columns(self, source: pd.DataFrame) -> list[str]:
        return [str(c) for c in source.columns]

    def _column(self, source: pd.DataFrame, name: str) -> np.ndarray:
        col = source[self._name(source, name)]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise ColumnTypeError(
                f"column {name!r} is not numeric (dtype {col.dtype}); an expression reads numbers."
            )
        return col.to_numpy(dtype=float, na_value=np.nan)

    def kinds(self, source: pd.DataFrame) -> dict[str, Kind]:
        return {str(c): column_kind(source[c]) for c in source.columns}

    def count(self, source: pd.DataFrame) -> int:
        self.meter.record()
        return len(source)

    def missing_counts(
        self, source: pd.DataFrame, columns: Sequence[str]
    ) -> tuple[dict[str, int], int]:
        self.meter.record()
        anyb = np.zeros(len(source), dtype=bool)
        per: dict[str, int] = {}
        for c in dict.fromkeys(columns):
            bad = _bad(source[self._name(source, c)])
            per[c] = int(bad.sum())
            anyb |= bad
        return per, int(anyb.sum())

    def drop_missing(self, source: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        keep = np.ones(len(source), dtype=bool)
        for c in dict.fromkeys(columns):
            keep &= ~_bad(source[self._name(source, c)])
        return source.loc[keep]

    def where(
        self, source: pd.DataFrame, column: str, op: Comparison, value: float
    ) -> pd.DataFrame:
        if op not in COMPARISONS:
            raise InvalidOptionError(f"comparison must be one of {COMPARISONS}, got {op!r}.")
        vals = self._column(source, column)
        with np.errstate(invalid="ignore"):  # a missing value satisfies no comparison (SQL)
            return source.loc[_OPS[op](vals, float(value)) & ~np.isnan(vals)]

    def flag(
        self, source: pd.DataFrame, column: str, op: Comparison, value: float, name: str
    ) -> pd.DataFrame:
        return self.flags(source, [(column, op, value, name)])

    def flags(
        self, source: pd.DataFrame, specs: Sequence[tuple[str, Comparison, float, str]]
    ) -> pd.DataFrame:
        made = {}
        for column, op, value, name in specs:
            if op not in COMPARISONS:
                raise InvalidOptionError(f"comparison must be one of {COMPARISONS}, got {op!r}.")
            vals = self._column(source, column)
            with np.errstate(invalid="ignore"):
                hit = _OPS[op](vals, float(value)) & ~np.isnan(vals)
            made[name] = hit.astype(float)
        return _add(source, made)

    def fill_missing(
        self, source: pd.DataFrame, column: str, value: float, name: str
    ) -> pd.DataFrame:
        vals = self._column(source, column)
        return source.assign(**{name: np.where(np.isfinite(vals), vals, float(value))})

    def select(self, source: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        return source[[self._name(source, c) for c in columns]]

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        yield  # frames are freed with their last reference

    def materialize(self, source: pd.DataFrame) -> pd.DataFrame:
        self.meter.record()
        return source

    def release(self, source: pd.DataFrame) -> None:
        return None  # frames are freed when nothing refers to them

    def _name(self, source: pd.DataFrame, name: str) -> str:
        if name not in source.columns:
            raise ColumnNotFoundError(
                f"column {name!r} is not in the data." + close_matches_hint(name, source.columns)
            )
        return name

    def _values(self, source: pd.DataFrame, expr: Expr) -> np.ndarray:
        out = expression(expr).evaluate(lambda c: self._column(source, c))
        return np.broadcast_to(np.asarray(out, dtype=float), (len(source),))

    def with_columns(self, source: pd.DataFrame, columns: Mapping[str, Expr]) -> pd.DataFrame:
        made = {k: self._values(source, e) for k, e in columns.items()}
        return _add(source, made)

    def join_small(
        self, source: pd.DataFrame, table: pd.DataFrame, on: Sequence[str]
    ) -> pd.DataFrame:
        check_levels_unique(table, on)
        joined_columns(table.columns, source.columns, on, "small")
        joined = source.merge(table, on=list(on), how="left")
        joined.index = source.index
        return joined

    def group_sums(
        self,
        source: pd.DataFrame,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        out = self._grouped(source, keys, sums, count, missing_keys=False)
        self.meter.record(out)
        return out

    def group_relation(
        self,
        source: pd.DataFrame,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        return self._grouped(source, keys, sums, count, missing_keys=True)

    def _grouped(
        self,
        source: pd.DataFrame,
        keys: Sequence[str],
        sums: Mapping[str, Expr],
        count: str | None,
        *,
        missing_keys: bool,
    ) -> pd.DataFrame:
        for k in keys:
            self._name(source, k)
        codes, table = group_codes(source, keys, missing_keys=missing_keys)
        n_groups = len(table)
        if sums:
            values = np.column_stack([self._values(source, e) for e in sums.values()])
            totals = group_sums(codes, n_groups, values)
            sums_frame = pd.DataFrame(totals, columns=list(sums), index=table.index)
            table = pd.concat([table, sums_frame], axis=1)
        if count is not None:
            table[count] = group_weights(codes, n_groups, None).astype(np.int64)
        return table

    def group_min(
        self, source: pd.DataFrame, keys: Sequence[str], column: str, name: str
    ) -> pd.DataFrame:
        for k in keys:
            self._name(source, k)
        codes, table = group_codes(source, keys, missing_keys=True)
        lowest = np.full(len(table), np.inf)
        np.minimum.at(lowest, codes, self._column(source, column))
        return table.assign(**{name: lowest})

    def join_groups(
        self, source: pd.DataFrame, groups: pd.DataFrame, on: Sequence[str]
    ) -> pd.DataFrame:
        return self.join_small(source, groups, on)


def engine_for(source: Any) -> PandasEngine:
    """The engine that runs on ``source`` (a pandas frame: the in-memory engine)."""
    if isinstance(source, pd.DataFrame):
        return PandasEngine()
    raise InvalidOptionError(
        f"no engine runs on {type(source).__name__}; pass a pandas DataFrame (DuckDB and "
        "Spark sources come with their engines)."
    )
