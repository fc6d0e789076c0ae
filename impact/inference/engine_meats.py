"""Cluster sums of an engine fit's scores: the meats of one- and multi-way CRV1, and
which fixed effects are nested in a cluster (not counted in K by the default SSC)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from impact._typing import FloatArray
from impact.engine.base import Engine
from impact.inference.linear_vcov import ClusterMeats
from impact.linear.engine_schur import INTERNAL, EngineFit, gram_from, products

__all__ = ["cluster_meats"]


def cluster_meats(
    engine: Engine,
    fit: EngineFit,
    clusters: Sequence[str],
    fixef: Sequence[tuple[str, ...]],
    source: Any,
) -> ClusterMeats:
    """Cluster sums of the scores for every intersection of ``clusters`` (one pass each)
    and the fixed-effect dimensions nested in a cluster (one pass per pair)."""
    k = len(fit.beta)
    sc = [f"{INTERNAL}s{j}" for j in range(k)]
    terms: list[tuple[int, FloatArray, int]] = []
    n_clusters: dict[str, int] = {}
    for size in range(1, len(clusters) + 1):
        for subset in itertools.combinations(clusters, size):
            sums = engine.group_relation(
                fit.scored,
                list(subset),
                {f"{INTERNAL}cs{j}": s for j, s in enumerate(sc)},
                count=None,
            )
            out = engine.group_sums(
                sums, [], products([f"{INTERNAL}cs{j}" for j in range(k)], "", "m"), count="G"
            )
            g = int(out["G"].iloc[0])
            terms.append((1 if size % 2 else -1, gram_from(out, sc, "m"), g))
            if size == 1:
                n_clusters[subset[0]] = g
    nested_levels = n_nested = 0
    for keys, n_lev in zip(fixef, fit.fe_levels, strict=True):
        for c in clusters:
            pairs = list(dict.fromkeys([*keys, c]))
            if (
                tuple(keys) == (c,)
                or engine.count(engine.group_relation(source, pairs, {}, count=None)) == n_lev
            ):
                nested_levels += n_lev
                n_nested += 1
                break
    return ClusterMeats(terms, n_clusters, nested_levels, n_nested)
