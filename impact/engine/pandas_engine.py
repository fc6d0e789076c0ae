"""The in-memory engine: the relational primitives on a pandas frame, with numpy kernels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact.engine.expressions import expression
from impact.engine.kernels import group_sums, group_weights
from impact.errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    InvalidOptionError,
    close_matches_hint,
)

__all__ = ["PandasEngine", "engine_for", "group_codes"]


def group_codes(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group codes ``0..G-1`` of the rows (groups sorted by the keys) and the
    keys' values of each group."""
    if not keys:
        return np.zeros(len(frame), dtype=np.intp), pd.DataFrame(index=range(1))
    per_key = [pd.factorize(frame[k].to_numpy(), sort=True) for k in keys]
    if any((c < 0).any() for c, _ in per_key):
        raise InvalidOptionError(f"a group key among {list(keys)} is missing on some rows.")
    shape = tuple(len(u) for _, u in per_key)
    flat = np.ravel_multi_index(tuple(c for c, _ in per_key), shape)
    uniq, codes = np.unique(flat, return_inverse=True)
    levels = np.unravel_index(uniq, shape)
    table = pd.DataFrame({k: u[lv] for k, (_, u), lv in zip(keys, per_key, levels, strict=True)})
    return codes.astype(np.intp), table


class PandasEngine:
    """:class:`~impact.engine.base.Engine` on a pandas frame (never modified)."""

    name = "pandas"

    def columns(self, source: pd.DataFrame) -> list[str]:
        return [str(c) for c in source.columns]

    def _column(self, source: pd.DataFrame, name: str) -> np.ndarray:
        if name not in source.columns:
            raise ColumnNotFoundError(
                f"column {name!r} is not in the data." + close_matches_hint(name, source.columns)
            )
        col = source[name]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise ColumnTypeError(
                f"column {name!r} is not numeric (dtype {col.dtype}); an expression reads numbers."
            )
        return col.to_numpy(dtype=float, na_value=np.nan)

    def _values(self, source: pd.DataFrame, expr: str) -> np.ndarray:
        out = expression(expr).evaluate(lambda c: self._column(source, c))
        return np.broadcast_to(np.asarray(out, dtype=float), (len(source),))

    def with_columns(self, source: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
        return source.assign(**{k: self._values(source, e) for k, e in columns.items()})

    def join_small(
        self, source: pd.DataFrame, table: pd.DataFrame, on: Sequence[str]
    ) -> pd.DataFrame:
        try:
            joined = source.merge(table, on=list(on), how="left", validate="many_to_one")
        except pd.errors.MergeError:
            raise InvalidOptionError(
                f"the small table has more than one row for some level of {list(on)}."
            ) from None
        joined.index = source.index
        return joined

    def group_sums(
        self,
        source: pd.DataFrame,
        keys: Sequence[str],
        sums: Mapping[str, str],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        codes, table = group_codes(source, keys)
        n_groups = len(table)
        if sums:
            values = np.column_stack([self._values(source, e) for e in sums.values()])
            totals = group_sums(codes, n_groups, values)
            for j, name in enumerate(sums):
                table[name] = totals[:, j]
        if count is not None:
            table[count] = group_weights(codes, n_groups, None).astype(np.int64)
        return table


def engine_for(source: Any) -> PandasEngine:
    """The engine that runs on ``source`` (a pandas frame: the in-memory engine)."""
    if isinstance(source, pd.DataFrame):
        return PandasEngine()
    raise InvalidOptionError(
        f"no engine runs on {type(source).__name__}; pass a pandas DataFrame (DuckDB and "
        "Spark sources come with their engines)."
    )
