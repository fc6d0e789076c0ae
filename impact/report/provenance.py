"""Provenance sidecars: package version, git commit, data hash, seed."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["data_sha256", "git_commit", "provenance", "write_json"]


def data_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's canonical CSV text (column order and values, no index)."""
    text = df.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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

    import impact

    rec: dict[str, Any] = {
        "impact_version": impact.__version__,
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


def write_json(path: Path, obj: Mapping[str, Any]) -> None:
    """Write JSON deterministically (sorted keys, fixed separators, trailing newline)."""
    path.write_text(json.dumps(obj, sort_keys=True, indent=2, default=str) + "\n", encoding="utf-8")
