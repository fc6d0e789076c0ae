"""Intervals from bootstrap tests: inverting a test whose p-value is a function of the null
value, or the quantile of the unrestricted bootstrap's ``|t*|``."""

from __future__ import annotations

import numpy as np

from impact.errors import ConvergenceError

__all__ = ["invert_test", "unrestricted_interval"]

#: The interval's ends are found to this share of the standard error.
CI_RESOLUTION = 1e-7
#: The search for an end doubles its step at most this often (2^20, about a million
#: standard errors out): beyond it the side is reported unbounded. Farther out the
#: per-draw sums lose the ties of exact arithmetic (rounding grows with the distance).
MAX_DOUBLINGS = 20
#: Bisection steps per end: 20 doublings plus resolution 1e-7 need fewer than 50.
MAX_BISECTIONS = 100


def unrestricted_interval(t_boot: np.ndarray, beta: float, se: float, alpha: float):
    """``beta +- q se`` with ``q`` the k-th largest ``|t*|``, ``k = ceil(alpha B)``: the
    values whose unrestricted p-value is at least alpha."""
    desc = np.sort(np.abs(t_boot))[::-1]
    q = float(desc[max(int(np.ceil(alpha * len(desc))) - 1, 0)])
    return beta - q * se, beta + q * se


def invert_test(p_at, beta: float, se: float, alpha: float) -> tuple[float, float]:
    """Invert the symmetric test: the values whose p-value is at least alpha. A side on
    which no value within ``2^MAX_DOUBLINGS`` standard errors is rejected is unbounded
    (under fully enumerated Rademacher signs the p-value never falls below ``2 / 2^G``:
    the all-ones and all-minus-ones vectors reproduce ``+-t`` at every null value), as is
    a side where the model cannot be fitted at a trial value (``p_at`` raises
    ConvergenceError): the interval errs wide, never narrow."""
    ends = []
    for sign in (-1.0, 1.0):
        inside, step = beta, se
        outside = beta + sign * step
        try:
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
        except ConvergenceError:
            ends.append(sign * np.inf)
            continue
        ends.append(inside)
    return float(ends[0]), float(ends[1])
