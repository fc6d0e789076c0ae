"""``impact replicate``: the shipped evaluation report, rebuilt from data.

Loads the embedded synthetic cluster panel with its truth (or a user's CSV file in the
documented schema), reads the spec (``replication/config.toml`` by default), runs
:func:`impact.evaluate` and writes the report. Same inputs and seed give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from impact.data.files import PARQUET, read_panel
from impact.datasets import load, load_truth
from impact.datasets.cluster.shipped import shipped_path
from impact.errors import InvalidOptionError
from impact.report.evaluate import evaluate
from impact.report.spec import Spec

__all__ = ["CONFIG", "DEFAULT_SEED", "default_inputs", "load_spec", "replicate", "run_group"]

DEFAULT_SEED = 20261127
#: The shipped report's spec, relative to the repository root.
CONFIG = Path("replication") / "config.toml"


def load_spec(spec: str | Path | Spec | None = None) -> Spec:
    """The report spec: a Spec, a TOML path, or ``replication/config.toml`` if it exists
    in the working directory (else the defaults, which equal it; tested)."""
    if isinstance(spec, Spec):
        return spec
    if spec is not None:
        return Spec.from_toml(spec)
    return Spec.from_toml(CONFIG) if CONFIG.exists() else Spec()


def default_inputs() -> tuple[pd.DataFrame, dict[str, Any]]:
    """The embedded default panel and its truth tables (with the generator's params)."""
    truth: dict[str, Any] = dict(load_truth())
    truth["params"] = json.loads((shipped_path() / "truth_params.json").read_text())
    return load("cluster_panel"), truth


def replicate(
    out: str | Path = "replication/output",
    *,
    data: str | Path | pd.DataFrame | None = None,
    spec: str | Path | Spec | None = None,
    seed: int | None = None,
    tables: Sequence[str] | None = None,
    figures: Sequence[str] | None = None,
    progress: bool = False,
    workers: int = 1,
    engine: str | None = None,
) -> list[Path]:
    """Rebuild the report into ``out`` and return the written paths.

    Parameters
    ----------
    out : path
    data : path or DataFrame, optional
        A CSV or Parquet file (or a frame) in the documented schema; default the
        embedded synthetic panel, whose truth is then shown beside the estimates.
    spec : path or Spec, optional
        Default ``replication/config.toml`` (see :func:`load_spec`).
    seed : int, optional
        Overrides the spec's seed.
    tables, figures : sequence of str, optional
        Build only these (default: the spec's lists).
    progress : bool
        One line per step on stderr.
    workers : int
        Processes (see :func:`impact.evaluate`; ``impact replicate`` uses 2). Runs with
        the same value give the same bytes; with 2, scripts need the
        ``if __name__ == "__main__":`` guard.
    engine : {None, "numpy", "duckdb"}
        Where a Parquet file is held: ``"duckdb"`` in DuckDB (the estimators with an
        engine path run there, see :func:`impact.evaluate`), ``"numpy"`` read into memory;
        ``None``: DuckDB when it is installed (``impact[duckdb]``), else memory. CSV files
        and frames are read into memory; ``"duckdb"`` with a CSV file is an error.
    """
    s = load_spec(spec)
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if tables is not None:
        changes["tables"] = tuple(tables)
    if figures is not None:
        changes["figures"] = tuple(figures)
    s = s.replace(**changes) if changes else s
    if engine not in (None, "numpy", "duckdb"):
        raise InvalidOptionError(f"engine must be 'numpy' or 'duckdb', got {engine!r}.")
    parquet = isinstance(data, str | Path) and str(data).lower().endswith(PARQUET)
    if engine == "duckdb" and not parquet:
        raise InvalidOptionError(
            "engine='duckdb' reads a Parquet file (--data panel.parquet); CSV files and "
            "frames are read into memory."
        )
    truth = None
    if data is None:
        frame, truth = default_inputs()
    elif parquet and (engine == "duckdb" or (engine is None and _has_duckdb())):
        # held by DuckDB: the estimators with an engine path never read it whole
        return evaluate(str(data), s, progress=progress, engine="duckdb").write(out)
    else:
        # a file is read projected to the spec's columns: a wide register's other
        # columns are never loaded
        frame = data if isinstance(data, pd.DataFrame) else read_panel(data, s.read_columns())
    return evaluate(frame, s, truth=truth, progress=progress, workers=workers).write(out)


def _has_duckdb() -> bool:
    import importlib.util

    return importlib.util.find_spec("duckdb") is not None


def run_group(
    name: str, *, tables: Sequence[str], figures: Sequence[str] | None, description: str
) -> list[Path]:
    """The command line of one ``replication/<name>.py`` script: ``--out DIR`` (default
    ``replication/output/<name>``), the shipped config, these tables and figures
    (``figures=None``: the spec's)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=f"replication/output/{name}")
    out = parser.parse_args().out
    return replicate(out, spec=CONFIG, tables=tables, figures=figures, progress=True)
