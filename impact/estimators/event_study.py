"""``event_study``: event-time effects on one interface (TWFE dummies, Callaway–Sant'Anna)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from impact._typing import FloatArray, VcovSpec
from impact.data.columns import check_columns
from impact.data.samplelog import SampleLog
from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts
from impact.errors import InvalidOptionError
from impact.estimators.att_gt import att_gt
from impact.estimators.feols import feols
from impact.results.att_gt import if_vcov

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

    def __str__(self) -> str:
        return (
            f"Event study ({self.estimator}): ATT (average of post event times) "
            f"{self.att:.6g} (SE {self.att_se:.6g})\n" + self.table.to_string(index=False)
        )


def _finish(
    est: FloatArray, V: FloatArray, rel: np.ndarray, reference: int, alpha: float, seed: int
) -> pd.DataFrame:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    z = stats.norm.ppf(1 - alpha / 2)
    crit = sup_t_critical_value(V, alpha, seed)
    tab = pd.DataFrame(
        {
            "rel_time": rel.astype(int),
            "estimate": est,
            "std_error": se,
            "conf_low": est - z * se,
            "conf_high": est + z * se,
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
    tab = pd.concat([tab, ref], ignore_index=True) if reference not in set(rel.tolist()) else tab
    return tab.sort_values("rel_time", kind="stable").reset_index(drop=True)


def _post_average(est: FloatArray, V: FloatArray, rel: np.ndarray) -> tuple[float, float]:
    post = rel >= 0
    w = post / post.sum()
    return float(w @ est), float(np.sqrt(w @ V @ w))


def _twfe(
    data,
    *,
    y,
    unit,
    time,
    cohort,
    window,
    reference,
    covariates,
    fixed_effects,
    control_pool,
    vcov,
    never_treated,
    alpha,
    seed,
):
    cols = [y, unit, time, cohort, *covariates] + ([control_pool] if control_pool else [])
    check_columns(data, cols)
    frame = data[list(dict.fromkeys(cols + _fe_columns(fixed_effects) + _vcov_columns(vcov)))]
    period = period_numbers(frame[time])
    g = normalize_cohorts(frame[cohort], periods=np.unique(period), never_treated=never_treated)
    rel = period - g
    lo, hi = window
    binned = np.clip(rel, lo, hi)
    binned = np.where(np.isnan(g), reference, binned)  # never-treated: all dummies zero
    rel_name = "rel_time"
    while rel_name in frame.columns:  # reserve no column name of the user's
        rel_name = "_" + rel_name
    extra = {rel_name: binned.astype(int)}
    keep = np.ones(len(frame), dtype=bool)
    if control_pool:
        keep = ~(np.isnan(g) & ~frame[control_pool].astype(bool).to_numpy())
    work = frame.assign(**extra).loc[keep]
    rhs = " + ".join([f"i({rel_name}, ref={reference})", *covariates])
    fe = " + ".join([unit, time, *([fixed_effects] if fixed_effects else [])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = feols(f"{y} ~ {rhs} | {fe}", data=work, vcov=vcov or {"cluster": unit})
    names = [n for n in fit.coef.index if n.startswith(f"{rel_name}::")]
    rel_t = np.array([int(n.split("::")[1]) for n in names])
    est = fit.coef[names].to_numpy()
    V = fit.vcov.loc[names, names].to_numpy()
    return est, V, rel_t, fit, int(work[unit].nunique())


def _sun_abraham(
    data,
    *,
    y,
    unit,
    time,
    cohort,
    reference,
    covariates,
    fixed_effects,
    control_pool,
    vcov,
    never_treated,
):
    """Interaction-weighted estimator: saturated cohort x relative-time regression, then
    cohort-share weights at each relative time (Sun & Abraham 2021)."""
    cols = [y, unit, time, cohort, *covariates] + ([control_pool] if control_pool else [])
    check_columns(data, cols)
    frame = data[list(dict.fromkeys(cols + _fe_columns(fixed_effects) + _vcov_columns(vcov)))]
    period = period_numbers(frame[time])
    g = normalize_cohorts(frame[cohort], periods=np.unique(period), never_treated=never_treated)
    never = np.isnan(g)
    keep = np.ones(len(frame), dtype=bool)
    if control_pool:
        keep = ~(never & ~frame[control_pool].astype(bool).to_numpy())
    if not (never & keep).any():
        # no never-treated units: the last-treated cohort is the control group, and the
        # periods from its treatment on are dropped (Sun & Abraham 2021, Section 4)
        last = np.nanmax(g)
        keep &= period < last
        never = never | (g == last)
    rel = period - g
    always = ~never & (np.nanmin(period) - g >= 0)
    keep &= ~always
    # one integer code per (cohort, relative time); -1 for the reference and the controls
    gmin, rmin = np.nanmin(g), np.nanmin(rel)
    span = int(np.nanmax(rel) - rmin) + 1
    raw = np.nan_to_num(g - gmin) * span + np.nan_to_num(rel - rmin)
    code = np.where(never | (rel == reference), -1, raw).astype(np.int64)
    name = "cohort_rel"
    while name in frame.columns:
        name = "_" + name
    work = frame.assign(**{name: code}).loc[keep]
    rhs = " + ".join([f"i({name}, ref=-1)", *covariates])
    fe = " + ".join([unit, time, *([fixed_effects] if fixed_effects else [])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = feols(f"{y} ~ {rhs} | {fe}", data=work, vcov=vcov or {"cluster": unit})
    names = [n for n in fit.coef.index if n.startswith(f"{name}::")]
    codes = np.array([int(n.split("::")[1]) for n in names])
    rr = (codes % span + rmin).astype(int)
    # cohort shares at each relative time: units of each cohort observed at that time
    used = work.loc[work[name] >= 0, [unit, name]]
    n_gr = used.groupby(name)[unit].nunique().reindex(codes).to_numpy(dtype=float)
    rel_times = np.unique(rr)
    W = np.zeros((len(rel_times), len(names)))
    for i, r in enumerate(rel_times):
        sel = rr == r
        W[i, sel] = n_gr[sel] / n_gr[sel].sum()
    est = W @ fit.coef[names].to_numpy()
    V = W @ fit.vcov.loc[names, names].to_numpy() @ W.T
    return est, V, rel_times, fit, int(work[unit].nunique())


def _fe_columns(fixed_effects: str | None) -> list[str]:
    if not fixed_effects:
        return []
    return [c for part in fixed_effects.split("+") for c in part.strip().split("^")]


def _vcov_columns(vcov: VcovSpec) -> list[str]:
    if isinstance(vcov, dict):
        ((_, cols),) = vcov.items()
        return [cols] if isinstance(cols, str) else list(cols)
    return []


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
    alpha: float = 0.05,
    seed: int = 0,
) -> EventStudyResult:
    """Event-time effects with a common output table, so estimators can be overlaid.

    Parameters
    ----------
    data : DataFrame
        Long panel; never modified.
    y, unit, time, cohort : str
        Outcome, unit, integer period and cohort (first treated period; NaN never).
    estimator : {"twfe", "sun_abraham", "cs"}
        ``"twfe"``: two-way fixed effects with relative-time dummies, the endpoints of the
        window binned (all earlier / later event times pooled), never-treated units as
        the reference group. ``"sun_abraham"``: the interaction-weighted estimator of Sun
        & Abraham (2021) — a regression saturated in cohort x relative time (never-treated
        controls, or the last-treated cohort when there are none), aggregated with each
        cohort's share of units at each relative time (weights held fixed in the
        variance, as fixest's ``sunab``). ``"cs"``: Callaway & Sant'Anna's dynamic
        aggregation with a universal base period (so pre-period estimates are comparable with TWFE),
        doubly robust with ``covariates``.
    window : (int, int)
        First and last event time reported.
    reference : int
        Omitted event time (TWFE) — the base period is reference = -1 - anticipation (CS).
    covariates : list of str, optional
        TWFE: added as regressors; CS: covariates at the base period.
    fixed_effects : str, optional
        TWFE only: extra absorbed effects, e.g. ``"sector^year"``.
    control_pool : str, optional
        Boolean unit-level column: never-treated units outside it are dropped (TWFE) or
        excluded as controls (CS).
    vcov : dict, optional
        Default ``{"cluster": unit}``.
    alpha : float
    seed : int
        Seed of the Gaussian draws for the simultaneous band's critical value.

    Returns
    -------
    EventStudyResult
    """
    covariates = list(covariates or [])
    if window[0] > reference or window[1] < 0:
        raise InvalidOptionError(f"window {window} must contain the reference {reference} and 0.")
    if estimator == "twfe":
        est, V, rel, fit, n_units = _twfe(
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
            alpha=alpha,
            seed=seed,
        )
        log, n_obs = fit.sample_log, fit.nobs
    elif estimator == "sun_abraham":
        est, V, rel, fit, n_units = _sun_abraham(
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
        )
        inside = (rel >= window[0]) & (rel <= window[1])
        est, V, rel = est[inside], V[np.ix_(inside, inside)], rel[inside]
        log, n_obs = fit.sample_log, fit.nobs
    elif estimator == "cs":
        if fixed_effects:
            raise InvalidOptionError(
                "fixed_effects is not available with estimator='cs'; "
                "use covariates (taken at the base period)."
            )
        vc = vcov if vcov is not None else {"cluster": unit}
        pool = None
        d = data
        if control_pool:
            pool = control_pool
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(
                d,
                y=y,
                unit=unit,
                time=time,
                cohort=cohort,
                control_pool=pool,
                covariates=covariates or None,
                base_period="universal",
                anticipation=-1 - reference,
                vcov=vc,
                alpha=alpha,
                never_treated=never_treated,
            )
        agg = gt.aggregate("dynamic", min_e=window[0], max_e=window[1])
        tab = agg.table
        keep = (tab["event_time"] != reference).to_numpy()
        est = tab["estimate"].to_numpy()[keep]
        rel = tab["event_time"].to_numpy()[keep]
        V = if_vcov(agg.table_influence[:, keep], agg.cluster)
        fit, n_units, log = gt, gt.n_units, gt.sample_log
        n_obs = int(gt.sample_log.n_final)
    else:
        raise InvalidOptionError(
            f"estimator must be 'twfe', 'sun_abraham' or 'cs', got {estimator!r}."
        )
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
    )
