"""The shipped copy of the default panel: writing it with a manifest, finding and reading it."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.datasets.cluster.generate import DEFAULT_SEED, GENERATOR_VERSION, cluster_panel
from impact.errors import ImpactError

__all__ = [
    "FILES",
    "PARAMS_FILE",
    "SHIPPED_DIGITS",
    "canonical_text",
    "read_shipped",
    "shipped_path",
    "write_shipped",
]

#: Shipped tables: name -> file name. ``.gz`` files are gzip with a zero timestamp.
FILES = {
    "raw": "cluster_panel_raw.csv.gz",
    "deflators": "cluster_panel_deflators.csv",
    "id_changes": "cluster_panel_id_changes.csv",
    "truth_firm_year": "truth_firm_year.csv.gz",
    "truth_att_gt": "truth_att_gt.csv",
    "truth_att_event": "truth_att_event.csv",
    "truth_att_overall": "truth_att_overall.csv",
    "truth_spillover_event": "truth_spillover_event.csv",
    "truth_hetero": "truth_hetero.csv",
    "truth_dirt": "truth_dirt.csv.gz",
}
#: The generator parameters (JSON), hashed in the manifest beside the tables.
PARAMS_FILE = "truth_params.json"
_CATEGORIES = {"size_class": ["small", "medium", "large"]}

#: Significant digits of every float written to the shipped CSV files. Twelve digits keep
#: the stored values within a relative 5e-12 of the generator's doubles: far below anything
#: a consumer can resolve (the tightest test tolerance, RTOL_CLOSED_FORM, is 1e-10, and
#: estimates are compared with the truth at Monte Carlo precision). Full precision
#: (``%.17g``) also wrote the last-bit differences (~1e-16 relative) that vectorised math
#: kernels give on different CPUs (AVX-512 or not), so a file regenerated on another machine
#: differed in its text. At twelve digits a value's text changes only when it lies within
#: such a difference of a rounding boundary (a chance of order 1e-4 for each value that
#: differs at all), so the text hashes in the manifest are provenance, and the regeneration
#: test compares values at a tolerance, never text or hashes.
SHIPPED_DIGITS = 12
_FLOAT_FORMAT = f"%.{SHIPPED_DIGITS}g"


def canonical_text(df: pd.DataFrame) -> str:
    """CSV text with every float to :data:`SHIPPED_DIGITS` significant digits.

    This is the text the shipped files hold and the manifest hashes (provenance). Reading
    a shipped table and writing it again gives the same text.
    """
    return df.to_csv(index=False, float_format=_FLOAT_FORMAT, lineterminator="\n")


def _tables(n_firms: int, seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    raw, truth = cluster_panel(n_firms=n_firms, seed=seed, raw=True)
    tables = {
        "raw": raw,
        "deflators": truth.deflators,
        "id_changes": truth.id_changes,
        "truth_firm_year": truth.firm_year,
        "truth_att_gt": truth.att_gt,
        "truth_att_event": truth.att_event,
        "truth_att_overall": truth.att_overall,
        "truth_spillover_event": truth.spillover_event,
        "truth_hetero": truth.hetero,
        "truth_dirt": truth.dirt,
    }
    return tables, truth.params_dict()


def write_shipped(directory: str | Path, *, n_firms: int = 2000, seed: int = DEFAULT_SEED) -> Path:
    """Generate the default panel and write every table, ``truth_params.json`` and the manifest.

    Returns the manifest path. Same inputs, numpy version and CPU give identical bytes; on
    another CPU the values agree to about 1e-15 (see :data:`SHIPPED_DIGITS`).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tables, params = _tables(n_firms, seed)
    files: dict[str, dict[str, Any]] = {}
    for name, df in tables.items():
        text = canonical_text(df)
        data = text.encode("utf-8")
        fname = FILES[name]
        blob = gzip.compress(data, compresslevel=9, mtime=0) if fname.endswith(".gz") else data
        (out / fname).write_bytes(blob)
        files[name] = {
            "file": fname,
            "rows": len(df),
            "columns": len(df.columns),
            "sha256_text": hashlib.sha256(data).hexdigest(),
        }
    params_text = json.dumps(params, sort_keys=True, indent=2, default=list) + "\n"
    params_bytes = params_text.encode("utf-8")
    (out / PARAMS_FILE).write_bytes(params_bytes)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "float_digits": SHIPPED_DIGITS,
        "seed": seed,
        "n_firms": n_firms,
        "scenario": "default",
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
        "files": files,
        "params": {"file": PARAMS_FILE, "sha256": hashlib.sha256(params_bytes).hexdigest()},
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path


def shipped_path() -> Path:
    """Directory of the shipped files: package data when installed, else the repository's data/."""
    try:
        root = resources.files("impact.datasets.shipped")
        path = Path(str(root))
        if (path / "manifest.json").exists():
            return path
    except ModuleNotFoundError:
        pass
    repo = Path(__file__).resolve().parents[3] / "data"
    if (repo / "manifest.json").exists():
        return repo
    raise ImpactError(
        "the shipped cluster panel was not found (neither as package data nor under data/); "
        "regenerate it with `impact simulate --out data`."
    )


def read_shipped(name: str, *, directory: str | Path | None = None) -> pd.DataFrame:
    """Read one shipped table by its name in :data:`FILES`.

    ``directory``: a folder written by :func:`write_shipped`; default: :func:`shipped_path`.
    """
    fname = FILES[name]
    folder = shipped_path() if directory is None else Path(directory)
    blob = (folder / fname).read_bytes()
    if fname.endswith(".gz"):
        blob = gzip.decompress(blob)
    df = pd.read_csv(io.BytesIO(blob))
    for col, cats in _CATEGORIES.items():
        if col in df.columns:
            df[col] = pd.Categorical(df[col], categories=cats)
    return df
