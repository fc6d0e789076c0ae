"""``event_study`` in a query engine: the panel validated and summed over unit types in
the engine (:mod:`impact.design.engine_panel`, :mod:`impact.estimators.engine_types`),
the estimators solved on the driver from those sums."""

from __future__ import annotations

from typing import Any

from impact.design.engine_panel import engine_panel
from impact.engine.base import Engine
from impact.errors import InvalidOptionError
from impact.estimators.engine_types import type_moments
from impact.estimators.es_adapters import EventFit, cluster_name, cs_fit, regression_fit
from impact.estimators.es_engine_cells import sun_abraham_types, twfe_types
from impact.estimators.es_engine_imputation import did2s_types, imputation_types
from impact.estimators.es_request import EventRequest

__all__ = ["ENGINE_ESTIMATORS", "event_study_in_engine"]

#: The event-study estimators that run in a query engine.
ENGINE_ESTIMATORS = ("twfe", "sun_abraham", "imputation", "did2s", "cs")


def _refuse(r: EventRequest, estimator: str) -> None:
    limits = [
        (estimator not in ENGINE_ESTIMATORS, f"estimator={estimator!r}"),
        (bool(r.covariates) and estimator != "cs", "covariates"),
        (bool(r.fixed_effects), "fixed_effects"),
        (r.freq is not None, "freq= (the engine path reads integer periods)"),
    ]
    for hit, what in limits:
        if hit:
            raise InvalidOptionError(
                f"event_study in a query engine does not take {what} (it runs "
                f"{', '.join(ENGINE_ESTIMATORS)}, with covariates only for 'cs', without extra "
                "fixed effects); "
                "fit an in-memory pandas frame for it."
            )


def event_study_in_engine(engine: Engine, data: Any, r: EventRequest, estimator: str) -> EventFit:
    """The :class:`EventFit` of ``estimator`` computed in ``engine`` (see
    :func:`impact.event_study`)."""
    _refuse(r, estimator)
    if estimator == "cs":
        return cs_fit(data, r, engine=engine)
    cl = cluster_name(r.vcov, r.unit)
    clustered = cl != r.unit
    pan = engine_panel(
        engine,
        engine.source(data),
        unit=r.unit,
        time=r.time,
        cohort=r.cohort,
        y=r.y,
        control_pool=r.control_pool,
        cluster=cl if clustered else None,
        never_treated=r.never_treated,
    )
    tm = type_moments(engine, pan, cl if clustered else None)
    if estimator == "imputation":
        return imputation_types(pan, tm, r, cl)
    if estimator == "did2s":
        return did2s_types(pan, tm, r, cl)
    if estimator == "twfe":
        return regression_fit(r, *twfe_types(pan, tm, r.window, r.reference, clustered))
    est, V, rel, fit, n_units, log, n_obs = sun_abraham_types(pan, tm, r.reference, clustered)
    keep = (rel >= r.window[0]) & (rel <= r.window[1])
    return regression_fit(r, est[keep], V[keep][:, keep], rel[keep], fit, n_units, log, n_obs)
