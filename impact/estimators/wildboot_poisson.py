"""The score bootstrap (Kline & Santos 2012) of one coefficient of a fepois fit: the
Poisson side of :func:`impact.wildboot`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray
from impact.errors import ConvergenceError, InvalidOptionError, close_matches_hint, rerun_quietly
from impact.estimators.fepois import fepois
from impact.estimators.wild_setup import (
    bootstrap_cluster_codes,
    check_refit,
    variance_clusters,
    warn_few_treated,
)
from impact.inference.score_bootstrap import (
    ScoreCells,
    poisson_projected_scores,
    restricted_poisson_means,
)
from impact.inference.test_inversion import invert_test, unrestricted_interval
from impact.inference.vcov import cluster_intersections
from impact.inference.wild_cluster import draw_weights
from impact.linear.demean import DEMEAN_TOL
from impact.linear.fixed_effects import FixedEffects
from impact.results.poisson import FepoisResult
from impact.results.wildboot import WildBootResult, p_values

__all__ = ["ScoreProblem", "score_bootstrap"]


@dataclass(frozen=True)
class ScoreProblem:
    """One fepois coefficient set up for the score bootstrap: the sample's design, the
    coefficient's CRV1 standard error with the variance's clusters, and the cells of the
    bootstrap clusters crossed with the variance's clusters."""

    j: int
    cluster: str  # the bootstrap clusters (one weight each)
    variance: tuple[str, ...]
    labels: np.ndarray
    cells: ScoreCells
    beta: float
    se: float
    df: int
    y: FloatArray
    X: FloatArray
    fe: FixedEffects | None
    off: FloatArray
    mu_hat: FloatArray  # the fit's means

    @property
    def G(self) -> int:
        return len(self.labels)

    @classmethod
    def of(
        cls,
        fit: FepoisResult,
        param: str,
        names: Sequence[str],
        bootcluster: str | None,
    ) -> ScoreProblem:
        """Check the fit and set up ``param`` (``names``: the variance's cluster columns;
        ``bootcluster``: the column of the weights, default the one with fewest clusters)."""
        if fit.engine_use is not None:
            raise InvalidOptionError(
                f"this fit ran in the {fit.engine_use.engine} engine and its rows stayed "
                "there; the bootstrap refits on the rows: fit an in-memory pandas frame."
            )
        if fit._data is None or fit._X is None:
            raise InvalidOptionError("this fepois fit does not carry its design; refit it.")
        if fit._weights is not None:
            raise InvalidOptionError("the score bootstrap does not support weighted fits.")
        _check_param(fit, param)
        var_codes = [bootstrap_cluster_codes(fit, c)[0] for c in names]
        if bootcluster is None:
            bootcluster = names[int(np.argmin([c.max() for c in var_codes]))]
        codes, labels = bootstrap_cluster_codes(fit, bootcluster)
        refit = _refit(fit, list(names))
        terms = [
            (sign * f, c, H)
            for (sign, c, H), f in zip(
                cluster_intersections(var_codes), refit.small_sample.factors, strict=True
            )
        ]
        j = list(fit.coef.index).index(param)
        off = refit._offset_values
        problem = cls(
            j=j, cluster=bootcluster, variance=tuple(names), labels=labels,
            cells=ScoreCells.of(codes, terms), beta=float(fit.coef.iloc[j]), se=float("nan"),
            df=int(refit.df_t), y=refit._y, X=refit._X, fe=refit._fe,
            off=np.zeros(len(refit._y)) if off is None else off, mu_hat=refit._y - refit._resid,
        )  # fmt: skip
        var = problem.cells.variance(problem.q(None))
        if not var > 0:
            raise InvalidOptionError(
                f"the cluster-robust variance of {param!r} is not positive: the bootstrap "
                "cannot studentize with it."
            )
        return _replace_se(problem, float(np.sqrt(var)))

    def q(self, theta: float | None) -> FloatArray:
        """Per-cell projected scores at the fit (``theta=None``) or with the coefficient
        held at ``theta``."""
        if theta is None:
            mu = self.mu_hat
        else:
            with np.errstate(over="ignore"):  # start: the fit's means moved to theta
                start = self.mu_hat * np.exp((theta - self.beta) * self.X[:, self.j])
            if not np.all(np.isfinite(start) & (start > 0)):
                start = None
            mu = restricted_poisson_means(
                self.y,
                self.X,
                self.fe,
                self.off,
                self.j,
                theta,
                fixef_tol=DEMEAN_TOL,
                start=start,
            )
        tiny = float(np.finfo(float).tiny)
        if not np.all(np.isfinite(mu) & (mu > tiny)):
            raise ConvergenceError(
                f"the fitted means overflow or underflow with the coefficient at {theta:g}"
            )
        try:
            per_row = poisson_projected_scores(self.y, self.X, self.fe, mu, self.j, DEMEAN_TOL)
        except np.linalg.LinAlgError as exc:  # the weighted design is singular there
            raise ConvergenceError(
                f"the Hessian is singular with the coefficient at {theta:g} ({exc})"
            ) from exc
        q = self.cells.sums(per_row)
        if not np.all(np.isfinite(q)):
            raise ConvergenceError(f"the scores are not finite with the coefficient at {theta:g}")
        return q


def _replace_se(problem: ScoreProblem, se: float) -> ScoreProblem:
    return dataclasses.replace(problem, se=se)


def _check_param(fit: FepoisResult, param: str) -> None:
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


def _refit(fit: FepoisResult, names: list[str]) -> FepoisResult:
    """The fit again on its own rows, clustered by ``names`` (the variance's small-sample
    factors and degrees of freedom); refuses a frame that changed since the fit."""
    rows = fit._data.loc[fit._row_index]
    vcov = {"cluster": names[0] if len(names) == 1 else list(names)}
    with rerun_quietly():
        refit = fepois(fit.formula, rows, vcov=vcov, ssc=fit.ssc, offset=fit.offset,
                       drop_singletons=False, separation=(), **fit._irls)  # fmt: skip
    check_refit(fit, refit, names)
    return refit


def score_bootstrap(fit, param, cluster, bootcluster, B, weights, impose_null, null, alpha,
                    pvalue, seed) -> WildBootResult:  # fmt: skip
    """The score bootstrap of a fepois coefficient (options checked by
    :func:`impact.wildboot`, which calls it)."""
    problem = ScoreProblem.of(fit, param, variance_clusters(fit, cluster), bootcluster)
    warn_few_treated(fit, param, bootstrap_cluster_codes(fit, problem.cluster)[0])
    V, enumerated = draw_weights(weights, problem.G, int(B), np.random.default_rng(int(seed)))
    beta, se, cells = problem.beta, problem.se, problem.cells
    if impose_null:
        try:
            q0 = problem.q(float(null))
        except ConvergenceError as exc:
            raise ConvergenceError(
                f"the fit restricted to {param} = {null:g} cannot be computed ({exc}); test a "
                "null closer to the estimate, or use impose_null=False."
            ) from exc
        t, t_boot = cells.statistic(q0), cells.t_stats(q0, V)

        if not np.isfinite(t):
            raise ConvergenceError(
                f"the score statistic at {param} = {null:g} is not defined (the restricted "
                "fit's scores have no variance); test another null or use impose_null=False."
            )

        def p_at(theta: float) -> float:
            q = problem.q(theta)
            stat = cells.statistic(q)
            if not np.isfinite(stat):  # cannot be computed there: never a rejection
                raise ConvergenceError(f"no score statistic at {theta:g}")
            return p_values(stat, cells.t_stats(q, V))["symmetric"]

        lo, hi = invert_test(p_at, beta, se, alpha)
    else:
        t, t_boot = (beta - null) / se, cells.t_stats(problem.q(None), V)
        lo, hi = unrestricted_interval(t_boot, beta, se, alpha)
    ps = p_values(t, t_boot)
    return WildBootResult(
        param=param, null=float(null), estimate=beta, std_error=se, statistic=t, p_values=ps,
        p_value=ps[pvalue], pvalue_type=pvalue, conf_low=lo, conf_high=hi, alpha=float(alpha),
        t_boot=t_boot, B=V.shape[1], enumerated=enumerated, weights=weights,
        impose_null=bool(impose_null), cluster=problem.cluster, n_clusters=problem.G,
        variance=problem.variance, nobs=fit.nobs, depvar=fit.depvar, bootstrap="score",
    )  # fmt: skip
