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
from typing import Any, Protocol, runtime_checkable

import pandas as pd

__all__ = ["Engine"]


@runtime_checkable
class Engine(Protocol):
    """Relational primitives over a source table.

    Inputs are validated before they reach an engine (the design drops or refuses rows
    with missing keys and values), so sums are plain sums.
    """

    name: str

    def columns(self, source: Any) -> list[str]:
        """The source's column names."""
        ...

    def with_columns(self, source: Any, columns: Mapping[str, str]) -> Any:
        """Row-wise arithmetic: the source with new columns computed from expressions."""
        ...

    def join_small(self, source: Any, table: pd.DataFrame, on: Sequence[str]) -> Any:
        """The source with a small per-level table's columns attached to every row (a
        many-to-one left join on ``on``); rows without a level get missing values."""
        ...

    def group_sums(
        self,
        source: Any,
        keys: Sequence[str],
        sums: Mapping[str, str],
        *,
        count: str | None = "n",
    ) -> pd.DataFrame:
        """``GROUP BY keys: SUM(expression) AS name`` for each item of ``sums`` and
        ``COUNT(*) AS count``, collected as a small frame sorted by the keys."""
        ...
