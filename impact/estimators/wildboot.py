"""``impact.wildboot``: the wild cluster bootstrap of one coefficient of a feols fit, and
the score bootstrap of one coefficient of a fepois fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from impact.errors import InvalidOptionError, close_matches_hint, rerun_quietly
from impact.estimators.feols import feols
from impact.estimators.wild_setup import (
    bootstrap_cluster_codes,
    check_refit,
    variance_clusters,
    warn_few_treated,
)
from impact.estimators.wildboot_poisson import score_bootstrap
from impact.inference.test_inversion import invert_test, unrestricted_interval
from impact.inference.vcov import cluster_intersections
from impact.inference.wild_cluster import WEIGHT_TYPES, WildDraws, draw_weights, wild_draws
from impact.linear.demean import demean
from impact.options import check_alpha, check_flag, check_seed, whole_number
from impact.results.linear import FeolsResult
from impact.results.poisson import FepoisResult
from impact.results.wildboot import WildBootResult, p_values

__all__ = ["MIN_DRAWS", "WildProblem", "wildboot"]

#: Fewest draws accepted: with fewer the p-value's resolution is coarser than 0.01.
MIN_DRAWS = 99
PVALUE_TYPES = ("symmetric", "equal-tailed", "greater", "less")


def _check(B, weights, alpha, pvalue, seed, null, impose_null) -> None:
    if isinstance(null, bool) or not isinstance(null, (int, float, np.integer, np.floating)):
        raise InvalidOptionError(f"null must be a number, got {null!r}.")
    if not np.isfinite(null):
        raise InvalidOptionError(f"null must be finite, got {null!r}.")
    check_flag("impose_null", impose_null)
    whole_number("B", B, MIN_DRAWS)
    if weights not in WEIGHT_TYPES:
        raise InvalidOptionError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}.")
    check_alpha(alpha)
    if pvalue not in PVALUE_TYPES:
        raise InvalidOptionError(f"pvalue must be one of {PVALUE_TYPES}, got {pvalue!r}.")
    check_seed(seed)


def wildboot(
    fit: FeolsResult,
    *,
    param: str,
    cluster: str | Sequence[str] | None = None,
    bootcluster: str | None = None,
    B: int = 9999,
    weights: str = "rademacher",
    impose_null: bool = True,
    null: float = 0.0,
    alpha: float = 0.05,
    pvalue: str = "symmetric",
    seed: int = 0,
) -> WildBootResult:
    """Wild cluster bootstrap test and interval for one coefficient of a feols fit (or
    the score bootstrap of Kline & Santos 2012 for a fepois fit).

    Parameters
    ----------
    fit : FeolsResult or FepoisResult
        :func:`impact.feols` fit, with or without absorbed fixed effects (they need not
        be nested in the clusters). A :func:`impact.fepois` fit gets the score
        bootstrap: each cluster's score projected on ``param`` through the inverse
        Hessian is multiplied by the cluster's weight, no refit per draw; with
        ``impose_null`` the scores are those of the fit restricted to the null and the
        statistic is the cluster-robust Rao score statistic (boottest's choice after
        maximum likelihood), otherwise the fit's scores and the Wald t.
    param : str
        The coefficient tested.
    cluster : str or list of str, optional
        The variance's cluster variable(s) (default: the fit's); two or more give the
        multi-way (Cameron, Gelbach & Miller 2011) variance of feols, studentizing every
        draw with it.
    bootcluster : str, optional
        Column whose clusters get one weight each (default: the variance's cluster variable
        with the fewest clusters, as MacKinnon, Nielsen & Webb 2021 advise for multi-way
        clustering). A finer column than ``cluster`` gives the subcluster bootstrap
        (MacKinnon & Webb 2018), for few treated clusters.
    B : int
        Draws (>= 99). Rademacher weights are fully enumerated when ``2^G <= B`` (the
        result says so).
    weights : {"rademacher", "webb", "mammen", "normal"}
        Webb's six-point weights are recommended with fewer than about 12 clusters.
    impose_null : bool
        WCR (the null imposed on the bootstrap data, recommended) or WCU.
    null : float
        The hypothesised value.
    alpha : float
        1 - the interval's level.
    pvalue : {"symmetric", "equal-tailed", "greater", "less"}
        The p-value reported as ``p_value`` (all four are in ``p_values``).
    seed : int
        Seed of the draws.

    Returns
    -------
    WildBootResult

    References
    ----------
    Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2008). Bootstrap-based improvements
    for inference with clustered errors. Review of Economics and Statistics, 90(3).
    Roodman, D., MacKinnon, J. G., Nielsen, M. Ø., & Webb, M. D. (2019). Fast and wild:
    Bootstrap inference in Stata using boottest. The Stata Journal, 19(1), 4-60.

    Examples
    --------
    Wooldridge's Example 14.1 clustered by firm: the restricted wild cluster bootstrap of
    ``grant``. The statistic is the CRV1 t statistic (-0.2523 / 0.1434); wildboottest's
    ``wildboottest`` with the same seed and Rademacher weights gives the same p-value.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["lscrap"])
    >>> fit = impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain,
    ...                    vcov={"cluster": "fcode"})
    >>> res = impact.wildboot(fit, param="grant", B=9999, seed=1)
    >>> round(res.statistic, 3), f"{res.p_value:.4f}"
    (-1.759, '0.0902')
    """
    _check(B, weights, alpha, pvalue, seed, null, impose_null)
    if isinstance(fit, FepoisResult):
        return score_bootstrap(fit, param, cluster, bootcluster, B, weights, impose_null,
                               null, alpha, pvalue, seed)  # fmt: skip
    problem = WildProblem.of(fit, param, cluster, bootcluster)
    warn_few_treated(fit, param, problem.codes)
    V, enumerated = draw_weights(weights, problem.G, int(B), np.random.default_rng(int(seed)))
    draws = problem.draws(V, impose_null)
    beta, se = problem.beta, problem.se
    t = (beta - null) / se
    t_boot = draws.t_stats(null if impose_null else 0.0)
    ps = p_values(t, t_boot)
    lo, hi = _interval(draws, beta, se, alpha, impose_null)
    return WildBootResult(
        param=param, null=float(null), estimate=beta, std_error=se, statistic=t, p_values=ps,
        p_value=ps[pvalue], pvalue_type=pvalue, conf_low=lo, conf_high=hi, alpha=float(alpha),
        t_boot=t_boot, B=V.shape[1], enumerated=enumerated, weights=weights,
        impose_null=bool(impose_null), cluster=problem.cluster, n_clusters=problem.G,
        variance=problem.variance,
        nobs=fit.nobs, depvar=fit.depvar,
    )  # fmt: skip


@dataclass(frozen=True)
class WildProblem:
    """One coefficient of a feols fit set up for the wild cluster bootstrap: its
    cluster-robust standard error with the variance's clusters, those clusters' terms, and
    the bootstrap clusters' codes (``labels[code]``)."""

    fit: FeolsResult
    j: int
    cluster: str  # the bootstrap clusters (one weight each)
    variance: tuple[str, ...]  # the variance's cluster variables
    codes: np.ndarray
    labels: np.ndarray
    terms: tuple[tuple[float, np.ndarray, int], ...]  # (signed factor, codes, H)
    beta: float
    se: float
    df: int

    @property
    def G(self) -> int:
        return len(self.labels)

    @classmethod
    def of(
        cls,
        fit: FeolsResult,
        param: str,
        cluster: str | Sequence[str] | None,
        bootcluster: str | None = None,
    ) -> WildProblem:
        """Check the fit and set up ``param``: the variance clustered by ``cluster`` (default
        the fit's clusters), weights drawn by ``bootcluster`` (default: the variance's
        cluster variable with the fewest clusters)."""
        if not isinstance(fit, FeolsResult) or type(fit).__name__ != "FeolsResult":
            raise InvalidOptionError("the wild bootstrap needs an impact.feols fit (not fepois).")
        if fit.engine_use is not None:
            raise InvalidOptionError(
                f"this fit ran in the {fit.engine_use.engine} engine and its rows stayed "
                "there; the bootstrap refits on the rows: fit an in-memory pandas frame."
            )
        if fit._data is None or fit._Xd is None:
            raise InvalidOptionError("this feols fit does not carry its design; refit it.")
        if fit._weights is not None:
            raise InvalidOptionError("the wild bootstrap does not support weighted (WLS) fits.")
        if fit.first_stage is not None:
            raise InvalidOptionError(
                "the wild bootstrap of an IV fit must redraw both stages (Davidson & MacKinnon "
                "2010's WRE), which impact.wildboot does not do; use the fit's CRV1 variance "
                "or impact.randomization_test."
            )
        if not isinstance(param, str):
            raise InvalidOptionError(f"param must be a coefficient name, got {param!r}.")
        if param in fit.collinear:
            raise InvalidOptionError(
                f"{param!r} was dropped from the fit as collinear: it has no coefficient."
            )
        if param not in fit.coef.index:
            raise InvalidOptionError(
                f"{param!r} is not a coefficient of the fit"
                + close_matches_hint(str(param), list(fit.coef.index))
            )
        names = variance_clusters(fit, cluster)
        var_codes = [bootstrap_cluster_codes(fit, c)[0] for c in names]
        if bootcluster is None:
            bootcluster = names[int(np.argmin([c.max() for c in var_codes]))]
        codes, labels = bootstrap_cluster_codes(fit, bootcluster)
        j = list(fit.coef.index).index(param)
        se, df, factors = _crv_se(fit, names, param)
        terms = tuple(
            (sign * f, c, H)
            for (sign, c, H), f in zip(cluster_intersections(var_codes), factors, strict=True)
        )
        problem = cls(fit=fit, j=j, cluster=bootcluster, variance=tuple(names), codes=codes,
                      labels=labels, terms=terms, beta=float(fit.coef.iloc[j]), se=se,
                      df=df)  # fmt: skip
        if len(names) == 1:
            return problem
        var = problem.variance_of_terms()
        if not var > 0:
            raise InvalidOptionError(
                f"the {' + '.join(names)} cluster-robust variance of {param!r} is not positive "
                "(multi-way inclusion-exclusion): the bootstrap cannot studentize with it; "
                "cluster one way."
            )
        return dataclasses.replace(problem, se=float(np.sqrt(var)))

    def draws(self, V: np.ndarray, impose_null: bool) -> WildDraws:
        """The per-draw sums for cluster weights ``V`` (G x B, rows in code order)."""
        fit, j, codes = self.fit, self.j, self.codes
        Xd, yd, fe = fit._Xd, fit._yd, fit._fe
        A = np.linalg.inv(Xd.T @ Xd)
        w = Xd @ A[:, j]

        def residualise(U: np.ndarray) -> np.ndarray:
            if fe is not None:
                U = demean(U, fe).values
            return U - Xd @ (A @ (Xd.T @ U))

        u_hat = yd - Xd @ fit.coef.to_numpy()
        one_way = len(self.terms) == 1 and np.array_equal(self.terms[0][1], codes)
        nested = (Xd, A) if one_way and _nested(fe, codes) else None
        if impose_null:
            others = np.delete(Xd, j, axis=1)
            u0, u1 = _residual_on(others, yd), _residual_on(others, Xd[:, j])
            return wild_draws(w, u0, u1, codes, V, self.terms, residualise, nested)
        return wild_draws(w, u_hat, None, codes, V, self.terms, residualise, nested)

    def variance_of_terms(self) -> float:
        """The coefficient's variance as the sum of its terms: feols's, except where feols
        made a multi-way matrix positive semi-definite (then the un-fixed value, which the
        draws use too)."""
        fit, j = self.fit, self.j
        w = fit._Xd @ np.linalg.inv(fit._Xd.T @ fit._Xd)[:, j]
        u_hat = fit._yd - fit._Xd @ fit.coef.to_numpy()
        return float(sum(f * np.sum(np.bincount(c, weights=w * u_hat, minlength=H) ** 2)
                         for f, c, H in self.terms))  # fmt: skip


def _nested(fe, codes: np.ndarray) -> bool:
    """No fixed effects, or every fixed-effect level lies inside one cluster."""
    if fe is None:
        return True
    for c, n in zip(fe.codes, fe.n_levels, strict=True):
        pairs = np.unique(np.column_stack([c, codes]), axis=0)
        if len(pairs) != n:
            return False
    return True


def _residual_on(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    if X.shape[1] == 0:
        return v.copy()
    coef, *_ = np.linalg.lstsq(X, v, rcond=None)
    return v - X @ coef


def _crv_se(fit: FeolsResult, names: list[str], param: str) -> tuple[float, int, tuple]:
    """The coefficient's cluster-robust standard error with the variance's clusters, as
    feols (same small-sample corrections; it fixes the statistic and the draws' scale),
    feols's t degrees of freedom with them, and the factor of each variance term."""
    rows = fit._data.loc[fit._row_index]  # the estimation sample, singletons gone
    vcov = {"cluster": names[0] if len(names) == 1 else list(names)}
    with rerun_quietly():
        refit = feols(fit.formula, rows, vcov=vcov, ssc=fit.ssc, drop_singletons=False)
    check_refit(fit, refit, names)
    return float(refit.se[param]), int(refit.df_t), tuple(refit.small_sample.factors)


def _interval(draws, beta: float, se: float, alpha: float, restricted: bool):
    """The WCU interval from the quantile of ``|t*|``, or the WCR interval by test
    inversion (:func:`invert_test`)."""
    if not restricted:
        return unrestricted_interval(draws.t_stats(0.0), beta, se, alpha)

    def p_at(theta: float) -> float:
        return p_values((beta - theta) / se, draws.t_stats(theta))["symmetric"]

    return invert_test(p_at, beta, se, alpha)
