"""Power of a pre-trend test against linear violations of parallel trends, and the bias
of post-period estimates conditional on passing it (Roth 2022).

Pure functions of event-time coefficients and their covariance. The pre-test is the one
Roth studies: no pre-period coefficient individually significant at level ``alpha``.
Under a linear violation ``delta_k = slope (k - reference)``, the coefficients are
``N(tau + delta, Sigma)``; the test passes with probability ``P(|b_pre| <= z sd_pre)``,
and conditional on passing, post-period estimates are biased by
``delta_post + Sigma_post,pre Sigma_pre^-1 (E[b_pre | pass] - delta_pre)``.

References
----------
Roth, J. (2022). Pretest with caution: event-study estimates after testing for parallel
trends. American Economic Review: Insights, 4(3), 305-322.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from impact._typing import FloatArray
from impact.diagnostics.event_coefficients import EventCoefficients
from impact.diagnostics.truncated_normal import box_probability, truncated_mean
from impact.errors import InvalidOptionError
from impact.inference.intervals import critical_value

__all__ = ["PowerAtSlope", "power_at_slope", "slope_for_power"]

#: Relative accuracy of the slope found for a target power (root finding).
SLOPE_RTOL = 1e-10
#: The search for that slope stops (typed error) beyond this many pre-period SEs.
MAX_SLOPE_SCALES = 2.0**40


@dataclass(frozen=True)
class PowerAtSlope:
    """The pre-test under a linear violation of the given slope."""

    slope: float
    power: float
    trend: FloatArray  # delta at every event time of the coefficients
    bias: FloatArray  # expected bias of each post-period estimate given passing
    pre_mean: FloatArray  # E[b_pre | pass]
    p_pass: float  # probability that the pre-test passes


def _pre_box(coef: EventCoefficients, alpha: float) -> tuple[FloatArray, FloatArray]:
    pre = coef.pre
    if not pre.any():
        raise InvalidOptionError(
            f"{coef.source} has no pre-period coefficient (event times before the reference "
            f"{coef.reference}): there is no pre-test to analyse."
        )
    sd = np.sqrt(np.diag(coef.vcov)[pre])
    if not np.all(np.isfinite(sd)) or np.any(sd <= 0):
        raise InvalidOptionError(f"{coef.source}: a pre-period coefficient has no variance.")
    z = critical_value(alpha)
    return -z * sd, z * sd


def _pass_probability(coef: EventCoefficients, slope: float, alpha: float) -> float:
    lo, hi = _pre_box(coef, alpha)
    pre = coef.pre
    delta = slope * (coef.rel_time[pre] - coef.reference)
    return box_probability(delta, coef.vcov[np.ix_(pre, pre)], lo, hi)


def power_at_slope(coef: EventCoefficients, slope: float, alpha: float = 0.05) -> PowerAtSlope:
    """Power of the pre-test against ``delta_k = slope (k - reference)`` and the expected
    bias of the post-period coefficients conditional on passing it."""
    lo, hi = _pre_box(coef, alpha)
    pre, post = coef.pre, coef.post
    trend = slope * (coef.rel_time - coef.reference)
    V = coef.vcov
    V_pre = V[np.ix_(pre, pre)]
    try:
        np.linalg.cholesky(V_pre)
    except np.linalg.LinAlgError as exc:
        raise InvalidOptionError(
            f"{coef.source}: the covariance of the pre-period coefficients is singular; the "
            "pre-test has no well-defined distribution."
        ) from exc
    pre_mean, p_pass = truncated_mean(trend[pre], V_pre, lo, hi)
    shift = V[np.ix_(post, pre)] @ np.linalg.solve(V_pre, pre_mean - trend[pre])
    return PowerAtSlope(slope, 1.0 - p_pass, trend, trend[post] + shift, pre_mean, p_pass)


def slope_for_power(coef: EventCoefficients, power: float, alpha: float = 0.05) -> float:
    """The positive slope of a linear violation that the pre-test detects with probability
    ``power`` (power rises with the slope's size: Anderson's theorem)."""
    if not 0 < power < 1:
        raise InvalidOptionError(f"power must be in (0, 1), got {power!r}.")
    size = 1.0 - _pass_probability(coef, 0.0, alpha)
    if power <= size:
        raise InvalidOptionError(
            f"power {power} is at most the pre-test's size {size:.4f} (its rejection rate "
            "under parallel trends): every slope, even 0, reaches it."
        )
    scale = float(np.sqrt(np.min(np.diag(coef.vcov)[coef.pre])))
    hi = scale
    while 1.0 - _pass_probability(coef, hi, alpha) < power:
        hi *= 2.0
        if hi > MAX_SLOPE_SCALES * scale:  # the box probability no longer resolves
            raise InvalidOptionError(
                f"power {power} is not reached by slopes up to {hi:.3g}: the pre-test's "
                "rejection probability cannot be told from 1 there; ask for a lower power."
            )
    return float(
        optimize.brentq(
            lambda s: 1.0 - _pass_probability(coef, s, alpha) - power, 0.0, hi,
            xtol=SLOPE_RTOL * hi, rtol=SLOPE_RTOL,
        )
    )  # fmt: skip
