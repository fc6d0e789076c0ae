"""ONE few-clusters rule for every estimator: fewer than 2 is an error, few is a warning."""

from __future__ import annotations

import warnings

from impact.errors import ClusterError, FewClustersWarning

__all__ = ["FEW_CLUSTERS", "check_cluster_count"]

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
            "cluster-robust tests over-reject with few clusters; consider the wild cluster "
            "bootstrap.",
            FewClustersWarning,
            stacklevel=stacklevel,
        )
