"""The engine's count of identified fixed-effect coefficients (impact.linear.engine_rank)
against the rank of the dummy matrix itself (numpy's SVD rank of [D_1 ... D_K]) on small
designs: connected, split, nested and redundant dimensions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.linear.engine_rank import engine_fixef_rank, tuple_rank

duckdb = pytest.importorskip("duckdb")
from impact.engine import DuckDBEngine  # noqa: E402


def _dummy_rank(df: pd.DataFrame, fixef: list[tuple[str, ...]]) -> int:
    blocks = [pd.get_dummies(df[list(f)].astype(str).agg("|".join, axis=1)).to_numpy(float)
              for f in fixef]  # fmt: skip
    return int(np.linalg.matrix_rank(np.hstack(blocks)))


def _design(seed: int, kind: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    df = pd.DataFrame({"a": rng.integers(0, 60, n), "b": rng.integers(0, 12, n),
                       "c": rng.integers(0, 5, n)})  # fmt: skip
    if kind == "split":  # two blocks sharing no level of b or c
        half = df["a"] < 30
        df.loc[half, "b"] = df.loc[half, "b"] % 6
        df.loc[~half, "b"] = 6 + df.loc[~half, "b"] % 6
        df.loc[half, "c"] = df.loc[half, "c"] % 2
        df.loc[~half, "c"] = 2 + df.loc[~half, "c"] % 3
    if kind == "nested":  # c is a function of b: its dummies add nothing
        df["c"] = df["b"] // 3
    if kind == "sparse":  # few rows: many levels meet once
        df = df.iloc[:70]
    return df


@pytest.mark.parametrize("kind", ["random", "split", "nested", "sparse"])
@pytest.mark.parametrize(
    "fixef",
    [[("a",), ("b",)], [("a",), ("b",), ("c",)], [("a",), ("b", "c"), ("c",)]],
    ids=str,
)
def test_exact_rank_equals_the_dummy_matrix_rank(kind, fixef):
    df = _design(5, kind)
    engine = DuckDBEngine()
    src = engine.source(df)
    levels = [int(df[list(f)].drop_duplicates().shape[0]) for f in fixef]
    assert engine_fixef_rank(engine, src, fixef, levels) == _dummy_rank(df, fixef)


def test_tuple_rank_of_one_small_dimension_is_levels_less_components():
    # tuples 0-1 linked, 2 alone, 3-4 linked: 5 levels, 3 components
    first, other = np.array([0, 3]), np.array([1, 4])
    assert tuple_rank(np.arange(5)[:, None], first, other) == 2
