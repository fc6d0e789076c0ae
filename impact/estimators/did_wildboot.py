"""``impact.did_wildboot``: the wild cluster bootstrap-t of an ``att_gt`` fit (its cells or
an aggregation) or an event study (imputation, did2s, Sun-Abraham, TWFE, linear ETWFE),
for inference with few clusters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact.design.staggered import category_by_time
from impact.errors import FewClustersWarning, InvalidOptionError, close_matches_hint
from impact.estimators.did_linear import linear_estimator
from impact.estimators.linear_map import NOT_SAME, LinearEstimator, same_values
from impact.inference.linear_wild_t import (
    LinearWildT,
    bootstrap_t,
    sup_t_critical,
    symmetric_p,
)
from impact.inference.wild_cluster import WEIGHT_TYPES, draw_weights
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects
from impact.options import check_alpha, check_seed, whole_number
from impact.results.att_gt import ATTgtResult
from impact.results.did_wildboot import DiDWildBootResult
from impact.results.event_study import EventStudyResult

__all__ = ["did_wildboot", "wild_bootstrap_t"]

#: Fewest draws accepted.
MIN_DRAWS = 99
#: The bootstrap runs the estimator once per cluster: beyond this many clusters the
#: analytic or multiplier inference is reliable and this would be slow.
MAX_CLUSTERS = 200
#: Bootstrap statistics within this relative distance of the observed one are ties.
TIE_RTOL = 1e-9
AGGREGATIONS = (None, "simple", "dynamic", "group", "calendar")


def _check(data, B, weights, alpha, seed, aggregate) -> None:
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(f"data must be the fit's DataFrame, got {type(data).__name__}.")
    whole_number("B", B, MIN_DRAWS)
    if weights not in WEIGHT_TYPES:
        raise InvalidOptionError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}.")
    check_alpha(alpha)
    check_seed(seed)
    if aggregate not in AGGREGATIONS:
        raise InvalidOptionError(f"aggregate must be one of {AGGREGATIONS}, got {aggregate!r}.")


def _check_options(aggregate, options: dict) -> None:
    if options and aggregate is None:
        raise InvalidOptionError(
            f"{sorted(options)} are aggregation options: give aggregate= as well."
        )
    for key, value in options.items():
        if key not in AGGREGATE_OPTIONS:
            raise InvalidOptionError(
                f"unknown aggregation option {key!r}" + close_matches_hint(key, AGGREGATE_OPTIONS)
            )
        ok = value is None and key == "balance_e"
        if not ok and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise InvalidOptionError(f"{key} must be a number, got {value!r}.")


def _fitted(
    data: pd.DataFrame,
    call: dict,
    fixed_effects: str | None,
    sample: np.ndarray,
    covariates: tuple[str, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the estimator's ``sample`` (a mask) with a finite outcome, their fit on unit
    effects plus cohort-by-period means (never-treated units one cohort: a model in which
    every ATT(g,t) is identified; with a first stage's ``category^time`` effects, those
    too; and a regression's time-varying covariates), and the cohort-by-period code of
    each row. Units the estimator left out (e.g. outside its control pool) do not enter
    the fit."""
    y, unit, time, cohort = call["y"], call["unit"], call["time"], call["cohort"]
    other = category_by_time(fixed_effects, time, "did_wildboot")
    values = data[y].to_numpy(dtype=float, na_value=np.nan)
    complete = np.isfinite(values) & data[unit].notna().to_numpy() & sample
    X = data[list(covariates)].to_numpy(dtype=float, na_value=np.nan).reshape(len(data), -1)
    complete &= np.isfinite(X).all(axis=1)
    if other is not None:  # rows the estimator can use have the category
        complete &= data[other].notna().to_numpy()
    rows = np.flatnonzero(complete)
    sub = data.iloc[rows]
    u_codes, u_lab = pd.factorize(sub[unit], sort=True)
    g = pd.factorize(sub[cohort], sort=True, use_na_sentinel=False)[0]  # NaN: a cohort
    t = pd.factorize(sub[time], sort=True)[0]
    ct_codes, ct_lab = pd.factorize(pd.MultiIndex.from_arrays([g, t]), sort=True)
    codes = [u_codes.astype(np.intp), ct_codes.astype(np.intp)]
    names = [unit, f"{cohort}^{time}"]
    labels = [pd.Index(u_lab), pd.Index(ct_lab)]
    if other is not None:
        kt_codes, kt_lab = pd.factorize(pd.MultiIndex.from_arrays([sub[other], t]), sort=True)
        codes.append(kt_codes.astype(np.intp))
        names.append(f"{other}^{time}")
        labels.append(pd.Index(kt_lab))
    fe = FixedEffects(tuple(codes), tuple(len(x) for x in labels), tuple(names), tuple(labels))
    yv = values[rows]
    both = demean(np.column_stack([yv, X[rows]]), fe).values
    resid = both[:, 0]
    if X.shape[1]:  # Frisch-Waugh: the covariates' part of the fit too
        coef, *_ = np.linalg.lstsq(both[:, 1:], resid, rcond=None)
        resid = resid - both[:, 1:] @ coef
    return rows, yv - resid, ct_codes.astype(np.intp)


def jackknife_residuals(resid: np.ndarray, ct: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Leave-one-cluster-out residuals of the cohort-by-period means: ``u + S_c / (N - n_c)``
    with ``S_c`` the cluster's residual sum in the row's cohort-by-period cell, ``N`` and
    ``n_c`` the cell's and the cluster's rows there (the residuals sum to zero in every
    cell). Exact for balanced panels; a cell held by one cluster keeps its residuals."""
    ok = cluster >= 0
    key = pd.factorize(pd.MultiIndex.from_arrays([ct[ok], cluster[ok]]))[0]
    s_c = np.bincount(key, weights=resid[ok])[key]
    n_c = np.bincount(key)[key]
    n_cell = np.bincount(ct[ok])[ct[ok]]
    out = resid.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = np.where(n_cell > n_c, resid[ok] + s_c / (n_cell - n_c), resid[ok])
    return out


#: A clustered standard error below this share of the single-unit scale is zero (the sums
#: within clusters cancel exactly): its t-statistic is not defined.
ZERO_SE_RTOL = 1e-8
#: The options an aggregation takes.
AGGREGATE_OPTIONS = ("min_e", "max_e", "balance_e")


#: With this many clusters holding treated units or fewer, the wild bootstrap is
#: unreliable (MacKinnon & Webb 2017, 2018).
FEW_TREATED_CLUSTERS = 5


def _warn_few_treated(data: pd.DataFrame, lin: LinearEstimator) -> None:
    col = data[lin.call["cohort"]]
    never = lin.call.get("never_treated")
    if pd.api.types.is_numeric_dtype(col):
        g = col.to_numpy(dtype=float, na_value=np.nan)
        treated = np.isfinite(g) & (g != 0)  # NaN, 0 and inf code never-treated units
        if never is not None:
            treated = treated & (g != never)
    else:  # dates or periods: missing codes never
        treated = col.notna().to_numpy()
    clusters = lin.row_cluster[treated & (lin.row_cluster >= 0)]
    k = len(np.unique(clusters))
    if 0 < k <= FEW_TREATED_CLUSTERS:
        warnings.warn(
            f"only {k} of {lin.n_clusters} clusters hold treated units: the wild bootstrap "
            "is unreliable with so few treated clusters (MacKinnon & Webb); use "
            "impact.conley_taber or impact.randomization_test.",
            FewClustersWarning,
            stacklevel=3,
        )


def _check_same(lin: LinearEstimator, obs) -> None:
    """The run on the fit's frame reproduces what the fit reports."""
    if len(lin.terms) != len(obs.estimate):
        raise InvalidOptionError(NOT_SAME)
    if lin.reported is not None and not same_values(obs.estimate, lin.reported):
        raise InvalidOptionError(NOT_SAME)
    if lin.reported_se is not None:
        se = np.sqrt(np.sum(obs.scores**2, axis=0))
        if not same_values(se, lin.reported_se):
            raise InvalidOptionError(NOT_SAME)


def did_wildboot(
    fit: ATTgtResult | EventStudyResult,
    data: pd.DataFrame,
    *,
    aggregate: str | None = None,
    B: int = 999,
    weights: str = "webb",
    alpha: float = 0.05,
    seed: int = 0,
    residuals: str = "jackknife",
    **aggregate_options,
) -> DiDWildBootResult:
    """Wild cluster bootstrap-t of an ``att_gt`` fit or an event study (imputation, did2s,
    Sun-Abraham, TWFE, linear ETWFE): p-values, intervals and sup-t bands that hold with
    few clusters.

    The fit's outcome is split into a fit on unit effects and cohort-by-period means
    (every ATT(g,t) is identified in it; plus a first stage's ``category^time`` effects)
    and residuals; each bootstrap outcome multiplies the residuals of a whole cluster by
    one weight; the estimators are linear in the outcome, so ``G + 2`` runs of it give
    every draw's estimates and, from its own influence functions or variance terms
    (Theorem 3 of Borusyak, Jaravel & Spiess for imputation, the GMM terms for did2s),
    its standard errors. Each draw is studentized by its own standard error
    (bootstrap-t), unlike the multiplier bootstrap, which keeps the sample's.

    Parameters
    ----------
    fit : ATTgtResult or EventStudyResult
        An :func:`impact.att_gt` fit on panel data, clustered (``vcov={"cluster": col}``)
        by the resampled clusters; or an :func:`impact.event_study` fit with
        ``estimator="imputation"``, ``"did2s"``, ``"sun_abraham"``, ``"twfe"`` or
        ``"etwfe"`` (``family="linear"``), clustered by its ``vcov`` cluster (default the
        unit), whose rows are the overall effect (the mean of event times 0 .. window
        end) then its event times. The regression estimators' scores are their OLS
        scores ``x_i e_i`` through the aggregation, with the fit's small-sample factor.
    data : DataFrame
        The frame ``fit`` was estimated on (not modified).
    aggregate : {None, "simple", "dynamic", "group", "calendar"}
        None: the ATT(g,t) cells; otherwise the aggregation (overall effect first, then
        its rows), with ``aggregate_options`` (``min_e``, ``max_e``, ``balance_e``).
    B : int
        Draws (>= 99); Rademacher signs are enumerated when ``2^G <= B``.
    weights : {"webb", "rademacher", "mammen", "normal"}
        Webb's six-point weights (default) keep enough distinct draws with 6-12 clusters.
    alpha : float
    seed : int
    residuals : {"jackknife", "ols"}
        Residuals multiplied in the bootstrap: leave-one-cluster-out (default; they undo
        the shrinkage of a cluster's residuals towards its cohort's means, which makes the
        plain bootstrap over-reject when a cohort spans few clusters: MacKinnon, Nielsen &
        Webb 2023's WCU with jackknife residuals) or the fit's own residuals.

    Returns
    -------
    DiDWildBootResult

    References
    ----------
    Cameron, Gelbach & Miller (2008); Roodman, MacKinnon, Nielsen & Webb (2019);
    Callaway & Sant'Anna (2021), Section 4 (simultaneous bands).

    Examples
    --------
    R did's minimum-wage county panel clustered by state, the level at which minimum wages are
    set: 29 states, too few for cluster-robust tests. The simple ATT is the vignette's -0.0400.

    >>> import warnings, impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> mpdta["state"] = mpdta["countyreal"] // 1000  # county FIPS codes start with the state's
    >>> with warnings.catch_warnings(record=True) as announced:  # 29 clusters: said once
    ...     warnings.simplefilter("always")
    ...     fit = impact.att_gt(mpdta, y="lemp", unit="countyreal", time="year",
    ...                         cohort="first.treat", vcov={"cluster": "state"})
    >>> [w.category.__name__ for w in announced], "did_wildboot" in str(announced[0].message)
    (['FewClustersWarning'], True)
    >>> res = impact.did_wildboot(fit, mpdta, aggregate="simple", seed=1)
    >>> att = res.table.loc[0]
    >>> res.n_clusters, f"{att['estimate']:.4f}", bool(att["p_value"] < 0.05)
    (29, '-0.0400', True)
    """
    _check(data, B, weights, alpha, seed, aggregate)
    _check_options(aggregate, aggregate_options)
    if residuals not in ("jackknife", "ols"):
        raise InvalidOptionError(f"residuals must be 'jackknife' or 'ols', got {residuals!r}.")
    lin = linear_estimator(fit, data, aggregate, aggregate_options)
    return wild_bootstrap_t(lin, data, B=B, weights=weights, alpha=alpha, seed=seed,
                            residuals=residuals, aggregate=aggregate)  # fmt: skip


def wild_bootstrap_t(
    lin: LinearEstimator,
    data: pd.DataFrame,
    *,
    B: int,
    weights: str,
    alpha: float,
    seed: int,
    residuals: str,
    aggregate: str | None = None,
) -> DiDWildBootResult:
    """The wild cluster bootstrap-t of any estimator given as a linear map of the outcome
    over ``data`` (:class:`LinearEstimator`): the body of :func:`did_wildboot`, whose
    arguments are checked."""
    G = lin.n_clusters
    if G > MAX_CLUSTERS:
        raise InvalidOptionError(
            f"{G} clusters: the bootstrap-t runs the estimator once per cluster; with more "
            f"than {MAX_CLUSTERS} the analytic or multiplier inference is reliable."
        )
    call = lin.call
    _warn_few_treated(data, lin)
    rows, yhat, ct = _fitted(data, call, lin.fixed_effects, lin.row_cluster >= 0, lin.covariates)
    row_cluster = lin.row_cluster[rows]
    resid = data[call["y"]].to_numpy(dtype=float, na_value=np.nan)[rows] - yhat
    if residuals == "jackknife":
        resid = jackknife_residuals(resid, ct, row_cluster)
    base = np.full(len(data), np.nan)
    base[rows] = yhat
    obs = lin.run(data[call["y"]].to_numpy(dtype=float, na_value=np.nan))
    _check_same(lin, obs)
    centre = lin.run(base)
    m = len(centre.estimate)
    D = np.empty((G, m))
    J = np.empty((G, G, m))
    for c in range(G):
        values = np.full(len(data), np.nan)
        values[rows] = np.where(row_cluster == c, resid, 0.0)
        one = lin.run(values)
        D[c], J[:, c, :] = one.estimate, one.scores
    pieces = LinearWildT(centre=centre.estimate, S_centre=centre.scores, D=D, J=J, n=1)
    se = np.sqrt(np.sum(obs.scores**2, axis=0))
    # a clustered s.e. that is rounding noise next to the single-unit scale (e.g. a cohort
    # or the controls in one cluster, whose terms sum to zero) is zero
    floor = ZERO_SE_RTOL * obs.scale
    se = np.where(se > floor, se, np.nan)
    V, enumerated = draw_weights(weights, G, int(B), np.random.default_rng(int(seed)))
    t_boot = bootstrap_t(pieces, V, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = obs.estimate / se
    ok = np.isfinite(t) & np.isfinite(t_boot).all(axis=0)
    p = np.full(m, np.nan)
    q = np.full(m, np.nan)
    p[ok] = symmetric_p(t[ok], t_boot[:, ok], TIE_RTOL)
    q[ok] = np.quantile(np.abs(t_boot[:, ok]), 1 - alpha, axis=0)
    # the band covers the cells, or the rows of an aggregation (not its overall average)
    in_band = ok.copy()
    if lin.overall:
        in_band[0] = False
    crit = sup_t_critical(t_boot[:, in_band], alpha) if in_band.any() else float("nan")
    band = np.where(in_band, crit, np.nan)
    est = obs.estimate
    table = pd.DataFrame(
        {
            "term": lin.terms, "estimate": est, "std_error": se, "statistic": t,
            "p_value": p, "conf_low": est - q * se, "conf_high": est + q * se,
            "band_low": est - band * se, "band_high": est + band * se,
        }
    )  # fmt: skip
    return DiDWildBootResult(
        table=table, critical_value=crit, B=V.shape[1], enumerated=enumerated,
        weights=weights, cluster=lin.cluster, n_clusters=G, alpha=float(alpha), seed=int(seed),
        aggregate=aggregate, depvar=str(call["y"]), n_units=lin.n_units,
        estimator=lin.estimator, _t_boot=t_boot,
        _identity_gap=float(np.nanmax(np.abs(centre.estimate + D.sum(axis=0) - est),
                                      initial=0.0)),
    )  # fmt: skip
