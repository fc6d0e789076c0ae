"""Which engine runs an estimation: in-memory frames stay in numpy, files and relations
run in DuckDB, and an explicit ``engine=`` decides where a choice is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from impact.engine.base import Engine
from impact.engine.duckdb_engine import DuckDBEngine
from impact.engine.pandas_engine import PandasEngine
from impact.errors import InvalidOptionError

__all__ = ["ENGINES", "choose_engine"]

#: Engines named by a string.
ENGINES = ("numpy", "pandas", "duckdb", "spark")


def _default_connection() -> Any:
    import duckdb

    return duckdb.default_connection()


def _is_spark(data: Any) -> bool:
    """A Spark DataFrame (classic or Spark Connect)."""
    return type(data).__module__.startswith("pyspark.") and hasattr(data, "groupBy")


def choose_engine(data: Any, engine: str | Engine | None) -> Engine | None:
    """The engine that runs on ``data``; ``None`` for the in-memory (numpy) path.

    Parameters
    ----------
    data : DataFrame, str, Path, DuckDB relation, pyarrow Table/Dataset or polars frame
    engine : {None, "numpy", "pandas", "duckdb", "spark"} or Engine
        ``None``: a pandas frame runs in memory, a Spark DataFrame on its session's Spark,
        anything else in DuckDB (a relation on DuckDB's default connection; pass
        ``DuckDBEngine(connection)`` for another). ``"spark"``: the active SparkSession
        (a pandas frame or Parquet path is read into it).
        ``"pandas"``: the engine algorithms on a pandas frame (as a query engine would run
        them; for checks). An :class:`~impact.engine.base.Engine` instance is used as it is.

    Raises
    ------
    InvalidOptionError
        An unknown engine name, or a source the chosen engine cannot read.
    """
    if engine is not None and not isinstance(engine, str):
        if not isinstance(engine, Engine):
            raise InvalidOptionError(
                f"engine must be one of {ENGINES} or an impact.engine engine, got "
                f"{type(engine).__name__}."
            )
        return engine
    if engine is not None and engine not in ENGINES:
        raise InvalidOptionError(f"engine must be one of {ENGINES}, got {engine!r}.")
    frame = isinstance(data, pd.DataFrame)
    if engine == "numpy" or (engine is None and frame):
        if not frame:
            raise InvalidOptionError(
                f"the numpy engine needs a pandas DataFrame, got {type(data).__name__}; "
                "use engine='duckdb' for files and relations."
            )
        return None
    if engine == "pandas":
        if not frame:
            raise InvalidOptionError(
                f"the pandas engine needs a pandas DataFrame, got {type(data).__name__}."
            )
        return PandasEngine()
    if engine == "spark" or (engine is None and _is_spark(data)):
        from impact.engine.spark_engine import SparkEngine

        return SparkEngine(data.sparkSession if _is_spark(data) else None)
    if engine is None and not isinstance(data, str | Path) and hasattr(data, "create_view"):
        return DuckDBEngine(_default_connection())
    return DuckDBEngine()
