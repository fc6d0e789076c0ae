"""``synthdid``: synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg,
Imbens & Wager 2021) with its synthetic-control and DiD special cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.design.blocks import adoption_blocks
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.sdid_inference import (
    aggregate,
    bootstrap_se,
    fit_cohorts,
    jackknife_se,
    placebo_se,
)
from impact.estimators.sdid_weights import trajectory
from impact.inference.intervals import interval
from impact.options import check_alpha, check_frame_and_names, check_seed, whole_number
from impact.results.synthdid import SynthDidResult

__all__ = ["synthdid"]

_METHODS = ("sdid", "sc", "did")
_VCOVS = ("placebo", "bootstrap", "jackknife", None)


def _check(data, names: dict, method, vcov, replications, alpha, seed=None) -> None:
    check_frame_and_names(data, "synthdid", names)
    if not isinstance(method, str) or method not in _METHODS:
        raise InvalidOptionError(f"method must be 'sdid', 'sc' or 'did', got {method!r}.")
    if vcov not in _VCOVS:
        raise InvalidOptionError(
            f"vcov must be 'placebo', 'bootstrap', 'jackknife' or None, got {vcov!r}."
        )
    if vcov in ("placebo", "bootstrap"):
        whole_number("replications", replications, 2)
    check_alpha(alpha)
    check_seed(seed, optional=True)


def synthdid(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    method: str = "sdid",
    covariates: list[str] | None = None,
    window: int | None = None,
    vcov: str | None = "placebo",
    replications: int = 200,
    seed: int | None = None,
    alpha: float = 0.05,
) -> SynthDidResult:
    """Synthetic DiD, synthetic control or DiD on a balanced panel.

    Synthetic DiD reweights the never-treated donors (unit weights ``omega``) so that
    their pre-treatment path parallels the treated units', and the pre-treatment periods
    (time weights ``lambda``) so that they resemble the post-treatment ones, then takes
    the weighted double difference. ``method="sc"``: unit weights without an intercept
    and no time weights (Abadie et al.'s synthetic control with the paper's small ridge
    penalty); ``"did"``: uniform weights (the two-way fixed effects DiD).

    Parameters
    ----------
    data : DataFrame
        Balanced long panel (every unit in every period, outcomes finite); never
        modified.
    y, unit, time : str
        Outcome, unit id and period columns (periods sortable).
    treatment : str
        0/1 absorbing treatment. Units whose treatment starts in the same period form a
        cohort; with several cohorts (staggered adoption) each cohort is estimated
        against the never-treated donors and the estimates are averaged with weights
        proportional to their treated unit-periods (the paper's appendix). Units treated
        before their third period are dropped (counted in ``sample_log``).
    method : {"sdid", "sc", "did"}
    covariates : list of str, optional
        Numeric (time-varying) covariates, removed from the outcome before the weights are
        found: ``Y - X beta`` with ``beta`` from the two-way fixed-effects regression of
        the never-treated donors' outcomes on them (the "projected" adjustment of Kranz
        2022 and Stata's ``sdid``; re-estimated in every placebo and bootstrap replication,
        held fixed with the weights in the jackknife). For trends that
        differ by a unit characteristic (e.g. sector), pass its interactions with the
        periods.
    window : int, optional
        Each cohort's post-treatment periods end ``window`` periods after its first
        treated period (event times 0 .. window; later periods are not used), so cohorts
        adopted at different times average the same event times. Default: every period.
    vcov : {"placebo", "bootstrap", "jackknife", None}
        Placebo (never-treated units assigned the treatment at random; needs more donors
        than treated units), unit bootstrap, fixed-weights jackknife (both need two or
        more treated units), or no standard error. The R package's defaults and
        algorithms.
    replications : int
        Placebo or bootstrap replications.
    seed : int, optional
        Seed of the replications (``numpy.random.SeedSequence``).
    alpha : float
        1 - confidence level of the normal interval.

    Returns
    -------
    SynthDidResult
        ``estimate``, ``std_error``, ``table`` (cohorts), ``unit_weights``,
        ``time_weights``, ``trajectories()``, ``plot()``, ``tidy()``, ``summary()``.

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W., & Wager, S. (2021).
    Synthetic difference-in-differences. American Economic Review, 111(12), 4088–4118.

    Examples
    --------
    The 2007 minimum-wage rises of R did's county panel against the never-treated counties;
    diff-diff's ``SyntheticDiD`` gives the same estimate, jackknife standard error and time
    weights.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> d = mpdta[mpdta["first.treat"].isin([0, 2007])].copy()
    >>> d["treated"] = ((d["first.treat"] == 2007) & (d["year"] == 2007)).astype(int)
    >>> res = impact.synthdid(d, y="lemp", unit="countyreal", time="year", treatment="treated",
    ...                       vcov="jackknife")
    >>> round(res.estimate, 4), round(res.std_error, 4)
    (-0.0375, 0.0159)
    >>> res.time_weights["weight"].round(2).tolist()
    [0.0, 0.14, 0.19, 0.67]
    """
    _check(data, {"y": y, "unit": unit, "time": time, "treatment": treatment}, method, vcov,
           replications, alpha, seed)  # fmt: skip
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if not all(isinstance(c, str) for c in covariates):
        raise InvalidOptionError(f"covariates must be column names, got {covariates!r}.")
    window = whole_number("window", window, 0, optional=True)
    blocks = adoption_blocks(data, y=y, unit=unit, time=time, treatment=treatment,
                             covariates=covariates)  # fmt: skip
    Y, adoption, n0 = blocks.Y, blocks.adoption, blocks.n_control
    X = blocks.X if covariates else None
    n1 = len(Y) - n0
    if n0 < 2:
        raise ImpactError(
            f"only {n0} never-treated donor: synthetic weights need at least two donors."
        )
    if vcov == "placebo" and n0 <= n1:
        raise ImpactError(
            f"the placebo standard error needs more never-treated donors ({n0}) than treated "
            f"units ({n1}); use vcov='bootstrap' or 'jackknife'."
        )
    if vcov in ("bootstrap", "jackknife") and n1 < 2:
        raise InvalidOptionError(
            f"vcov={vcov!r} needs at least two treated units (there is one); use vcov='placebo'."
        )
    sizes = np.bincount(adoption[adoption >= 0])
    if vcov == "jackknife" and (sizes[sizes > 0] < 2).any():
        raise InvalidOptionError(
            "vcov='jackknife' needs at least two treated units in every adoption cohort "
            "(leaving out a cohort's only unit would drop the cohort and change the "
            "estimand); use vcov='placebo' or 'bootstrap'."
        )
    # the estimator is scale-equivariant: fit on a unit scale (no overflow or underflow)
    scale = float(np.max(np.abs(Y))) or 1.0
    Y_raw, Y = Y, Y / scale
    fits = fit_cohorts(Y, adoption, n0, method, X, window)
    est = scale * aggregate(
        [f.tau for f in fits], [f.n_treated for f in fits], [f.n_post for f in fits]
    )
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    draws = None
    if vcov == "placebo":
        se, draws = placebo_se(Y, n0, fits, replications, rng, X)
    elif vcov == "bootstrap":
        se, draws = bootstrap_se(Y, adoption, n0, fits, replications, rng, X)
    elif vcov == "jackknife":
        se, draws = jackknife_se(Y, adoption, n0, fits, X)
    else:
        se = float("nan")
    se = scale * se
    draws = None if draws is None else scale * draws
    lo, hi = interval(np.array([est]), np.array([se]), alpha)
    labels = blocks.periods
    w = np.array([f.n_treated * f.n_post for f in fits], dtype=float)
    table = pd.DataFrame({
        "cohort": [labels[f.column] for f in fits],
        "estimate": [scale * f.tau for f in fits],
        "weight": w / w.sum(), "n_treated": [f.n_treated for f in fits],
        "n_post": [f.n_post for f in fits], "n_pre": [f.column for f in fits],
    })  # fmt: skip
    unit_w = pd.concat([
        pd.DataFrame({"cohort": labels[f.column], "unit": blocks.units[:n0], "weight": f.omega})
        for f in fits
    ], ignore_index=True)  # fmt: skip
    time_w = pd.concat([
        pd.DataFrame({"cohort": labels[f.column], "time": labels[: f.column], "weight": f.lam})
        for f in fits
    ], ignore_index=True)  # fmt: skip
    paths = pd.concat([
        pd.DataFrame(dict(zip(
            ("treated", "synthetic", "time_weight"),
            trajectory(Y_raw, n0, adoption[n0:] == f.column, f.column, f.omega, f.lam,
                       shift=method != "sc"), strict=True,
        ))).assign(cohort=labels[f.column], time=labels)
        for f in fits
    ], ignore_index=True)[["cohort", "time", "treated", "synthetic", "time_weight"]]  # fmt: skip
    blocks.sample_log.announce("synthdid")
    return SynthDidResult(
        estimate=est, std_error=se, conf_low=float(lo[0]), conf_high=float(hi[0]),
        table=table, unit_weights=unit_w, time_weights=time_w, method=method, vcov=vcov,
        n_units=len(Y), n_periods=Y.shape[1], n_control=n0, alpha=alpha, seed=seed,
        sample_log=blocks.sample_log,
        settings={"y": y, "unit": unit, "time": time, "treatment": treatment,
                  "method": method, "covariates": covariates, "window": window, "vcov": vcov,
                  "replications": replications},
        replications=draws, paths=paths, _units=blocks.units,
    )  # fmt: skip
