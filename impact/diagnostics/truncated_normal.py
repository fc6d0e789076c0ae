"""Box probabilities and the mean of a multivariate normal truncated to a box.

Pure functions used by the pre-trend power analysis. The mean follows Tallis (1961):
``E[X | a <= X <= b] = mu + Sigma F`` with
``F_k = (f_k(a_k) - f_k(b_k)) / P(a <= X <= b)``, where ``f_k(x)`` is the density of
``X_k`` at ``x`` times the probability that the other coordinates fall in their box given
``X_k = x``. Box probabilities come from scipy's Genz algorithm with a fixed generator
(deterministic) and tight error tolerances.

References
----------
Tallis, G. M. (1961). The moment generating function of the truncated multi-normal
distribution. Journal of the Royal Statistical Society B, 23(1), 223-229.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from impact._typing import FloatArray

__all__ = ["box_probability", "truncated_mean"]

#: Absolute error requested from the Genz integration of a box probability.
GENZ_ABS_TOL = 1e-10
#: Its seed: the quasi-Monte Carlo lattice is randomised; a fixed seed makes it repeatable.
GENZ_SEED = 20260101


def box_probability(
    mean: FloatArray, cov: FloatArray, lower: FloatArray, upper: FloatArray
) -> float:
    """``P(lower <= X <= upper)`` for ``X ~ N(mean, cov)`` (any dimension >= 0)."""
    k = len(mean)
    if k == 0:
        return 1.0
    if k == 1:
        sd = float(np.sqrt(cov[0, 0]))
        return float(stats.norm.cdf(upper[0], mean[0], sd) - stats.norm.cdf(lower[0], mean[0], sd))
    return float(
        stats.multivariate_normal.cdf(
            upper, mean=mean, cov=cov, lower_limit=lower, abseps=GENZ_ABS_TOL, releps=1e-8,
            maxpts=200_000 * k, rng=np.random.default_rng(GENZ_SEED),
        )
    )  # fmt: skip


def _edge_density(mean, cov, lower, upper, k: int, x: float) -> float:
    """Density of X_k at x times P(other coordinates in their box | X_k = x)."""
    sd = float(np.sqrt(cov[k, k]))
    if not np.isfinite(x):
        return 0.0
    dens = float(stats.norm.pdf(x, mean[k], sd))
    rest = np.arange(len(mean)) != k
    if not rest.any():
        return dens
    c = cov[rest, k] / cov[k, k]
    cond_mean = mean[rest] + c * (x - mean[k])
    cond_cov = cov[np.ix_(rest, rest)] - np.outer(c, cov[k, rest])
    return dens * box_probability(cond_mean, cond_cov, lower[rest], upper[rest])


def truncated_mean(
    mean: FloatArray, cov: FloatArray, lower: FloatArray, upper: FloatArray
) -> tuple[FloatArray, float]:
    """Mean of ``N(mean, cov)`` truncated to the box, and the box's probability."""
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    prob = box_probability(mean, cov, lower, upper)
    if prob <= 0:
        return np.full(len(mean), np.nan), prob
    F = np.array(
        [
            _edge_density(mean, cov, lower, upper, k, lower[k])
            - _edge_density(mean, cov, lower, upper, k, upper[k])
            for k in range(len(mean))
        ]
    )
    return mean + cov @ F / prob, prob
