"""Assemble the vcov of a linear (or linearised) model from its bread and scores."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.errors import NonPSDWarning
from impact.inference.cell_scores import CellScores
from impact.inference.clusters import FEW_CLUSTERS, check_cluster_count, cluster_codes
from impact.inference.ssc import SSC, SmallSample, small_sample
from impact.inference.vcov import (
    VcovRequest,
    cluster_intersections,
    crv3_vcov,
    meat_cluster,
    psd_fix,
)
from impact.linear.fixed_effects import FixedEffects, count_fixef_rank, is_nested

__all__ = [
    "FEW_CLUSTERS",
    "ClusterMeats",
    "ModelSize",
    "VcovResult",
    "compute_vcov",
    "frame_cluster_codes",
    "sandwich_vcov",
]


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


@dataclass(frozen=True)
class ModelSize:
    """What the small-sample correction counts: observations, slopes and fixed effects.

    Attributes
    ----------
    N, k : int
    fe_levels : int
        Levels over all fixed-effect dimensions.
    fe_rank_full : int
        Identified fixed-effect coefficients (``k_fixef="full"``).
    n_fe : int
        Fixed-effect dimensions.
    """

    N: int
    k: int
    fe_levels: int
    fe_rank_full: int
    n_fe: int


@dataclass(frozen=True)
class ClusterMeats:
    """The cluster sums a cluster-robust vcov needs (from rows or from a query engine).

    Attributes
    ----------
    terms : list of (sign, meat, G)
        Per intersection of cluster dimensions (:func:`cluster_intersections` order):
        its sign, ``sum_g s_g s_g'`` and its number of clusters.
    n_clusters : dict
        Clusters per cluster variable.
    nested_levels, n_nested : int
        Levels and number of the fixed-effect dimensions nested in a cluster variable.
    """

    terms: list[tuple[int, FloatArray, int]]
    n_clusters: Mapping[str, int]
    nested_levels: int
    n_nested: int


def sandwich_vcov(
    kind: str,
    ssc: SSC,
    size: ModelSize,
    *,
    bread: FloatArray,
    ssr_over_n: float,
    meat_hetero: FloatArray | None = None,
    meats: ClusterMeats | None = None,
) -> VcovResult:
    """The iid, HC1 or (multi-way) cluster sandwich from its sufficient statistics.

    ``meat_hetero`` is ``S'S`` of the row scores (``hetero``); ``meats`` the cluster sums
    (``cluster``). Shared by the in-memory fits (:func:`compute_vcov`) and the engine fits.
    """
    common = dict(
        N=size.N, k=size.k, fe_levels=size.fe_levels, fe_rank_full=size.fe_rank_full,
        n_fe=size.n_fe,
    )  # fmt: skip
    if kind == "iid":
        small = small_sample(ssc, vcov_type="iid", fe_levels_nested=0, n_fe_nested=0, **common)
        return VcovResult(small.factors[0] * ssr_over_n * bread, small, {}, False)
    if kind == "hetero":
        if meat_hetero is None:
            raise ValueError("HC1 needs the scores' cross-product.")
        small = small_sample(ssc, vcov_type="hetero", fe_levels_nested=0, n_fe_nested=0, **common)
        return VcovResult(small.factors[0] * (bread @ meat_hetero @ bread), small, {}, False)
    if meats is None:
        raise ValueError("a cluster-robust vcov needs the cluster sums.")
    G = dict(meats.n_clusters)
    gmin = min(G.values())
    check_cluster_count(gmin, min(G, key=G.get), "cluster-robust vcov", stacklevel=5)
    small = small_sample(
        ssc,
        vcov_type="cluster",
        fe_levels_nested=meats.nested_levels,
        n_fe_nested=meats.n_nested,
        G=tuple(g for _, _, g in meats.terms),
        G_min=gmin,
        **common,
    )
    k = bread.shape[0]
    meat = np.zeros((k, k))
    for (sign, m, _), f in zip(meats.terms, small.factors, strict=True):
        meat += sign * f * m
    V = bread @ meat @ bread
    fixed = False
    if len(G) > 1:
        V, fixed = psd_fix(V)
        if fixed:
            warnings.warn(
                "the multi-way cluster vcov is not positive semi-definite; negative "
                "eigenvalues were set to zero (Cameron, Gelbach & Miller 2011). The result "
                "is flagged (vcov_psd_fixed=True).",
                NonPSDWarning,
                stacklevel=4,
            )
    return VcovResult(V, small, G, fixed)


def _cross(scores: FloatArray | CellScores) -> FloatArray:
    """``S'S`` of the row scores."""
    return scores.cross() if isinstance(scores, CellScores) else scores.T @ scores


def _meat(scores: FloatArray | CellScores, codes: IntArray, n_clusters: int) -> FloatArray:
    """``sum_g s_g s_g'`` of the cluster sums of the row scores."""
    if isinstance(scores, CellScores):
        sums = scores.cluster_sums(codes, n_clusters)
        return sums.T @ sums
    return meat_cluster(scores, codes, n_clusters)


def compute_vcov(
    request: VcovRequest,
    ssc: SSC,
    *,
    bread: FloatArray,
    scores: FloatArray | CellScores,
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
    scores : ndarray (n, k) or CellScores
        ``w_i u_i x_i`` with the fixed effects projected out of ``x`` (or held as cell
        regressors and row residuals when the regressors are constant within cells).
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
    size = ModelSize(N=N, k=k, fe_levels=fe_levels, fe_rank_full=rank_full, n_fe=n_fe)
    if request.kind in ("iid", "hetero"):
        return sandwich_vcov(
            request.kind, ssc, size, bread=bread, ssr_over_n=ssr_over_n,
            meat_hetero=_cross(scores) if request.kind == "hetero" else None,
        )  # fmt: skip
    G = {name: int(c.max()) + 1 for name, c in zip(request.clusters, clusters, strict=True)}
    nested_levels, n_nested = _fe_nesting(fe, clusters, request.clusters)
    terms = cluster_intersections(clusters)
    if request.kind == "CRV3":
        gmin = min(G.values())
        check_cluster_count(gmin, min(G, key=G.get), "cluster-robust vcov", stacklevel=4)
        small = small_sample(
            ssc, vcov_type="cluster", fe_levels_nested=nested_levels, n_fe_nested=n_nested,
            G=tuple(g for _, _, g in terms), G_min=gmin, N=N, k=k, fe_levels=fe_levels,
            fe_rank_full=rank_full, n_fe=n_fe,
        )  # fmt: skip
        if jackknife is None or beta is None:
            raise ValueError("CRV3 needs the leave-one-cluster-out estimates.")
        V = crv3_vcov(beta, jackknife(clusters[0], gmin), small.factors[0])
        return VcovResult(V, small, G, False)
    meats = ClusterMeats(
        terms=[(sign, _meat(scores, codes, g), g) for sign, codes, g in terms],
        n_clusters=G,
        nested_levels=nested_levels,
        n_nested=n_nested,
    )
    return sandwich_vcov("cluster", ssc, size, bread=bread, ssr_over_n=ssr_over_n, meats=meats)
