"""``impact.did_wildboot``: the wild cluster bootstrap-t of an ``att_gt`` fit (its cells or
an aggregation), for inference with few clusters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact.errors import InvalidOptionError, close_matches_hint
from impact.estimators.att_gt import att_gt
from impact.inference.clusters import cluster_sums
from impact.inference.linear_wild_t import (
    LinearWildT,
    bootstrap_t,
    sup_t_critical,
    symmetric_p,
)
from impact.inference.wild_cluster import WEIGHT_TYPES, draw_weights
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects
from impact.results.att_gt import ATTgtResult
from impact.results.did_wildboot import DiDWildBootResult

__all__ = ["did_wildboot"]

#: Fewest draws accepted.
MIN_DRAWS = 99
#: The bootstrap runs the estimator once per cluster: beyond this many clusters the
#: analytic or multiplier inference is reliable and this would be slow.
MAX_CLUSTERS = 200
#: Bootstrap statistics within this relative distance of the observed one are ties.
TIE_RTOL = 1e-9
AGGREGATIONS = (None, "simple", "dynamic", "group", "calendar")


def _check(fit, data, B, weights, alpha, seed, aggregate) -> None:
    if not isinstance(fit, ATTgtResult):
        raise InvalidOptionError("did_wildboot needs an impact.att_gt fit.")
    if fit._call is None:
        raise InvalidOptionError("this att_gt fit does not carry its call; refit it.")
    if fit.settings.get("panel") == "rcs":
        raise InvalidOptionError(
            "did_wildboot resamples units' residual paths: it needs panel data (the fit "
            "is on repeated cross-sections)."
        )
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(f"data must be the fit's DataFrame, got {type(data).__name__}.")
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < MIN_DRAWS:
        raise InvalidOptionError(f"B must be an integer >= {MIN_DRAWS}, got {B!r}.")
    if weights not in WEIGHT_TYPES:
        raise InvalidOptionError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise InvalidOptionError(f"alpha must be in (0, 1), got {alpha!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidOptionError(f"seed must be an integer >= 0, got {seed!r}.")
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


def _fitted(data: pd.DataFrame, call: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with an outcome, their fit on unit effects plus cohort-by-period means
    (never-treated units one cohort: a model in which every ATT(g,t) is identified), and
    the cohort-by-period code of each row."""
    y, unit, time, cohort = call["y"], call["unit"], call["time"], call["cohort"]
    rows = np.flatnonzero(data[y].notna().to_numpy() & data[unit].notna().to_numpy())
    sub = data.iloc[rows]
    u_codes, u_lab = pd.factorize(sub[unit], sort=True)
    g = pd.factorize(sub[cohort], sort=True, use_na_sentinel=False)[0]  # NaN: a cohort
    t = pd.factorize(sub[time], sort=True)[0]
    ct = pd.MultiIndex.from_arrays([g, t])
    ct_codes, ct_lab = pd.factorize(ct, sort=True)
    fe = FixedEffects(
        (u_codes.astype(np.intp), ct_codes.astype(np.intp)),
        (len(u_lab), len(ct_lab)),
        (unit, f"{cohort}^{time}"),
        (pd.Index(u_lab), pd.Index(ct_lab)),
    )
    yv = sub[y].to_numpy(dtype=float)
    resid = demean(yv[:, None], fe).values[:, 0]
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


def _run(data: pd.DataFrame, call: dict, values: np.ndarray, aggregate, agg_kw):
    """The estimates and influence functions of the fit's estimator on outcome ``values``."""
    frame = data.assign(**{call["y"]: values})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(frame, **call)
    if aggregate is None:
        return res, res.table["estimate"].to_numpy(dtype=float), res._inf
    agg = res.aggregate(aggregate, **agg_kw)
    if aggregate == "simple":
        return agg, np.array([agg.estimate]), agg.influence[:, None]
    est = np.r_[agg.estimate, agg.table["estimate"].to_numpy(dtype=float)]
    return agg, est, np.column_stack([agg.influence, agg.table_influence])


#: A clustered standard error below this share of the unit-level one is zero (the sums
#: within clusters cancel exactly): its t-statistic is not defined.
ZERO_SE_RTOL = 1e-8
#: The options an aggregation takes.
AGGREGATE_OPTIONS = ("min_e", "max_e", "balance_e")
#: Re-running the fit's call on ``data`` must reproduce its ATT(g,t) to this tolerance.
SAME_FIT_RTOL = 1e-9


def _same_fit(fit: ATTgtResult, data: pd.DataFrame, call: dict) -> None:
    """``data`` is the frame the fit was estimated on: its call reproduces the cells."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rerun = att_gt(data, **call)
    again = rerun.table["estimate"].to_numpy(dtype=float)
    mine = fit.table["estimate"].to_numpy(dtype=float)
    scale = np.nanmax(np.abs(mine), initial=1.0)
    same = (
        again.shape == mine.shape
        and np.allclose(again, mine, rtol=SAME_FIT_RTOL, atol=SAME_FIT_RTOL * scale,
                        equal_nan=True)
        and rerun.units is not None and fit.units is not None
        and rerun.units.equals(fit.units)
        and np.array_equal(rerun._cluster, fit._cluster)
    )  # fmt: skip
    if not same:
        raise InvalidOptionError(
            "data does not reproduce the fit (another frame, or changed since): pass the "
            "frame att_gt was estimated on."
        )


def did_wildboot(
    fit: ATTgtResult,
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
    """Wild cluster bootstrap-t of an ``att_gt`` fit: p-values, intervals and sup-t bands
    that hold with few clusters.

    The fit's outcome is split into a fit on unit effects and cohort-by-period means
    (every ATT(g,t) is identified in it) and residuals; each bootstrap outcome multiplies
    the residuals of a whole cluster by one weight; the estimator is linear in the outcome,
    so ``G + 1`` runs of it on the residuals give every draw's estimates and, from its own
    influence functions, its standard errors. Each draw is studentized by its own standard
    error (bootstrap-t), unlike the multiplier bootstrap, which keeps the sample's.

    Parameters
    ----------
    fit : ATTgtResult
        An :func:`impact.att_gt` fit on panel data, clustered (``vcov={"cluster": col}``)
        by the resampled clusters.
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
    """
    _check(fit, data, B, weights, alpha, seed, aggregate)
    _check_options(aggregate, aggregate_options)
    if residuals not in ("jackknife", "ols"):
        raise InvalidOptionError(f"residuals must be 'jackknife' or 'ols', got {residuals!r}.")
    call = dict(fit._call)
    cluster = fit.settings.get("cluster")
    if not cluster:
        raise InvalidOptionError(
            "fit att_gt with vcov={'cluster': col}: the bootstrap resamples those clusters "
            "(resampling single units needs no bootstrap-t)."
        )
    codes = fit._cluster
    G = int(codes.max()) + 1
    if G > MAX_CLUSTERS:
        raise InvalidOptionError(
            f"{G} clusters: the bootstrap-t runs the estimator once per cluster; with more "
            f"than {MAX_CLUSTERS} the analytic or multiplier inference is reliable."
        )
    rows, yhat, ct = _fitted(data, call)
    unit_of_row = pd.Index(fit.units).get_indexer(data[call["unit"]].to_numpy()[rows])
    row_cluster = np.where(unit_of_row >= 0, codes[np.maximum(unit_of_row, 0)], -1)
    resid = data[call["y"]].to_numpy(dtype=float)[rows] - yhat
    if residuals == "jackknife":
        resid = jackknife_residuals(resid, ct, row_cluster)
    base = np.full(len(data), np.nan)
    base[rows] = yhat
    _same_fit(fit, data, call)
    obs_res, obs_est, obs_inf = _run(data, call, data[call["y"]].to_numpy(float), aggregate,
                                     aggregate_options)  # fmt: skip
    _, centre, inf_c = _run(data, call, base, aggregate, aggregate_options)
    m = len(centre)
    D = np.empty((G, m))
    J = np.empty((G, G, m))
    for c in range(G):
        values = np.full(len(data), np.nan)
        values[rows] = np.where(row_cluster == c, resid, 0.0)
        _, D[c], inf = _run(data, call, values, aggregate, aggregate_options)
        J[:, c, :] = cluster_sums(inf, codes, G)
    n = obs_inf.shape[0]
    pieces = LinearWildT(centre=centre, S_centre=cluster_sums(inf_c, codes, G), D=D, J=J, n=n)
    se = np.sqrt(np.sum(cluster_sums(obs_inf, codes, G) ** 2, axis=0)) / n
    # a clustered s.e. that is rounding noise next to the unit-level one (e.g. a cohort or
    # the controls in one cluster, whose influence functions sum to zero) is zero
    floor = ZERO_SE_RTOL * np.sqrt(np.sum(obs_inf**2, axis=0)) / n
    zero_se = ~(se > floor)
    se = np.where(zero_se, np.nan, se)
    V, enumerated = draw_weights(weights, G, int(B), np.random.default_rng(int(seed)))
    t_boot = bootstrap_t(pieces, V, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = obs_est / se
    ok = np.isfinite(t) & np.isfinite(t_boot).all(axis=0)
    p = np.full(m, np.nan)
    q = np.full(m, np.nan)
    p[ok] = symmetric_p(t[ok], t_boot[:, ok], TIE_RTOL)
    q[ok] = np.quantile(np.abs(t_boot[:, ok]), 1 - alpha, axis=0)
    # the band covers the cells, or the aggregation's rows (not its overall average)
    in_band = ok.copy()
    if aggregate not in (None, "simple"):
        in_band[0] = False
    crit = sup_t_critical(t_boot[:, in_band], alpha) if in_band.any() else float("nan")
    band = np.where(in_band, crit, np.nan)
    terms = list(obs_res.tidy()["term"])[:m]
    table = pd.DataFrame(
        {
            "term": terms, "estimate": obs_est, "std_error": se, "statistic": t,
            "p_value": p, "conf_low": obs_est - q * se, "conf_high": obs_est + q * se,
            "band_low": obs_est - band * se, "band_high": obs_est + band * se,
        }
    )  # fmt: skip
    return DiDWildBootResult(
        table=table, critical_value=crit, B=V.shape[1], enumerated=enumerated,
        weights=weights, cluster=cluster, n_clusters=G, alpha=float(alpha), seed=int(seed),
        aggregate=aggregate, depvar=str(call["y"]), n_units=fit.n_units,
        _t_boot=t_boot,
        _identity_gap=float(np.nanmax(np.abs(centre + D.sum(axis=0) - obs_est), initial=0.0)),
    )  # fmt: skip
