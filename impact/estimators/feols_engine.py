"""``feols`` in a query engine: the estimation sample, the two-pass Schur fit and the
sandwich from cluster sums, all computed where the rows are (SCALE.md §2.3a)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.engine.base import Engine
from impact.errors import (
    EmptySampleError,
    InvalidOptionError,
)
from impact.estimators.collinear_drops import protected_error, settle_drops
from impact.inference.linear_vcov import ClusterMeats, ModelSize, sandwich_vcov
from impact.inference.ssc import SSC
from impact.inference.vcov import VcovRequest
from impact.linear.engine_sample import engine_sample
from impact.linear.engine_schur import INTERNAL, EngineFit, engine_twfe, gram_from, products
from impact.linear.formula import ParsedFormula
from impact.results.linear import FeolsResult

__all__ = ["feols_in_engine"]


def feols_in_engine(
    engine: Engine,
    data: Any,
    formula: str,
    parsed: ParsedFormula,
    request: VcovRequest,
    *,
    weights: str | None,
    ssc: SSC,
    drop_singletons: bool,
    protect: Sequence[str],
) -> FeolsResult:
    """:func:`impact.feols` with ``data`` read by ``engine`` (see its docstring)."""
    if request.kind == "CRV3":
        raise InvalidOptionError(
            "CRV3 refits the model once per cluster; the engine path computes CRV1 (one- and "
            "multi-way), HC1 and iid. Fit an in-memory pandas frame for CRV3."
        )
    start = engine.meter.mark()
    src = engine.source(data)
    sample = engine_sample(
        engine, src, parsed, weights=weights, clusters=request.clusters,
        drop_singletons=drop_singletons,
    )  # fmt: skip
    try:
        fit = engine_twfe(engine, sample)
    except EmptySampleError as exc:
        err = protected_error(sample.names, protect)
        if err is not None:
            raise err from exc
        raise
    names, dropped = settle_drops(sample.names, fit.keep, fit.reasons, protect, stacklevel=3)
    N, k = sample.n, len(names)
    fe_levels = sum(fit.fe_levels)
    size = ModelSize(
        N=N, k=k, fe_levels=fe_levels,
        fe_rank_full=fit.fe_rank if ssc.k_fixef == "full" else fe_levels,
        n_fe=len(sample.fixef),
    )  # fmt: skip
    meats = None
    if request.kind == "CRV1":
        meats = _cluster_meats(engine, fit, request.clusters, sample.fixef, sample.source)
    kind = "cluster" if request.kind == "CRV1" else request.kind
    vres = sandwich_vcov(
        kind, ssc, size, bread=fit.bread, ssr_over_n=fit.ssr / N,
        meat_hetero=fit.meat_hetero, meats=meats,
    )  # fmt: skip
    se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
    sample.log.announce("feols")
    fe_names = tuple("^".join(f) for f in sample.fixef)
    return FeolsResult(
        formula=formula,
        depvar=parsed.depvar.label,
        coef=pd.Series(fit.beta, index=names, name="estimate"),
        se=pd.Series(se, index=names, name="std_error"),
        vcov=pd.DataFrame(vres.V, index=names, columns=names),
        nobs=N,
        df_resid=N - k - fit.fe_rank,
        df_t=vres.small.df_t,
        n_clusters=dict(vres.n_clusters),
        vcov_label=request.label,
        ssc=ssc,
        small_sample=vres.small,
        fixef_names=parsed.fixef_names,
        fixef_sizes=dict(zip(fe_names, fit.fe_levels, strict=True)),
        r2=1 - fit.ssr / fit.tss if fit.tss > 0 else float("nan"),
        r2_within=1 - fit.ssr / fit.tss_within if fit.tss_within > 0 else float("nan"),
        ssr=fit.ssr,
        collinear=tuple(dropped),
        vcov_psd_fixed=vres.psd_fixed,
        sample_log=sample.log,
        demean_strategy="schur (engine)",
        _parsed=parsed,
        _row_index=None,
        _y=None,
        _resid=None,
        _xbeta=None,
        _fe=None,
        _weights=None,
        _cat_levels={},
        engine_use=engine.meter.since(engine.name, start),
    )


def _cluster_meats(
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
