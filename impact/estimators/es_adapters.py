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
from impact.estimators.es_regressions import sun_abraham_regression, twfe_regression
from impact.estimators.etwfe import etwfe
from impact.estimators.imputation import did2s_fit, imputation_fit
from impact.inference.clusters import influence_vcov
from impact.inference.vcov import parse_vcov

__all__ = ["ADAPTERS", "EventFit", "EventRequest"]


@dataclass(frozen=True)
class EventRequest:
    """The validated arguments of :func:`impact.event_study`."""

    y: str
    unit: str
    time: str
    cohort: str
    window: tuple[int, int]
    reference: int
    covariates: Sequence[str]
    fixed_effects: str | None
    control_pool: str | None
    vcov: VcovSpec
    never_treated: float | None
    freq: str | None
    alpha: float
    family: str

    def design(self) -> dict[str, Any]:
        """Keywords every estimator shares."""
        return {
            "y": self.y, "unit": self.unit, "time": self.time, "cohort": self.cohort,
            "never_treated": self.never_treated, "freq": self.freq,
            "control_pool": self.control_pool,
        }  # fmt: skip


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


def _inside(r: EventRequest, est: FloatArray, V: FloatArray, rel: np.ndarray):
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
    est, V, rel, fit, n_units, log, n_obs = twfe_regression(
        data, window=r.window, reference=r.reference, covariates=r.covariates,
        fixed_effects=r.fixed_effects, vcov=r.vcov, **r.design(),
    )  # fmt: skip
    return EventFit(est, V, rel, fit, n_units, log, n_obs, r.reference, _regression_label(r))


def _sun_abraham(data: pd.DataFrame, r: EventRequest) -> EventFit:
    est, V, rel, fit, n_units, log, n_obs = sun_abraham_regression(
        data, reference=r.reference, covariates=r.covariates,
        fixed_effects=r.fixed_effects, vcov=r.vcov, **r.design(),
    )  # fmt: skip
    est, V, rel = _inside(r, est, V, rel)
    return EventFit(est, V, rel, fit, n_units, log, n_obs, r.reference, _regression_label(r))


def _imputation(data: pd.DataFrame, r: EventRequest) -> EventFit:
    _no_covariates("imputation", r.covariates)
    if cluster_name(r.vcov, r.unit) != r.unit:
        raise InvalidOptionError(
            "estimator='imputation' clusters by unit (Borusyak, Jaravel & Spiess's "
            "Theorem 3 variance); use estimator='did2s' for another cluster variable."
        )
    imp = imputation_fit(
        data, horizons=(0, r.window[1]), fixed_effects=r.fixed_effects, **r.design()
    )
    label = f"Clustered ({r.unit}), conservative imputation variance"
    return EventFit(
        imp.estimate, imp.vcov, imp.horizons, imp, imp.n_units, imp.sample_log, imp.n_obs,
        None, label,
    )  # fmt: skip


def _did2s(data: pd.DataFrame, r: EventRequest) -> EventFit:
    _no_covariates("did2s", r.covariates)
    cl = cluster_name(r.vcov, r.unit)
    rel, est, V, log, n_units = did2s_fit(
        data, reference=r.reference, cluster=cl, fixed_effects=r.fixed_effects,
        return_units=True, **r.design(),
    )  # fmt: skip
    est, V, rel = _inside(r, est, V, rel)
    label = f"Clustered ({cl}), two-stage GMM variance"
    return EventFit(est, V, rel, None, n_units, log, int(log.n_final), r.reference, label)


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
        est, V, rel, et, et.n_units, et.sample_log, et.n_obs, r.reference, et.vcov_label
    )


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


def _cs(data: pd.DataFrame, r: EventRequest) -> EventFit:
    if r.fixed_effects:
        raise InvalidOptionError(
            "fixed_effects is not available with estimator='cs'; "
            "use covariates (taken at the base period)."
        )
    gt = att_gt(
        data, covariates=list(r.covariates) or None, base_period="universal",
        anticipation=-1 - r.reference, vcov=r.vcov if r.vcov is not None else {"cluster": r.unit},
        alpha=r.alpha, **r.design(),
    )  # fmt: skip
    _check_cs_reference(gt, r.reference)
    agg = gt.aggregate("dynamic", min_e=r.window[0], max_e=r.window[1])
    tab = agg.table
    keep = (tab["rel_time"] != r.reference).to_numpy()
    est = tab["estimate"].to_numpy()[keep]
    rel = tab["rel_time"].to_numpy()[keep]
    V = influence_vcov(agg.table_influence[:, keep], agg.cluster)
    return EventFit(
        est, V, rel, gt, gt.n_units, gt.sample_log, int(gt.sample_log.n_final), r.reference,
        gt.inference_label,
    )  # fmt: skip


#: The adapters by estimator name.
ADAPTERS: dict[str, Callable[[pd.DataFrame, EventRequest], EventFit]] = {
    "twfe": _twfe,
    "sun_abraham": _sun_abraham,
    "imputation": _imputation,
    "did2s": _did2s,
    "etwfe": _etwfe,
    "cs": _cs,
}
