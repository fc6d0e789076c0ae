"""Provenance sidecars: package version, git commit, data hash, seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact._version import __version__

__all__ = [
    "data_sha256",
    "git_commit",
    "json_text",
    "provenance",
    "report_provenance",
    "source_sha256",
]


def source_sha256(data: object) -> str | None:
    """SHA-256 of the files a Parquet path or glob names (their names and bytes, in sorted
    order); None for data held otherwise (a relation: its rows are not read here)."""
    import glob

    if not isinstance(data, str | Path):
        return None
    h = hashlib.sha256()
    for name in sorted(glob.glob(str(data))):
        h.update(f"{Path(name).name}\n".encode())
        with open(name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def data_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's content: column names and order, dtypes and values (no index).

    Numeric and boolean columns are hashed as their little-endian 8-byte float values
    (so int and float columns holding the same numbers hash alike); other columns as
    their text, one value per line. Fast (no CSV formatting), and the same frame gives
    the same digest on every machine.
    """
    h = hashlib.sha256()
    h.update(f"{len(df)} rows\n".encode())
    for name in df.columns:
        s = df[name]
        h.update(f"\n{name}\n".encode())
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            v = s.to_numpy(dtype="<f8", na_value=np.nan)
            v = np.where(np.isnan(v), np.nan, v)  # one NaN bit pattern
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update("\n".join("" if pd.isna(x) else str(x) for x in s).encode("utf-8"))
    return h.hexdigest()


def git_commit(path: Path | None = None) -> str | None:
    """Commit of the git checkout at ``path``, else the working directory, else this package."""
    candidates = [Path(path)] if path is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for here in candidates:
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=here,
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return None


def provenance(
    *, data: Mapping[str, pd.DataFrame], seed: int | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Provenance record: version, git commit, per-input data hashes, seed, package versions."""
    import numpy
    import scipy

    rec: dict[str, Any] = {
        "impact_version": __version__,
        "git_commit": git_commit(),
        "seed": seed,
        "data_sha256": {k: data_sha256(v) for k, v in sorted(data.items())},
        "versions": {
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "scipy": scipy.__version__,
        },
    }
    if extra:
        rec.update(extra)
    return rec


def json_text(obj: Mapping[str, Any]) -> str:
    """JSON text, deterministic: sorted keys, fixed separators, trailing newline."""
    return json.dumps(obj, sort_keys=True, indent=2, default=str) + "\n"


def report_provenance(
    data: Any, spec: Any, built: dict, steps: list, notes: list[str], workers: int
) -> dict[str, Any]:
    """The report's provenance sidecar: package version, git commit, the data's SHA-256
    (frames; None otherwise), seed, spec, the warnings of each step (``built``: the
    steps' results by (kind, name)), notes, workers and dependency versions."""
    caught = {
        f"{kind} {name}": built[kind, name][1] for kind, name in steps if built[kind, name][1]
    }
    return {
        "impact_version": __version__,
        "git_commit": git_commit(),
        "seed": spec.seed,
        "data_sha256": data_sha256(data) if isinstance(data, pd.DataFrame) else None,
        "spec": spec.to_dict(),
        "warnings": caught,
        "notes": notes,
        "workers": workers,
        "versions": _versions(),
    }


#: The installed distributions whose versions the provenance records.
DEPENDENCIES = ("linearmodels", "matplotlib", "numpy", "pandas", "scipy", "seaborn",
                "statsmodels")  # fmt: skip


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
