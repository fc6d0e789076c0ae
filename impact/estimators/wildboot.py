"""``impact.wildboot``: the wild cluster bootstrap of one coefficient of a feols fit."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.errors import FewClustersWarning, InvalidOptionError, close_matches_hint
from impact.estimators.feols import feols
from impact.inference.wild_cluster import WEIGHT_TYPES, WildDraws, draw_weights, wild_draws
from impact.linear.demean import demean
from impact.results.linear import FeolsResult
from impact.results.wildboot import WildBootResult, p_values

__all__ = ["WildProblem", "wildboot"]

#: The refit on the fit's own rows (for the CRV1 standard error with the bootstrap
#: clusters) reproduces the coefficients up to the fixed-effect solver's tolerance; more
#: means the user's frame changed since the fit.
REFIT_RTOL = 1e-6
#: Fewest draws accepted: with fewer the p-value's resolution is coarser than 0.01.
MIN_DRAWS = 99
#: The interval's ends are found to this share of the standard error.
CI_RESOLUTION = 1e-7
#: The search for an end doubles its step at most this often (2^20, about a million
#: standard errors out): beyond it the side is reported unbounded. Farther out the
#: per-draw sums lose the ties of exact arithmetic (rounding grows with the distance).
MAX_DOUBLINGS = 20
#: Bisection steps per end: 20 doublings plus resolution 1e-7 need fewer than 50.
MAX_BISECTIONS = 100
PVALUE_TYPES = ("symmetric", "equal-tailed", "greater", "less")


def _check(B, weights, alpha, pvalue, seed, null, impose_null) -> None:
    if isinstance(null, bool) or not isinstance(null, (int, float, np.integer, np.floating)):
        raise InvalidOptionError(f"null must be a number, got {null!r}.")
    if not np.isfinite(null):
        raise InvalidOptionError(f"null must be finite, got {null!r}.")
    if not isinstance(impose_null, (bool, np.bool_)):
        raise InvalidOptionError(f"impose_null must be True or False, got {impose_null!r}.")
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < MIN_DRAWS:
        raise InvalidOptionError(f"B must be an integer >= {MIN_DRAWS}, got {B!r}.")
    if weights not in WEIGHT_TYPES:
        raise InvalidOptionError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}.")
    if (
        not isinstance(alpha, (int, float, np.floating))
        or isinstance(alpha, bool)
        or not 0 < alpha < 1
    ):
        raise InvalidOptionError(f"alpha must be in (0, 1), got {alpha!r}.")
    if pvalue not in PVALUE_TYPES:
        raise InvalidOptionError(f"pvalue must be one of {PVALUE_TYPES}, got {pvalue!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidOptionError(f"seed must be an integer >= 0, got {seed!r}.")


def _cluster_codes(fit: FeolsResult, cluster: str) -> tuple[np.ndarray, np.ndarray]:
    data = fit._data
    if not isinstance(cluster, str) or cluster not in data.columns:
        raise InvalidOptionError(
            f"cluster must be a column of the fit's data, got {cluster!r}"
            + close_matches_hint(str(cluster), [str(c) for c in data.columns])
        )
    if not data.index.is_unique:
        raise InvalidOptionError(
            "the fit's data has a repeated index: reset it (data.reset_index(drop=True)) and "
            "refit, so the bootstrap can find each row's cluster."
        )
    values = data.loc[fit._row_index, cluster]
    if values.isna().any():
        raise InvalidOptionError(f"cluster column {cluster!r} is missing on rows of the fit.")
    codes, uniq = pd.factorize(values, sort=True)
    if len(uniq) < 2:
        raise InvalidOptionError(
            f"cluster column {cluster!r} has one cluster: nothing to resample."
        )
    return codes.astype(np.intp), np.asarray(uniq)


def _default_cluster(fit: FeolsResult) -> str:
    if len(fit.n_clusters) == 1:
        return next(iter(fit.n_clusters))
    raise InvalidOptionError("give cluster=: the fit is not clustered one way.")


def wildboot(
    fit: FeolsResult,
    *,
    param: str,
    cluster: str | None = None,
    B: int = 9999,
    weights: str = "rademacher",
    impose_null: bool = True,
    null: float = 0.0,
    alpha: float = 0.05,
    pvalue: str = "symmetric",
    seed: int = 0,
) -> WildBootResult:
    """Wild cluster bootstrap test and interval for one coefficient of a feols fit.

    Parameters
    ----------
    fit : FeolsResult
        :func:`impact.feols` fit, with or without absorbed fixed effects (they need not
        be nested in the clusters).
    param : str
        The coefficient tested.
    cluster : str, optional
        Column of the fit's data whose clusters are resampled (default: the fit's one-way
        cluster).
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
    """
    _check(B, weights, alpha, pvalue, seed, null, impose_null)
    problem = WildProblem.of(fit, param, cluster)
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
        nobs=fit.nobs, depvar=fit.depvar,
    )  # fmt: skip


@dataclass(frozen=True)
class WildProblem:
    """One coefficient of a feols fit set up for the wild cluster bootstrap: its CRV1
    standard error with the bootstrap clusters and the cluster codes (``labels[code]``)."""

    fit: FeolsResult
    j: int
    cluster: str
    codes: np.ndarray
    labels: np.ndarray
    beta: float
    se: float
    df: int

    @property
    def G(self) -> int:
        return len(self.labels)

    @classmethod
    def of(cls, fit: FeolsResult, param: str, cluster: str | None) -> WildProblem:
        """Check the fit and set up ``param`` (cluster: default the fit's one-way cluster)."""
        if not isinstance(fit, FeolsResult) or type(fit).__name__ != "FeolsResult":
            raise InvalidOptionError("the wild bootstrap needs an impact.feols fit (not fepois).")
        if fit._data is None or fit._Xd is None:
            raise InvalidOptionError("this feols fit does not carry its design; refit it.")
        if fit._weights is not None:
            raise InvalidOptionError("the wild bootstrap does not support weighted (WLS) fits.")
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
        cluster = cluster if cluster is not None else _default_cluster(fit)
        codes, labels = _cluster_codes(fit, cluster)
        j = list(fit.coef.index).index(param)
        se, df = _crv1_se(fit, cluster, param)
        return cls(fit=fit, j=j, cluster=cluster, codes=codes, labels=labels,
                   beta=float(fit.coef.iloc[j]), se=se, df=df)  # fmt: skip

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
        meat = float(np.sum(np.bincount(codes, weights=w * u_hat, minlength=self.G) ** 2))
        ssc = self.se**2 / meat
        nested = (Xd, A) if _nested(fe, codes) else None
        if impose_null:
            others = np.delete(Xd, j, axis=1)
            u0, u1 = _residual_on(others, yd), _residual_on(others, Xd[:, j])
            return wild_draws(w, u0, u1, codes, V, ssc, residualise, nested)
        return wild_draws(w, u_hat, None, codes, V, ssc, residualise, nested)


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


def _crv1_se(fit: FeolsResult, cluster: str, param: str) -> tuple[float, int]:
    """The coefficient's CRV1 standard error with the bootstrap clusters, as feols (same
    small-sample correction; it fixes the statistic and the draws' scale), and the t
    degrees of freedom feols uses with them."""
    rows = fit._data.loc[fit._row_index]  # the estimation sample, singletons gone
    with warnings.catch_warnings():  # few clusters is why the bootstrap is run
        warnings.simplefilter("ignore", FewClustersWarning)
        refit = feols(
            fit.formula, rows, vcov={"cluster": cluster}, ssc=fit.ssc, drop_singletons=False
        )
    same = refit.nobs == fit.nobs and np.allclose(
        refit.coef.to_numpy(), fit.coef.to_numpy(), rtol=REFIT_RTOL, atol=0.0
    )
    if not same:
        raise InvalidOptionError(
            "the fit's data changed after fitting (its rows or values no longer give the "
            "fit's coefficients): refit on the current data first."
        )
    return float(refit.se[param]), int(refit.df_t)


def _interval(draws, beta: float, se: float, alpha: float, restricted: bool):
    """Invert the symmetric test: the values whose p-value is at least alpha. A side on
    which no value within ``2^MAX_DOUBLINGS`` standard errors is rejected is unbounded
    (under fully enumerated Rademacher signs the p-value never falls below ``2 / 2^G``:
    the all-ones and all-minus-ones vectors reproduce ``+-t`` at every null value)."""
    if not restricted:  # the k-th largest |t*|, k = ceil(alpha B): p(theta) >= alpha inside
        desc = np.sort(np.abs(draws.t_stats(0.0)))[::-1]
        q = float(desc[max(int(np.ceil(alpha * len(desc))) - 1, 0)])
        return beta - q * se, beta + q * se

    def p_at(theta: float) -> float:
        return p_values((beta - theta) / se, draws.t_stats(theta))["symmetric"]

    ends = []
    for sign in (-1.0, 1.0):
        inside, step = beta, se
        outside = beta + sign * step
        for _ in range(MAX_DOUBLINGS):
            if p_at(outside) < alpha:
                break
            inside, step = outside, step * 2
            outside = beta + sign * step
        else:
            ends.append(sign * np.inf)
            continue
        for _ in range(MAX_BISECTIONS):
            mid = 0.5 * (inside + outside)
            if abs(outside - inside) <= CI_RESOLUTION * se or mid in (inside, outside):
                break
            if p_at(mid) < alpha:
                outside = mid
            else:
                inside = mid
        ends.append(inside)
    return float(ends[0]), float(ends[1])
