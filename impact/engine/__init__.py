"""Engines: where the relational primitives of SCALE.md §2.1 run (pandas/numpy, DuckDB,
Spark), and the rules that keep a user's names out of query text.

Rule for every engine (docs/security.md): a column name from a user's file or spec reaches
a query only quoted by :func:`quote_identifier` (or as an object of the engine's own
DataFrame API), every value is a bound parameter, and no string from a spec or a file is
formatted into query text. ``tests/edge_cases/test_engine_identifiers.py`` enforces it.
Expressions (:mod:`impact.engine.expressions`) are the one language in which estimators
and specs ask an engine for row-wise arithmetic and sums.
"""

from impact.engine.base import Engine
from impact.engine.duckdb_engine import DuckDBEngine
from impact.engine.identifiers import DIALECTS, quote_identifier
from impact.engine.pandas_engine import PandasEngine, engine_for
from impact.engine.spark_engine import SparkEngine

__all__ = [
    "DIALECTS",
    "DuckDBEngine",
    "Engine",
    "PandasEngine",
    "SparkEngine",
    "engine_for",
    "quote_identifier",
]
