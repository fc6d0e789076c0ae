"""``feols`` in a query engine: the estimation sample, the two-pass Schur fit and the
sandwich from cluster sums, all computed where the rows are (SCALE.md §2.3a)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact.engine.base import Engine
from impact.errors import (
    EmptySampleError,
    InvalidOptionError,
)
from impact.estimators.collinear_drops import protected_error, settle_drops
from impact.inference.engine_meats import cluster_meats
from impact.inference.linear_vcov import ModelSize, sandwich_vcov
from impact.inference.ssc import SSC
from impact.inference.vcov import VcovRequest
from impact.linear.demean import DEMEAN_TOL
from impact.linear.engine_map import MAP_MAXITER
from impact.linear.engine_sample import EngineSample, engine_sample
from impact.linear.engine_schur import EngineFit, engine_twfe
from impact.linear.formula import ParsedFormula
from impact.results.linear import FeolsResult

__all__ = ["engine_result_fields", "feols_in_engine"]


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
    fixef_tol: float = DEMEAN_TOL,
    fixef_maxiter: int = MAP_MAXITER,
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
        fit = engine_twfe(engine, sample, fixef_tol=fixef_tol, fixef_maxiter=fixef_maxiter)
    except EmptySampleError as exc:
        err = protected_error(sample.names, protect)
        if err is not None:
            raise err from exc
        raise
    names, dropped = settle_drops(sample.names, fit.keep, fit.reasons, protect, stacklevel=3)
    fields = engine_result_fields(
        engine, fit, sample, names, dropped, formula=formula, parsed=parsed, request=request,
        ssc=ssc, ssr_over_n=fit.ssr / sample.n, start=start,
    )  # fmt: skip
    sample.log.announce("feols", stacklevel=4)
    return FeolsResult(
        **fields,
        r2=1 - fit.ssr / fit.tss if fit.tss > 0 else float("nan"),
        r2_within=1 - fit.ssr / fit.tss_within if fit.tss_within > 0 else float("nan"),
        ssr=fit.ssr,
    )


def engine_result_fields(
    engine: Engine,
    fit: EngineFit,
    sample: EngineSample,
    names: list[str],
    dropped: list[str],
    *,
    formula: str,
    parsed: ParsedFormula,
    request: VcovRequest,
    ssc: SSC,
    ssr_over_n: float,
    start: tuple[int, int],
) -> dict[str, Any]:
    """The fields of a linear result computed in an engine (feols and fepois): the
    sandwich from the fit's bread and scores (cluster sums in the engine), degrees of
    freedom, sizes and the sample log; the rows stay in the engine (no residuals, fitted
    values or fixed effects). ``ssr_over_n`` scales the iid variance."""
    N, k = sample.n, len(names)
    fe_levels = sum(fit.fe_levels)
    size = ModelSize(
        N=N, k=k, fe_levels=fe_levels,
        fe_rank_full=fit.fe_rank if ssc.k_fixef == "full" else fe_levels,
        n_fe=len(sample.fixef),
    )  # fmt: skip
    meats = None
    if request.kind == "CRV1":
        meats = cluster_meats(engine, fit, request.clusters, sample.fixef, sample.source)
    kind = "cluster" if request.kind == "CRV1" else request.kind
    vres = sandwich_vcov(
        kind, ssc, size, bread=fit.bread, ssr_over_n=ssr_over_n,
        meat_hetero=fit.meat_hetero, meats=meats,
    )  # fmt: skip
    se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
    fe_names = tuple("^".join(f) for f in sample.fixef)
    return {
        "formula": formula,
        "depvar": parsed.depvar.label,
        "coef": pd.Series(fit.beta, index=names, name="estimate"),
        "se": pd.Series(se, index=names, name="std_error"),
        "vcov": pd.DataFrame(vres.V, index=names, columns=names),
        "nobs": N,
        "df_resid": N - k - fit.fe_rank,
        "df_t": vres.small.df_t,
        "n_clusters": dict(vres.n_clusters),
        "vcov_label": request.label,
        "ssc": ssc,
        "small_sample": vres.small,
        "fixef_names": parsed.fixef_names,
        "fixef_sizes": dict(zip(fe_names, fit.fe_levels, strict=True)),
        "collinear": tuple(dropped),
        "vcov_psd_fixed": vres.psd_fixed,
        "sample_log": sample.log,
        "demean_strategy": f"{fit.strategy} (engine)",
        "_parsed": parsed,
        "_row_index": None,
        "_y": None,
        "_resid": None,
        "_xbeta": None,
        "_fe": None,
        "_weights": None,
        "_cat_levels": {},
        "engine_use": engine.meter.since(engine.name, start),
    }
