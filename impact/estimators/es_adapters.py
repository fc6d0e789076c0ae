"""One adapter per event-study estimator: each reads an :class:`EventRequest` and returns
one :class:`EventFit` (event-time estimates, their joint covariance, the sample)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray, VcovSpec
from impact.data.samplelog import SampleLog
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.att_gt import att_gt
from impact.estimators.did2s import Did2sFit, did2s_fit
from impact.estimators.es_regressions import sun_abraham_regression, twfe_regression
from impact.estimators.es_request import EventRequest
from impact.estimators.etwfe import etwfe
from impact.estimators.imputation import FirstStageSpec, ImputationFit, imputation_fit
from impact.inference.clusters import influence_vcov
from impact.inference.vcov import parse_vcov
from impact.linear.formula import parse_fixed_effects

__all__ = [
    "ADAPTERS",
    "EventFit",
    "EventRequest",
    "cluster_name",
    "cs_fit",
    "did2s_event_fit",
    "imputation_event_fit",
    "inside_window",
    "regression_fit",
]


@dataclass(frozen=True)
class EventFit:
    """Event-time estimates of one estimator, before the shared table is built.

    ``reference`` is the normalised event time (None: the estimator has no reference
    row, as imputation); ``inference`` states the variance used.
    """

    estimate: FloatArray
    vcov: FloatArray
    rel_time: np.ndarray
    fit: Any
    n_units: int
    sample_log: SampleLog
    n_obs: int
    reference: int | None
    inference: str
    clusters: dict[str, int]
    fixef: tuple[str, ...]
    #: treated observations behind each estimate (imputation, did2s), else None
    treated: FloatArray | None = None


def _cluster_count(fit: Any) -> int | None:
    """Clusters of a regression fit (a feols result's mapping or a cell fit's count)."""
    n = getattr(fit, "n_clusters", None)
    if isinstance(n, dict):
        return next(iter(n.values()), None)
    return int(n) if isinstance(n, int | np.integer) else None


def _fixef(r: EventRequest, *first: str) -> tuple[str, ...]:
    dims = ["^".join(d) for d in parse_fixed_effects(r.fixed_effects or "")]
    return tuple(dict.fromkeys([*first, *dims]))


def regression_fit(r: EventRequest, est, V, rel, fit, n_units, log, n_obs) -> EventFit:
    cl = cluster_name(r.vcov, r.unit) if _one_way(r.vcov) else None
    n = _cluster_count(fit)
    clusters = {cl: n} if cl and n else {}
    fe = _fixef(r, r.unit, r.time)
    return EventFit(est, V, rel, fit, n_units, log, n_obs, r.reference, _regression_label(r),
                    clusters, fe)  # fmt: skip


def _one_way(vcov: VcovSpec) -> bool:
    try:
        cluster_name(vcov, "")
    except InvalidOptionError:
        return False
    return True


def inside_window(r: EventRequest, est: FloatArray, V: FloatArray, rel: np.ndarray):
    keep = (rel >= r.window[0]) & (rel <= r.window[1])
    return est[keep], V[np.ix_(keep, keep)], rel[keep]


def _no_covariates(estimator: str, covariates: Sequence[str]) -> None:
    if covariates:
        raise InvalidOptionError(
            f"estimator={estimator!r} takes no covariates; absorb categories with "
            "fixed_effects='category^time' instead."
        )


def cluster_name(vcov: VcovSpec, unit: str) -> str:
    """The one cluster variable of ``vcov`` (default the unit)."""
    if vcov is None:
        return unit
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((key, cols),) = vcov.items()
        if str(key).lower() in ("cluster", "crv1") and isinstance(cols, str):
            return cols
    raise InvalidOptionError("this estimator supports vcov=None or {'cluster': col}.")


def _regression_label(r: EventRequest) -> str:
    return parse_vcov(r.vcov or {"cluster": r.unit}).label


def _twfe(data: pd.DataFrame, r: EventRequest) -> EventFit:
    return regression_fit(r, *twfe_regression(data, r))


def _sun_abraham(data: pd.DataFrame, r: EventRequest) -> EventFit:
    est, V, rel, fit, n_units, log, n_obs = sun_abraham_regression(data, r)
    est, V, rel = inside_window(r, est, V, rel)
    return regression_fit(r, est, V, rel, fit, n_units, log, n_obs)


def _first_stage_spec(r: EventRequest) -> FirstStageSpec:
    return FirstStageSpec(**r.design(), fixed_effects=r.fixed_effects)


def _imputation(data: pd.DataFrame, r: EventRequest) -> EventFit:
    _no_covariates("imputation", r.covariates)
    cl = cluster_name(r.vcov, r.unit)
    imp = imputation_fit(
        data, _first_stage_spec(r), horizons=(0, r.window[1]),
        cluster=None if cl == r.unit else cl,
    )  # fmt: skip
    return imputation_event_fit(imp, r, cl)


def imputation_event_fit(imp: ImputationFit, r: EventRequest, cl: str) -> EventFit:
    """The :class:`EventFit` of an imputation fit clustered by ``cl``."""
    label = f"Clustered ({cl}), conservative imputation variance"
    return EventFit(
        imp.estimate, imp.vcov, imp.horizons, imp, imp.n_units, imp.sample_log, imp.n_obs,
        None, label, {cl: imp.n_clusters}, (r.unit, r.fixed_effects or r.time), imp.counts,
    )  # fmt: skip


def _did2s(data: pd.DataFrame, r: EventRequest) -> EventFit:
    _no_covariates("did2s", r.covariates)
    cl = cluster_name(r.vcov, r.unit)
    fit = did2s_fit(data, _first_stage_spec(r), reference=r.reference, cluster=cl)
    return did2s_event_fit(fit, r, cl)


def did2s_event_fit(fit: Did2sFit, r: EventRequest, cl: str) -> EventFit:
    """The :class:`EventFit` of a did2s fit clustered by ``cl``, inside the window."""
    est, V, rel = inside_window(r, fit.estimate, fit.vcov, fit.rel_times)
    label = f"Clustered ({cl}), two-stage GMM variance"
    log = fit.sample_log
    counts = None if fit.counts is None else fit.counts[np.isin(fit.rel_times, rel)]
    return EventFit(
        est, V, rel, fit, fit.n_units, log, int(log.n_final), r.reference, label,
        {cl: fit.n_clusters}, (r.unit, r.fixed_effects or r.time), counts,
    )  # fmt: skip


def _etwfe(data: pd.DataFrame, r: EventRequest) -> EventFit:
    if r.covariates or r.reference != -1:
        raise InvalidOptionError(
            "estimator='etwfe' takes no covariates and its reference period is g - 1."
        )
    et = etwfe(
        data, family=r.family, control="never", fixed_effects=r.fixed_effects,
        vcov=r.vcov, alpha=r.alpha, **r.design(),
    )  # fmt: skip
    rel, est, V = et.event_time_effects(r.window[0], r.window[1])
    return EventFit(
        est, V, rel, et, et.n_units, et.sample_log, et.n_obs, r.reference, et.vcov_label,
        et.clusters, et.fixef,
    )  # fmt: skip


def _check_cs_reference(gt: Any, reference: int) -> None:
    """Every cohort's universal base period must be its reference period, observed."""
    tab = gt.table
    base = tab[(tab["time"] == tab["base_period"]).to_numpy()]
    bad = base[base["rel_time"] != reference]
    if len(bad):
        raise ImpactError(
            f"the reference period (event time {reference}) is not observed for cohort "
            f"{bad['cohort'].iloc[0]!s} ({len(bad)} cohorts): the event study would be "
            "normalised on another period. Fill the gap in the time column or choose another "
            "reference."
        )


def cs_fit(data: Any, r: EventRequest, engine: Any = None) -> EventFit:
    """Callaway & Sant'Anna's dynamic aggregation (universal base), in memory or in
    ``engine``."""
    if r.fixed_effects:
        raise InvalidOptionError(
            "fixed_effects is not available with estimator='cs'; "
            "use covariates (taken at the base period)."
        )
    gt = att_gt(
        data, covariates=list(r.covariates) or None, base_period="universal",
        anticipation=-1 - r.reference, vcov=r.vcov if r.vcov is not None else {"cluster": r.unit},
        alpha=r.alpha, engine=engine, **r.design(),
    )  # fmt: skip
    _check_cs_reference(gt, r.reference)
    agg = gt.aggregate("dynamic", min_e=r.window[0], max_e=r.window[1])
    tab = agg.table
    keep = (tab["rel_time"] != r.reference).to_numpy()
    est = tab["estimate"].to_numpy()[keep]
    rel = tab["rel_time"].to_numpy()[keep]
    V = influence_vcov(agg.table_influence[:, keep], agg.cluster, n=agg.n_units)
    return EventFit(
        est, V, rel, gt, gt.n_units, gt.sample_log, int(gt.sample_log.n_final), r.reference,
        gt.inference_label, dict(gt.model_info().clusters), (),
    )  # fmt: skip


#: The adapters by estimator name.
ADAPTERS: dict[str, Callable[[pd.DataFrame, EventRequest], EventFit]] = {
    "twfe": _twfe,
    "sun_abraham": _sun_abraham,
    "imputation": _imputation,
    "did2s": _did2s,
    "etwfe": _etwfe,
    "cs": cs_fit,
}
