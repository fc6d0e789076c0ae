"""The DiD estimators as linear maps of the outcome, for the wild cluster bootstrap-t.

Given the design (cells, comparison groups, weights), each estimator's estimates and the
cluster sums of its variance terms ("scores", ``V = S'S``) are linear in the outcome. A
:class:`LinearEstimator` re-runs one fit's estimator on any outcome vector over the fit's
frame and returns both (:class:`LinearRun`); :mod:`impact.estimators.did_wildboot` builds
the bootstrap from ``G + 2`` such runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError, rerun_quietly
from impact.estimators.att_gt import att_gt
from impact.estimators.did2s import did2s_fit
from impact.estimators.did_regression import REGRESSION_ESTIMATORS, regression_estimator
from impact.estimators.es_adapters import cluster_name
from impact.estimators.imputation import FirstStageSpec, imputation_fit
from impact.estimators.linear_map import (
    NOT_SAME,
    LinearEstimator,
    LinearRun,
    event_estimator,
    same_values,
)
from impact.inference.clusters import cluster_sums
from impact.results.att_gt import ATTgtResult
from impact.results.event_study import EventStudyResult

__all__ = ["linear_estimator", "subgroup_difference"]

#: Event-study estimators whose fits the bootstrap re-runs.
EVENT_ESTIMATORS = ("imputation", "did2s", *REGRESSION_ESTIMATORS)


def _att_gt_run(data, call, aggregate, agg_kw, codes, G) -> Callable[[FloatArray], LinearRun]:
    def run(values: FloatArray) -> LinearRun:
        frame = data.assign(**{call["y"]: values})
        with rerun_quietly():
            res = att_gt(frame, **call)
        if aggregate is None:
            est, inf = res.table["estimate"].to_numpy(dtype=float), res._inf
        else:
            agg = res.aggregate(aggregate, **agg_kw)
            if aggregate == "simple":
                est, inf = np.array([agg.estimate]), agg.influence[:, None]
            else:
                est = np.r_[agg.estimate, agg.table["estimate"].to_numpy(dtype=float)]
                inf = np.column_stack([agg.influence, agg.table_influence])
        n = inf.shape[0]
        return LinearRun(est, cluster_sums(inf, codes, G) / n, np.sqrt(np.sum(inf**2, 0)) / n)

    return run


def _same_att_gt(fit: ATTgtResult, data: pd.DataFrame, call: dict) -> None:
    """``data`` is the frame the fit was estimated on: its call reproduces the cells,
    the units and their clusters."""
    with rerun_quietly():
        rerun = att_gt(data, **call)
    again = rerun.table["estimate"].to_numpy(dtype=float)
    mine = fit.table["estimate"].to_numpy(dtype=float)
    same = (
        again.shape == mine.shape
        and same_values(again, mine)
        and rerun.units is not None and fit.units is not None
        and rerun.units.equals(fit.units)
        and np.array_equal(rerun._cluster, fit._cluster)
    )  # fmt: skip
    if not same:
        raise InvalidOptionError(NOT_SAME)


def _att_gt_estimator(fit: ATTgtResult, data: pd.DataFrame, aggregate, agg_kw) -> LinearEstimator:
    if fit._call is None:
        raise InvalidOptionError("this att_gt fit does not carry its call; refit it.")
    if fit.settings.get("panel") == "rcs":
        raise InvalidOptionError(
            "did_wildboot resamples units' residual paths: it needs panel data (the fit "
            "is on repeated cross-sections)."
        )
    call = dict(fit._call)
    cluster = fit.settings.get("cluster")
    if not cluster:
        raise InvalidOptionError(
            "fit att_gt with vcov={'cluster': col}: the bootstrap resamples those clusters "
            "(resampling single units needs no bootstrap-t)."
        )
    _same_att_gt(fit, data, call)
    codes = fit._cluster
    G = int(codes.max()) + 1
    unit_of_row = pd.Index(fit.units).get_indexer(data[call["unit"]].to_numpy())
    row_cluster = np.where(unit_of_row >= 0, codes[np.maximum(unit_of_row, 0)], -1)
    covariates = list(call.get("covariates") or [])
    if covariates:  # att_gt drops rows with a missing or infinite covariate
        X = data[covariates].apply(pd.to_numeric, errors="coerce")
        ok = np.isfinite(X.to_numpy(dtype=float, na_value=np.nan)).all(axis=1)
        row_cluster = np.where(ok, row_cluster, -1)
    if aggregate is None:
        terms = list(fit.tidy()["term"])
    else:
        agg = fit.aggregate(aggregate, **agg_kw)
        terms = list(agg.tidy()["term"])
    run = _att_gt_run(data, call, aggregate, agg_kw, codes, G)
    return LinearEstimator(
        run=run, terms=terms, row_cluster=row_cluster, n_clusters=G, cluster=str(cluster),
        n_units=fit.n_units, call=call, overall=aggregate not in (None, "simple"),
        estimator="att_gt",
    )  # fmt: skip


def _event_run(data, request, estimator: str) -> Callable[[FloatArray], tuple[Any, LinearRun]]:
    spec = FirstStageSpec(**request.design(), fixed_effects=request.fixed_effects)
    cl = cluster_name(request.vcov, request.unit)
    lo, hi = request.window

    def run(values: FloatArray) -> tuple[Any, LinearRun]:
        frame = data.assign(**{request.y: values})
        with rerun_quietly():
            if estimator == "imputation":
                fit = imputation_fit(
                    frame, spec, horizons=(0, hi), cluster=None if cl == request.unit else cl
                )
                rel = fit.horizons
                keep = np.ones(len(rel), dtype=bool)
            else:
                fit = did2s_fit(frame, spec, reference=request.reference, cluster=cl)
                rel = fit.rel_times
                keep = (rel >= lo) & (rel <= hi)
        k = int(keep.sum())
        S = fit.scores[:, : len(rel)][:, keep]
        est = fit.estimate[keep]
        scale = fit.score_scale[: len(rel)][keep]
        post = rel[keep] >= 0  # the overall effect: the mean of event times 0 .. window end
        w = post / max(post.sum(), 1)
        linear = LinearRun(
            np.r_[w @ est, est], np.column_stack([S @ w, S]), np.r_[np.abs(w) @ scale, scale]
        )
        return (fit, rel[keep], k), linear

    return run


def _event_estimator(fit: EventStudyResult, data: pd.DataFrame) -> LinearEstimator:
    if fit.estimator not in EVENT_ESTIMATORS:
        raise InvalidOptionError(
            f"did_wildboot takes event_study fits of {EVENT_ESTIMATORS} (linear in the "
            f"outcome with cluster scores) or att_gt fits; got estimator={fit.estimator!r}."
            + (
                " For Callaway-Sant'Anna pass the att_gt fit (event_study(...).fit) with "
                "aggregate='dynamic'."
                if fit.estimator == "cs"
                else ""
            )
        )
    if fit.estimator in REGRESSION_ESTIMATORS:
        return regression_estimator(fit, data)
    request = fit._request
    if request is None:
        raise InvalidOptionError("this event_study fit does not carry its call; refit it.")
    run_full = _event_run(data, request, fit.estimator)
    (inner, _, _), _ = run_full(data[request.y].to_numpy(dtype=float, na_value=np.nan))
    cl = cluster_name(request.vcov, request.unit)
    row_cluster = np.full(len(data), -1)
    # the rows the estimates use: untreated ones (the first stage) and imputable treated
    # ones up to the window's end (later event times are not reported)
    with np.errstate(invalid="ignore"):
        used = inner.row_untreated | (inner.row_imputable & (inner.row_rel <= request.window[1]))
    row_cluster[inner.rows[used]] = inner.row_cluster[used]
    return event_estimator(
        fit, lambda values: run_full(values)[1], row_cluster, int(inner.n_clusters), cl,
        data[request.unit].to_numpy(),
    )  # fmt: skip


def linear_estimator(fit: Any, data: pd.DataFrame, aggregate, agg_kw: dict) -> LinearEstimator:
    """The linear map of ``fit``'s estimator on ``data`` (its own frame)."""
    if isinstance(fit, ATTgtResult):
        return _att_gt_estimator(fit, data, aggregate, agg_kw)
    if isinstance(fit, EventStudyResult):
        if aggregate is not None or agg_kw:
            raise InvalidOptionError(
                "aggregate= and its options apply to att_gt fits; an event study's rows "
                "are its event times."
            )
        return _event_estimator(fit, data)
    raise InvalidOptionError(
        "did_wildboot needs an impact.att_gt fit or an impact.event_study fit "
        f"(estimator {EVENT_ESTIMATORS}), got {type(fit).__name__}."
    )


def subgroup_difference(
    fits: tuple[ATTgtResult, ATTgtResult],
    masks: tuple[np.ndarray, np.ndarray],
    data: pd.DataFrame,
    unit_cluster: pd.Series,
) -> LinearEstimator:
    """Two ``att_gt`` fits on row subsets of ``data`` (``masks``: two subgroups of members
    with shared controls) as one map of the outcome: the simple aggregations of both and
    their difference, with cluster scores from the influence functions aligned by unit
    (``unit_cluster`` maps each unit to its cluster), for a joint wild bootstrap."""
    calls = []
    for fit in fits:
        if fit._call is None:
            raise InvalidOptionError("this att_gt fit does not carry its call; refit it.")
        calls.append(dict(fit._call))
    y, unit = calls[0]["y"], calls[0]["unit"]
    units = pd.Index(pd.unique(np.concatenate([np.asarray(f.units) for f in fits])))
    clusters = unit_cluster.reindex(units)
    if clusters.isna().any():
        raise InvalidOptionError("unit_cluster misses units of the fits.")
    codes, labels = pd.factorize(clusters.to_numpy(), sort=True)
    G = len(labels)

    def run(values: FloatArray) -> LinearRun:
        frame = data.assign(**{y: values})
        est, terms = [], []
        for mask, call in zip(masks, calls, strict=True):
            with rerun_quietly():
                res = att_gt(frame[mask], **call)
            agg = res.aggregate("simple")
            est.append(agg.estimate)
            per_unit = pd.Series(agg.influence / res.n_units, index=res.units)
            terms.append(per_unit.reindex(units, fill_value=0.0).to_numpy())
        inf = np.column_stack([terms[0], terms[1], terms[0] - terms[1]])
        return LinearRun(
            np.array([est[0], est[1], est[0] - est[1]]),
            cluster_sums(inf, codes, G), np.sqrt(np.sum(inf**2, axis=0)),
        )  # fmt: skip

    used = masks[0] | masks[1]
    covariates = sorted({c for call in calls for c in call.get("covariates") or []})
    if covariates:  # att_gt leaves out rows with a missing or infinite covariate
        X = data[covariates].apply(pd.to_numeric, errors="coerce")
        used = used & np.isfinite(X.to_numpy(dtype=float, na_value=np.nan)).all(axis=1)
    pos = units.get_indexer(data[unit].to_numpy())
    row_cluster = np.where(used & (pos >= 0), codes[np.maximum(pos, 0)], -1)
    aggs = [f.aggregate("simple") for f in fits]
    reported = np.array([aggs[0].estimate, aggs[1].estimate, aggs[0].estimate - aggs[1].estimate])
    call = {k: calls[0][k] for k in ("y", "unit", "time", "cohort")}
    call["never_treated"] = calls[0].get("never_treated")
    return LinearEstimator(
        run=run, terms=["first", "second", "difference"], row_cluster=row_cluster,
        n_clusters=G, cluster=str(unit_cluster.name), n_units=len(units), call=call,
        overall=False, estimator="att_gt", reported=reported,
    )  # fmt: skip
