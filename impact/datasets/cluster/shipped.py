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

__all__ = ["FILES", "canonical_text", "read_shipped", "shipped_path", "write_shipped"]

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
_CATEGORIES = {"size_class": ["small", "medium", "large"]}


def canonical_text(df: pd.DataFrame) -> str:
    """CSV text with every float at full precision (``%.17g``): the manifest hashes this."""
    return df.to_csv(index=False, float_format="%.17g", lineterminator="\n")


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

    Returns the manifest path. Same inputs and numpy version give identical bytes.
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
    (out / "truth_params.json").write_text(params_text, encoding="utf-8")
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n_firms": n_firms,
        "scenario": "default",
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
        "files": files,
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


def read_shipped(name: str) -> pd.DataFrame:
    """Read one shipped table by its name in :data:`FILES`."""
    fname = FILES[name]
    blob = (shipped_path() / fname).read_bytes()
    if fname.endswith(".gz"):
        blob = gzip.decompress(blob)
    df = pd.read_csv(io.BytesIO(blob))
    for col, cats in _CATEGORIES.items():
        if col in df.columns:
            df[col] = pd.Categorical(df[col], categories=cats)
    return df
