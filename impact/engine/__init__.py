"""Engines: where the relational primitives of SCALE.md §2.1 run (pandas/numpy, DuckDB, Spark).

Rule for every engine (docs/security.md): a column name from a user's file or spec reaches
a query only quoted by :func:`quote_identifier` (or as an object of the engine's own
DataFrame API), every value is a bound parameter, and no string from a spec or a file is
formatted into query text. ``tests/edge_cases/test_engine_identifiers.py`` enforces it.
"""

from impact.engine.identifiers import DIALECTS, quote_identifier

__all__ = ["DIALECTS", "quote_identifier"]
