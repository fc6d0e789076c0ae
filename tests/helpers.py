"""Tolerances (named, with their reason), the one comparison helper, and test data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.datasets.cluster import PRODUCTION_COLUMNS

#: Same algebra computed two ways (within vs dummies): only rounding differs.
RTOL_CLOSED_FORM = 1e-10
#: Another implementation of the same estimator and convention.
RTOL_PEER = 1e-6
#: The engines of the conformance suites (engine= of the estimators): Spark (the active
#: session of tests/conftest.py) runs in its own CI step, with the marker ``spark``.
ENGINES = ["pandas", "duckdb", pytest.param("spark", marks=pytest.mark.spark)]
#: The engines of the suites that iterate over the rows (alternating projections of large
#: fixed effects): each sweep is a Spark job (0.3-1 s), so on Spark they are also ``slow``
#: (minutes per test; run locally with ``-m "spark and slow"``, outside CI's Spark step,
#: which fits one firm + worker model by alternating projections on classic and Connect).
ITERATIVE_ENGINES = [
    "pandas",
    "duckdb",
    pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow]),
]
#: The query engines (no pandas engine), for the suites that compare with peers.
QUERY_ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]

#: Results that depend on a convergence tolerance (iterative demeaning): estimates.
RTOL_ITERATIVE = 1e-6
#: ... and standard errors.
RTOL_ITERATIVE_SE = 1e-4


def assert_close(actual, expected, *, rtol: float, atol: float = 0.0) -> None:
    """Elementwise ``|a - e| <= atol + rtol * |e|``; keyword-only tolerances."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def random_panel(
    seed: int,
    *,
    n_units: int = 60,
    n_periods: int = 8,
    drop_share: float = 0.25,
    n_ind: int = 6,
    n_regions: int = 12,
) -> pd.DataFrame:
    """An unbalanced firm-year panel with FE structure, heteroskedastic errors and weights.

    Firms belong to industries and regions (regions nest firms); 'grp' is a cross-cutting
    random group that is not nested in anything.
    """
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    year = np.tile(np.arange(2000, 2000 + n_periods), n_units)
    ind = rng.integers(0, n_ind, n_units)[unit]
    region = rng.integers(0, n_regions, n_units)[unit]
    alpha = rng.normal(size=n_units)[unit]
    gamma = rng.normal(size=n_periods)[year - 2000]
    x1 = rng.normal(size=unit.size) + 0.5 * alpha
    x2 = rng.normal(size=unit.size) + 0.3 * gamma
    eps = rng.normal(size=unit.size) * (0.5 + np.abs(x1))
    y = 1.0 + 0.7 * x1 - 0.4 * x2 + alpha + gamma + 0.3 * ind + eps
    df = pd.DataFrame(
        {
            "unit": unit,
            "year": year,
            "ind": ind,
            "region": region,
            "grp": rng.integers(0, 9, unit.size),
            "x1": x1,
            "x2": x2,
            "y": y,
            "w": rng.uniform(0.5, 2.0, unit.size),
        }
    )
    keep = rng.uniform(size=len(df)) > drop_share
    return df.loc[keep].reset_index(drop=True)


#: Column roles of the synthetic panel for prodest (value added, labour, capital, materials).
PRODEST_COLUMNS = dict(PRODUCTION_COLUMNS)


def parquet_shards(frame: pd.DataFrame, folder, parts: int = 3) -> str:
    """Write ``frame`` as ``parts`` Parquet files in ``folder``; returns their glob."""
    for k, rows in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[rows].to_parquet(folder / f"part-{k}.parquet", index=False)
    return str(folder / "part-*.parquet")


def spilling_engine(folder, memory: str = "50MB"):
    """A DuckDB engine under a memory limit, two threads, spilling to ``folder``."""
    import duckdb

    from impact.engine import DuckDBEngine

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute("SET threads = 2")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{folder / 'spill'}'")
    return DuckDBEngine(con)
