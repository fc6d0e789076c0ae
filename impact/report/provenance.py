"""Provenance sidecars: package version, git commit, data hash, seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact._version import __version__

__all__ = ["data_sha256", "git_commit", "json_text", "provenance"]


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
