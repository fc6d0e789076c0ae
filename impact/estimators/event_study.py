"""``event_study``: event-time effects on one interface (TWFE dummies, Callaway–Sant'Anna)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
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
from impact.inference.intervals import interval
from impact.inference.wald import wald

__all__ = ["SUPT_DRAWS", "EventStudyResult", "event_study", "sup_t_critical_value"]

#: Gaussian draws used for the sup-t critical value of simultaneous bands.
SUPT_DRAWS = 20_000


def sup_t_critical_value(V: FloatArray, alpha: float, seed: int) -> float:
    """(1 - alpha) quantile of max_j |Z_j| / sd_j for Z ~ N(0, V) (Montiel Olea &
    Plagborg-Møller 2019): estimate ± c·se covers all coefficients jointly."""
    sd = np.sqrt(np.clip(np.diag(V), 0, None))
    ok = sd > 0
    if not ok.any():
        return float("nan")
    R = V[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    vals, vecs = np.linalg.eigh((R + R.T) / 2)
    L = vecs * np.sqrt(np.clip(vals, 0, None))
    z = np.random.default_rng(seed).standard_normal((SUPT_DRAWS, len(vals))) @ L.T
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))


@dataclass(frozen=True, eq=False)
class EventStudyResult:
    """Event-time estimates of one estimator, in the table every estimator shares.

    Attributes
    ----------
    estimator : str
    table : DataFrame
        ``rel_time``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``,
        ``band_low``, ``band_high`` (simultaneous sup-t band over the window); the
        reference period is a row with estimate 0 and no SE.
    att : float
        Average of the event-time effects at rel_time 0 .. window end (equal weights).
    att_se : float
    n_obs, n_units : int
    sample_log : SampleLog
    settings : dict
    """

    estimator: str
    table: pd.DataFrame
    att: float
    att_se: float
    n_obs: int
    n_units: int
    sample_log: SampleLog
    settings: dict[str, Any] = field(default_factory=dict)
    fit: Any = field(default=None, repr=False)
    vcov: pd.DataFrame | None = field(default=None, repr=False)

    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every pre-treatment event-time effect is zero (chi-square).

        Returns
        -------
        dict
            ``statistic``, ``df``, ``p_value``; NaN when the estimator reports no
            pre-treatment effects (imputation).
        """
        if self.vcov is None:
            return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
        pre = [r for r in self.vcov.index if r < 0]
        if not pre:
            return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
        theta = self.table.set_index("rel_time").loc[pre, "estimate"].to_numpy()
        return wald(theta, self.vcov.loc[pre, pre].to_numpy(), generalized=True).as_dict()

    def __str__(self) -> str:
        return (
            f"Event study ({self.estimator}): ATT (average of post event times) "
            f"{self.att:.6g} (SE {self.att_se:.6g})\n" + self.table.to_string(index=False)
        )


def _finish(
    est: FloatArray, V: FloatArray, rel: np.ndarray, reference: int, alpha: float, seed: int
) -> pd.DataFrame:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    low, high = interval(est, se, alpha)
    crit = sup_t_critical_value(V, alpha, seed)
    tab = pd.DataFrame(
        {
            "rel_time": rel.astype(int),
            "estimate": est,
            "std_error": se,
            "conf_low": low,
            "conf_high": high,
            "band_low": est - crit * se,
            "band_high": est + crit * se,
        }
    )
    ref = pd.DataFrame(
        {
            "rel_time": [reference],
            "estimate": [0.0],
            "std_error": [np.nan],
            "conf_low": [np.nan],
            "conf_high": [np.nan],
            "band_low": [np.nan],
            "band_high": [np.nan],
        }
    )
    if reference is not None and reference not in set(rel.tolist()):
        tab = pd.concat([tab, ref], ignore_index=True)
    return tab.sort_values("rel_time", kind="stable").reset_index(drop=True)


def _post_average(est: FloatArray, V: FloatArray, rel: np.ndarray) -> tuple[float, float]:
    post = rel >= 0
    w = post / post.sum()
    return float(w @ est), float(np.sqrt(w @ V @ w))


def _no_covariates(estimator: str, covariates: Sequence[str]) -> None:
    """Imputation and did2s take no covariates (typed error)."""
    if covariates:
        raise InvalidOptionError(
            f"estimator={estimator!r} takes no covariates; absorb categories with "
            "fixed_effects='category^time' instead."
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


def _check_window(window: tuple[int, int], reference: int) -> None:
    """Window and reference are whole numbers of periods."""
    vals = [*window, reference]
    if len(window) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) for v in vals
    ):
        raise InvalidOptionError(
            f"window {window!r} and reference {reference!r} are counted in periods: give "
            "whole numbers, e.g. window=(-5, 5), reference=-1."
        )


def _cluster_name(vcov: VcovSpec, unit: str) -> str:
    if vcov is None:
        return unit
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((key, cols),) = vcov.items()
        if str(key).lower() in ("cluster", "crv1") and isinstance(cols, str):
            return cols
    raise InvalidOptionError("this estimator supports vcov=None or {'cluster': col}.")


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

    Returns
    -------
    EventStudyResult
    """
    covariates = list(covariates or [])
    _check_window(window, reference)
    if not (window[0] <= reference <= window[1]) or window[1] < 0:
        raise InvalidOptionError(f"window {window} must contain the reference {reference} and 0.")
    if estimator == "cs" and reference > -1:
        raise InvalidOptionError(
            f"estimator='cs' compares with a pre-treatment base period: reference must be "
            f"-1 or earlier (reference = -1 - anticipation), got {reference}."
        )
    if estimator == "twfe":
        est, V, rel, fit, n_units, log, n_obs = twfe_regression(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            window=window,
            reference=reference,
            covariates=covariates,
            fixed_effects=fixed_effects,
            control_pool=control_pool,
            vcov=vcov,
            never_treated=never_treated,
            freq=freq,
        )
    elif estimator == "sun_abraham":
        est, V, rel, fit, n_units, log, n_obs = sun_abraham_regression(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            reference=reference,
            covariates=covariates,
            fixed_effects=fixed_effects,
            control_pool=control_pool,
            vcov=vcov,
            never_treated=never_treated,
            freq=freq,
        )
        inside = (rel >= window[0]) & (rel <= window[1])
        est, V, rel = est[inside], V[np.ix_(inside, inside)], rel[inside]
    elif estimator == "imputation":
        _no_covariates("imputation", covariates)
        if _cluster_name(vcov, unit) != unit:
            raise InvalidOptionError(
                "estimator='imputation' clusters by unit (Borusyak, Jaravel & Spiess's "
                "Theorem 3 variance); use estimator='did2s' for another cluster variable."
            )
        imp = imputation_fit(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            never_treated=never_treated,
            horizons=(0, window[1]),
            fixed_effects=fixed_effects,
            control_pool=control_pool,
            freq=freq,
        )
        est, V, rel = imp.estimate, imp.vcov, imp.horizons
        fit, n_units, log, n_obs = imp, imp.n_units, imp.sample_log, imp.n_obs
        reference = None
    elif estimator == "did2s":
        _no_covariates("did2s", covariates)
        cl = _cluster_name(vcov, unit)
        rel, est, V, log, n_units = did2s_fit(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            reference=reference,
            never_treated=never_treated,
            cluster=cl,
            fixed_effects=fixed_effects,
            control_pool=control_pool,
            freq=freq,
            return_units=True,
        )
        inside = (rel >= window[0]) & (rel <= window[1])
        est, V, rel = est[inside], V[np.ix_(inside, inside)], rel[inside]
        fit, n_obs = None, int(log.n_final)
    elif estimator == "etwfe":
        if covariates or reference != -1:
            raise InvalidOptionError(
                "estimator='etwfe' takes no covariates and its reference period is g - 1."
            )
        et = etwfe(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            family=family,
            control="never",
            control_pool=control_pool,
            fixed_effects=fixed_effects,
            vcov=vcov,
            never_treated=never_treated,
            freq=freq,
            alpha=alpha,
        )
        rel, est, V = et.event_time_effects(window[0], window[1])
        fit, n_units, log, n_obs = et, et.n_units, et.sample_log, et.n_obs
    elif estimator == "cs":
        if fixed_effects:
            raise InvalidOptionError(
                "fixed_effects is not available with estimator='cs'; "
                "use covariates (taken at the base period)."
            )
        vc = vcov if vcov is not None else {"cluster": unit}
        gt = att_gt(
            data,
            y=y,
            unit=unit,
            time=time,
            cohort=cohort,
            control_pool=control_pool,
            covariates=covariates or None,
            base_period="universal",
            anticipation=-1 - reference,
            vcov=vc,
            alpha=alpha,
            never_treated=never_treated,
            freq=freq,
        )
        _check_cs_reference(gt, reference)
        agg = gt.aggregate("dynamic", min_e=window[0], max_e=window[1])
        tab = agg.table
        keep = (tab["rel_time"] != reference).to_numpy()
        est = tab["estimate"].to_numpy()[keep]
        rel = tab["rel_time"].to_numpy()[keep]
        V = influence_vcov(agg.table_influence[:, keep], agg.cluster)
        fit, n_units, log = gt, gt.n_units, gt.sample_log
        n_obs = int(gt.sample_log.n_final)
    else:
        raise InvalidOptionError(
            f"estimator must be 'twfe', 'sun_abraham', 'imputation', 'did2s', 'cs' or 'etwfe', got "
            f"{estimator!r}."
        )
    if estimator in ("twfe", "sun_abraham", "imputation", "did2s"):
        log.announce(f"event_study({estimator})")
    table = _finish(est, V, rel, reference, alpha, seed)
    att, att_se = _post_average(est, V, rel)
    return EventStudyResult(
        estimator=estimator,
        table=table,
        att=att,
        att_se=att_se,
        n_obs=n_obs,
        n_units=n_units,
        sample_log=log,
        settings={"window": window, "reference": reference, "vcov": vcov},
        fit=fit,
        vcov=pd.DataFrame(V, index=rel.astype(int), columns=rel.astype(int)),
    )
