"""Clusters: ONE sum of scores or influence functions within clusters, and ONE
few-clusters rule (fewer than 2 is an error, few is a warning), for every estimator.

Every cluster-robust variance in the package is built from :func:`cluster_sums` (or its
cell-indexed form :func:`cluster_cell_sums`): CRV1 meats of the regressions, the
influence-function variances and multiplier bootstraps of the DiD estimators, the did2s
two-stage scores, the report's difference tests. A query engine computes the same
``GROUP BY cluster: SUM(score)`` (SCALE.md §2.1).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from impact._typing import FloatArray, IntArray
from impact.engine.kernels import group_sums
from impact.errors import ClusterError, FewClustersWarning

__all__ = [
    "FEW_CLUSTERS",
    "check_cluster_count",
    "cluster_cell_sums",
    "cluster_codes",
    "cluster_sums",
    "influence_vcov",
]

#: Below this many clusters, cluster-robust tests over-reject noticeably (Cameron, Gelbach
#: & Miller 2008; MacKinnon & Webb 2017 find distortions already with 20-50 clusters).
FEW_CLUSTERS = 30


def check_cluster_count(n_clusters: int, column: str, who: str, *, stacklevel: int = 3) -> None:
    """Raise :class:`ClusterError` for fewer than 2 clusters; warn below ``FEW_CLUSTERS``.

    Parameters
    ----------
    n_clusters : int
        Clusters in the estimation sample.
    column : str
        The cluster variable (for the message).
    who : str
        The estimator (for the message).
    """
    if n_clusters < 2:
        raise ClusterError(
            f"{who}: cluster variable {column!r} has {n_clusters} cluster in the estimation "
            "sample; cluster-robust inference needs at least 2 (and ideally many more). "
            "Cluster on a finer variable."
        )
    if n_clusters < FEW_CLUSTERS:
        warnings.warn(
            f"{who}: only {n_clusters} clusters in {column!r} (fewer than {FEW_CLUSTERS}): "
            "cluster-robust tests over-reject with few clusters; use the wild cluster "
            "bootstrap (impact.wildboot for feols, its score bootstrap for fepois, "
            "impact.did_wildboot for att_gt, imputation and did2s) or "
            "impact.randomization_test.",
            FewClustersWarning,
            stacklevel=stacklevel,
        )


def cluster_codes(values: object, column: str = "cluster") -> tuple[IntArray, int]:
    """Integer codes ``0..G-1`` of cluster values (sorted), and ``G``.

    Raises
    ------
    ClusterError
        A value is missing (it would silently leave its rows out of every sum).
    """
    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    if (codes < 0).any():
        raise ClusterError(
            f"cluster variable {column!r} is missing for {int((codes < 0).sum())} rows; "
            "drop them or fill the cluster first."
        )
    return codes.astype(np.intp), len(uniques)


def cluster_sums(
    scores: FloatArray, codes: IntArray | None = None, n_clusters: int | None = None
) -> FloatArray:
    """Within-cluster sums of score or influence-function rows: ``(G, k)``.

    Parameters
    ----------
    scores : ndarray (n,) or (n, k)
    codes : ndarray of int, optional
        Cluster code ``0..G-1`` of each row; None: each row is its own cluster.
    n_clusters : int, optional
        ``G`` (default ``codes.max() + 1``).

    Returns
    -------
    ndarray (G, k)
        Always two-dimensional.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if codes is None:
        out = scores
    else:
        g = int(codes.max()) + 1 if n_clusters is None else n_clusters
        out = group_sums(codes, g, scores)
    return out if out.ndim == 2 else out[:, None]


def cluster_cell_sums(
    values: FloatArray, codes: IntArray, cells: IntArray, n_clusters: int, n_cells: int
) -> sp.csr_matrix:
    """Within-cluster sums of ``values`` by cell: the sparse ``(G, K)`` table of
    ``GROUP BY cluster, cell: SUM(value)`` (scores of regressors that are cell dummies)."""
    return sp.csr_matrix((values, (codes, cells)), shape=(n_clusters, n_cells))


def influence_vcov(
    inf: FloatArray, codes: IntArray | None = None, n: int | None = None
) -> FloatArray:
    """Variance of estimates with influence functions ``inf`` (n, m): ``S'S / n^2``,
    ``S`` the within-cluster sums (:func:`cluster_sums`; no codes: by row).

    ``n`` is the number of units when the rows are not units (cluster sums, or rows
    whose cross-product equals the units' computed by a query engine).
    """
    n = inf.shape[0] if n is None else n
    S = cluster_sums(inf, codes)
    return S.T @ S / n**2
