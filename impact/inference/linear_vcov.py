"""Assemble the vcov of a linear (or linearised) model from its bread and scores."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.errors import NonPSDWarning
from impact.inference.clusters import FEW_CLUSTERS, check_cluster_count, cluster_codes
from impact.inference.ssc import SSC, SmallSample, small_sample
from impact.inference.vcov import (
    VcovRequest,
    cluster_intersections,
    crv3_vcov,
    multiway_cluster_vcov,
    psd_fix,
)
from impact.linear.fixed_effects import FixedEffects, count_fixef_rank, is_nested

__all__ = ["FEW_CLUSTERS", "VcovResult", "compute_vcov", "frame_cluster_codes"]


@dataclass(frozen=True)
class VcovResult:
    """A computed vcov with its small-sample bookkeeping."""

    V: FloatArray
    small: SmallSample
    n_clusters: Mapping[str, int]
    psd_fixed: bool


def frame_cluster_codes(frame: pd.DataFrame, names: tuple[str, ...]) -> list[IntArray]:
    """Integer codes of each cluster variable (:func:`~impact.inference.clusters.cluster_codes`;
    a missing value is a ClusterError)."""
    return [cluster_codes(frame[c].to_numpy(), c)[0] for c in names]


def _fe_nesting(
    fe: FixedEffects | None, codes: list[IntArray], cluster_names: tuple[str, ...]
) -> tuple[int, int]:
    if fe is None or not codes:
        return 0, 0
    levels, count = 0, 0
    for name, c, n in zip(fe.names, fe.codes, fe.n_levels, strict=True):
        if any(
            name == cn or is_nested(c, cc, n) for cn, cc in zip(cluster_names, codes, strict=True)
        ):
            levels += n
            count += 1
    return levels, count


def compute_vcov(
    request: VcovRequest,
    ssc: SSC,
    *,
    bread: FloatArray,
    scores: FloatArray,
    ssr_over_n: float,
    N: int,
    k: int,
    fe: FixedEffects | None,
    clusters: list[IntArray],
    jackknife: Callable[[IntArray, int], FloatArray] | None = None,
    beta: FloatArray | None = None,
    fe_rank: int | None = None,
) -> VcovResult:
    """Compute the requested vcov.

    Parameters
    ----------
    request : VcovRequest
    ssc : SSC
    bread : ndarray (k, k)
    scores : ndarray (n, k)
        ``w_i u_i x_i`` with the fixed effects projected out of ``x``.
    ssr_over_n : float
        Weighted sum of squared residuals divided by ``N`` (iid).
    N, k : int
    fe : FixedEffects or None
    clusters : list of ndarray
        Codes of the cluster variables (in ``request.clusters`` order).
    jackknife : callable, optional
        CRV3 only: ``jackknife(codes, G)`` returns the (G, k) leave-one-cluster-out estimates.
    beta : ndarray, optional
        CRV3 only: the full-sample estimate.
    fe_rank : int, optional
        Identified fixed-effect coefficients when the demeaning knows them exactly (used
        by ``k_fixef="full"``; otherwise they are counted from the FE structure).
    """
    fe_levels = sum(fe.n_levels) if fe is not None else 0
    n_fe = fe.n_dims if fe is not None else 0
    if fe is not None and ssc.k_fixef == "full":
        rank_full = fe_rank if fe_rank is not None else count_fixef_rank(fe)
    else:
        rank_full = fe_levels
    common = dict(N=N, k=k, fe_levels=fe_levels, fe_rank_full=rank_full, n_fe=n_fe)
    if request.kind == "iid":
        small = small_sample(ssc, vcov_type="iid", fe_levels_nested=0, n_fe_nested=0, **common)
        return VcovResult(small.factors[0] * ssr_over_n * bread, small, {}, False)
    if request.kind == "hetero":
        small = small_sample(ssc, vcov_type="hetero", fe_levels_nested=0, n_fe_nested=0, **common)
        return VcovResult(
            small.factors[0] * (bread @ (scores.T @ scores) @ bread), small, {}, False
        )
    G = {name: int(c.max()) + 1 for name, c in zip(request.clusters, clusters, strict=True)}
    gmin = min(G.values())
    name = min(G, key=G.get)
    check_cluster_count(gmin, name, "cluster-robust vcov", stacklevel=4)
    nested_levels, n_nested = _fe_nesting(fe, clusters, request.clusters)
    terms = cluster_intersections(clusters)
    small = small_sample(
        ssc,
        vcov_type="cluster",
        fe_levels_nested=nested_levels,
        n_fe_nested=n_nested,
        G=tuple(g for _, _, g in terms),
        G_min=gmin,
        **common,
    )
    if request.kind == "CRV3":
        if jackknife is None or beta is None:
            raise ValueError("CRV3 needs the leave-one-cluster-out estimates.")
        V = crv3_vcov(beta, jackknife(clusters[0], gmin), small.factors[0])
        return VcovResult(V, small, G, False)
    V = multiway_cluster_vcov(bread, scores, terms, small.factors)
    fixed = False
    if len(clusters) > 1:
        V, fixed = psd_fix(V)
        if fixed:
            warnings.warn(
                "the multi-way cluster vcov is not positive semi-definite; negative "
                "eigenvalues were set to zero (Cameron, Gelbach & Miller 2011). The result "
                "is flagged (vcov_psd_fixed=True).",
                NonPSDWarning,
                stacklevel=3,
            )
    return VcovResult(V, small, G, fixed)
