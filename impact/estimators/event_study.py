"""``event_study``: event-time effects on one interface; one adapter per estimator
(:mod:`impact.estimators.es_adapters`) and one result (:class:`EventStudyResult`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact._typing import FloatArray, VcovSpec
from impact.design.event_times import check_window
from impact.engine.base import Engine
from impact.engine.choose import choose_engine
from impact.errors import InvalidOptionError
from impact.estimators.es_adapters import ADAPTERS, EventRequest
from impact.estimators.es_engine import event_study_in_engine
from impact.inference.bands import SUPT_DRAWS, sup_t_critical_value
from impact.options import check_alpha, check_seed
from impact.results.event_study import EventStudyResult, event_table

__all__ = ["SUPT_DRAWS", "EventStudyResult", "event_study", "sup_t_critical_value"]


def _post_average(
    est: FloatArray, V: FloatArray, rel: np.ndarray, counts: FloatArray | None = None
) -> tuple[float, float]:
    """Average of the post event times (``rel >= 0``): equal weights, or weights
    proportional to ``counts`` (the treated observations behind each)."""
    post = rel >= 0
    w = post / post.sum() if counts is None else post * counts / (post * counts).sum()
    return float(w @ est), float(np.sqrt(max(w @ V @ w, 0.0)))  # rounding below zero


def event_study(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    estimator: str = "twfe",
    window: tuple[int, int] = (-5, 5),
    reference: int = -1,
    covariates: Sequence[str] | None = None,
    fixed_effects: str | None = None,
    control_pool: str | None = None,
    vcov: VcovSpec = None,
    never_treated: float | None = None,
    freq: str | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    family: str = "linear",
    engine: str | Engine | None = None,
) -> EventStudyResult:
    """Event-time effects with a common output table, so estimators can be overlaid.

    Parameters
    ----------
    data : DataFrame
        Long panel; never modified.
    y, unit, time, cohort : str
        Outcome, unit, integer period and cohort (first treated period; NaN never).
    estimator : {"twfe", "sun_abraham", "imputation", "did2s", "cs", "etwfe"}
        ``"twfe"``: two-way fixed effects with relative-time dummies, the endpoints of the
        window binned (all earlier / later event times pooled), never-treated units as
        the reference group. ``"sun_abraham"``: the interaction-weighted estimator of Sun
        & Abraham (2021) — a regression saturated in cohort x relative time (never-treated
        controls, or the last-treated cohort when there are none), aggregated with each
        cohort's share of units at each relative time (weights held fixed in the
        variance, as fixest's ``sunab``). ``"imputation"``: Borusyak, Jaravel & Spiess
        (2024), unit and period effects fitted on untreated observations, horizons 0 .. window
        end, their conservative clustered variance (no pre-period rows; their pre-trend test
        is separate). ``"did2s"``: Gardner's two-stage estimator with the GMM-corrected
        variance (pre- and post-period coefficients; post ones equal imputation's).
        ``"cs"``: Callaway & Sant'Anna's dynamic
        aggregation with a universal base period (so pre-period estimates are comparable with TWFE),
        doubly robust with ``covariates``.
    window : (int, int)
        First and last event time reported.
    reference : int
        Omitted event time (TWFE) — the base period is reference = -1 - anticipation (CS).
    covariates : list of str, optional
        TWFE: added as regressors; CS: covariates at the base period.
    fixed_effects : str, optional
        Extra absorbed effects, e.g. ``"sector^year"`` (TWFE and Sun-Abraham: any
        fixed-effect formula; imputation and did2s: one ``category^time`` interaction,
        which replaces the period effects of their first stage).
    control_pool : str, optional
        Boolean unit-level column: never-treated units outside it are dropped (TWFE) or
        excluded as controls (CS).
    vcov : dict, optional
        Default ``{"cluster": unit}``.
    never_treated : float, optional
        Explicit never-treated code of ``cohort``.
    freq : str, optional
        Period frequency of a Period or datetime time column (inferred when regular).
    alpha : float
    seed : int
        Seed of the Gaussian draws for the simultaneous band's critical value.
    family : {"linear", "poisson"}
        ``estimator="etwfe"`` only: Wooldridge's extended TWFE with never-treated
        controls (pre-period placebo cells, reference g - 1), event-time effects in levels
        (average partial effects for Poisson), cells weighted by observations;
        ``fixed_effects="category^time"`` adds category-by-period dummies.
    engine : {None, "numpy", "duckdb", "pandas"} or Engine
        Where the fit runs. ``None``: a pandas frame in memory, anything else (a Parquet
        path or glob, a DuckDB relation, a pyarrow Table or Dataset, a polars frame) in
        DuckDB. The engine path validates the panel in the engine and sums it by unit type
        (cohort and periods observed) and, for coarser clusters, by cluster and type:
        ``"twfe"``, ``"sun_abraham"``, ``"imputation"``, ``"did2s"`` and ``"cs"`` give the
        in-memory estimates and variances without bringing the rows to Python (the result
        reports the passes and bytes collected, ``engine_use``). Integer periods, no
        covariates or extra fixed effects, clusters that contain whole units.

    Returns
    -------
    EventStudyResult

    Examples
    --------
    R did's minimum-wage county panel: the Callaway-Sant'Anna event study gives R did's dynamic
    aggregation, -0.0199, -0.0510, -0.1373 and -0.1008 at event times 0-3 and -0.0772 on
    average (the vignette's numbers).

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> es = impact.event_study(mpdta, y="lemp", unit="countyreal", time="year",
    ...                         cohort="first.treat", estimator="cs", window=(-4, 3))
    >>> es.table.loc[es.table["rel_time"] >= 0, "estimate"].round(4).tolist()
    [-0.0199, -0.051, -0.1373, -0.1008]
    >>> f"{es.att:.4f}"
    '-0.0772'
    """
    covariates = list(covariates or [])
    check_window(window, reference)
    alpha = check_alpha(alpha)
    seed = check_seed(seed)
    if estimator not in ADAPTERS:
        raise InvalidOptionError(
            f"estimator must be 'twfe', 'sun_abraham', 'imputation', 'did2s', 'cs' or 'etwfe', "
            f"got {estimator!r}."
        )
    if estimator == "cs" and reference > -1:
        raise InvalidOptionError(
            f"estimator='cs' compares with a pre-treatment base period: reference must be "
            f"-1 or earlier (reference = -1 - anticipation), got {reference}."
        )
    request = EventRequest(
        y=y, unit=unit, time=time, cohort=cohort, window=tuple(window), reference=reference,
        covariates=covariates, fixed_effects=fixed_effects, control_pool=control_pool,
        vcov=vcov, never_treated=never_treated, freq=freq, alpha=alpha, family=family,
    )  # fmt: skip
    chosen = choose_engine(data, engine)
    start = chosen.meter.mark() if chosen is not None else None
    if chosen is not None:
        with chosen.scope():  # the fit's tables and views are dropped once it returns
            fit = event_study_in_engine(chosen, data, request, estimator)
    else:
        fit = ADAPTERS[estimator](data, request)
    if estimator in ("twfe", "sun_abraham", "imputation", "did2s"):
        fit.sample_log.announce(f"event_study({estimator})")
    table = event_table(fit.estimate, fit.vcov, fit.rel_time, fit.reference, alpha, seed)
    att, att_se = _post_average(fit.estimate, fit.vcov, fit.rel_time)
    treated = (np.nan, np.nan)
    if fit.treated is not None:
        treated = _post_average(fit.estimate, fit.vcov, fit.rel_time, fit.treated)
    rel = fit.rel_time.astype(int)
    return EventStudyResult(
        estimator=estimator,
        table=table,
        att=att,
        att_se=att_se,
        att_treated=treated[0],
        att_treated_se=treated[1],
        treated_counts=fit.treated,
        n_obs=fit.n_obs,
        n_units=fit.n_units,
        sample_log=fit.sample_log,
        settings={"y": y, "window": window, "reference": reference, "vcov": vcov},
        fit=fit.fit,
        vcov=pd.DataFrame(fit.vcov, index=rel, columns=rel),
        inference=fit.inference,
        alpha=alpha,
        clusters=fit.clusters,
        fixef=fit.fixef,
        _request=request,
        engine_use=None if chosen is None else chosen.meter.since(chosen.name, start),
    )
