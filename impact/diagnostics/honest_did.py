"""``impact.honest_did``: how large a violation of parallel trends would overturn an event
study's conclusion (Rambachan & Roth 2023), on any event-study result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.diagnostics.event_coefficients import (
    EventCoefficients,
    event_coefficients,
    real_number,
)
from impact.diagnostics.honest_flci import flci_smoothness
from impact.errors import InvalidOptionError
from impact.inference.intervals import interval
from impact.results.honest_did import HonestDiDResult

__all__ = ["honest_did"]

#: Default relative resolution of the breakdown value (a share of its own size).
BREAKDOWN_RESOLUTION = 0.01
#: Default number of bounds M in the sensitivity table (0 .. twice the breakdown value).
DEFAULT_POINTS = 8


def _contiguous(coef: EventCoefficients) -> tuple[int, int]:
    pos = coef.rel_time - coef.reference
    n_pre, n_post = int((pos < 0).sum()), int((pos > 0).sum())
    expected = [*range(-n_pre, 0), *range(1, n_post + 1)]
    if pos.tolist() != expected:
        raise InvalidOptionError(
            f"{coef.source}: the smoothness restriction needs every event time from the first "
            f"to the last, around the reference {coef.reference} (got {coef.rel_time.tolist()})."
        )
    if n_pre == 0:
        raise InvalidOptionError(
            f"{coef.source} has no pre-period coefficient: nothing bounds the violation."
        )
    if n_post == 0:
        raise InvalidOptionError(f"{coef.source} has no post-period coefficient to bound.")
    return n_pre, n_post


def honest_did(
    result: Any,
    *,
    M: float | Sequence[float] | None = None,
    l_vec: Sequence[float] | None = None,
    alpha: float = 0.05,
    reference: int | None = None,
    breakdown_resolution: float | None = None,
) -> HonestDiDResult:
    """Confidence intervals for an event study's post-period effect that stay valid when
    parallel trends fails smoothly: the violation's slope changes by at most ``M`` per
    period (``Delta^SD(M)``; ``M = 0``: a linear pre-trend continues), with the
    breakdown value of ``M`` at which the effect stops being significant.

    Parameters
    ----------
    result
        :func:`impact.event_study` (any estimator but imputation, whose pre- and
        post-period coefficients have no joint covariance: use did2s), an
        ``att_gt(..., base_period="universal").aggregate("dynamic")``, or a feols fit with
        ``i(rel_time, ref=...)`` dummies. Event times must be contiguous around the
        reference.
    M : float or sequence of float, optional
        Bounds to report (>= 0). Default: 8 values from 0 to twice the breakdown value.
    l_vec : sequence of float, optional
        Weights of the post-period effects (one per post-period): the target is
        ``l' tau_post``. Default: the first post-period; ``[1/n] * n`` is their average.
    alpha : float
        1 - confidence level.
    reference : int, optional
        The reference event time of a feols fit (inferred from its dummies otherwise).
    breakdown_resolution : float, optional
        Absolute resolution of the breakdown value (default 1% of it).

    Returns
    -------
    HonestDiDResult

    Notes
    -----
    Intervals are the optimal fixed-length confidence intervals (FLCI) of Rambachan & Roth
    (2023, Section 4.1), which they recommend for smoothness restrictions; they match the
    authors' R package and moderndid's port (tests/reference/test_honest_did.py).

    References
    ----------
    Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. Review
    of Economic Studies, 90(5), 2555-2591.
    """
    alpha = real_number("alpha", alpha)
    if not 0 < alpha < 1:
        raise InvalidOptionError(f"alpha must be in (0, 1), got {alpha!r}.")
    if breakdown_resolution is not None:
        breakdown_resolution = real_number("breakdown_resolution", breakdown_resolution)
        if breakdown_resolution <= 0:
            raise InvalidOptionError(
                f"breakdown_resolution must be > 0, got {breakdown_resolution!r}."
            )
    coef = event_coefficients(result, reference)
    n_pre, n_post = _contiguous(coef)
    l_post, scale = _weights(l_vec, n_post, coef)
    grid_in = None if M is None else _bounds_given(M)
    try:
        np.linalg.cholesky(coef.vcov)
    except np.linalg.LinAlgError as exc:
        raise InvalidOptionError(
            f"{coef.source}: the covariance of the event-time coefficients is singular."
        ) from exc

    def flci(m: float):
        return flci_smoothness(coef.estimate, coef.vcov, n_pre, n_post, m, l_post, alpha)

    breakdown, resolution = _breakdown(flci, coef, breakdown_resolution)
    grid = grid_in if grid_in is not None else _default_bounds(breakdown)
    est = float(l_post @ coef.estimate[coef.post])
    se = float(np.sqrt(l_post @ coef.vcov[np.ix_(coef.post, coef.post)] @ l_post))
    lo, hi = interval(est, se, alpha)
    rows = [{"M": np.nan, "lower": float(lo), "upper": float(hi), "estimate": est,
             "half_length": float(hi - est), "worst_bias": 0.0}]  # fmt: skip
    for m in grid:
        f = flci(m)
        rows.append({"M": m, "lower": f.lower, "upper": f.upper, "estimate": f.estimate,
                     "half_length": f.half_length, "worst_bias": f.worst_bias})  # fmt: skip
    table = pd.DataFrame(rows)
    # the intervals were computed for l / scale (max |l| = 1): scale them back
    for col in ("lower", "upper", "estimate", "half_length", "worst_bias"):
        table[col] = table[col] * scale
    post = coef.rel_time[coef.post].tolist()
    target = (
        f"effect at event time {post[0]}"
        if l_vec is None
        else "l' tau_post with l = "
        + ", ".join(f"{w:g}@{k}" for w, k in zip(l_post, post, strict=True))
    )
    return HonestDiDResult(
        restriction="smoothness", table=table, breakdown=breakdown,
        breakdown_resolution=resolution, target=target, alpha=alpha, source=coef.source,
        nobs=len(coef.rel_time),
    )  # fmt: skip


def _weights(l_vec: object, n_post: int, coef: EventCoefficients) -> tuple[FloatArray, float]:
    """The post-period weights scaled to max |l| = 1, and the scale (the intervals scale
    linearly in l, the breakdown value not at all)."""
    if l_vec is None:
        return np.eye(n_post)[0], 1.0
    try:
        l_post = np.asarray(l_vec, dtype=float)
    except (TypeError, ValueError):
        l_post = np.array([np.nan])
    if l_post.shape != (n_post,) or not np.all(np.isfinite(l_post)) or not l_post.any():
        raise InvalidOptionError(
            f"l_vec must hold {n_post} finite numbers, not all zero (one per post-period "
            f"{coef.rel_time[coef.post].tolist()}), got {l_vec!r}."
        )
    scale = float(np.max(np.abs(l_post)))
    return l_post / scale, scale


def _bounds_given(M: object) -> list[float]:
    values = np.atleast_1d(M)
    if values.dtype.kind not in "iuf" or not values.size:
        raise InvalidOptionError(f"M must be numbers >= 0, got {M!r}.")
    values = values.astype(float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InvalidOptionError(f"M must be finite numbers >= 0, got {M!r}.")
    return sorted({float(m) for m in values})


def _default_bounds(breakdown: float) -> list[float]:
    top = 2 * breakdown if np.isfinite(breakdown) and breakdown > 0 else 0.0
    return [float(m) for m in np.linspace(0.0, top, DEFAULT_POINTS)] if top else [0.0]


def _breakdown(flci, coef: EventCoefficients, resolution: float | None) -> tuple[float, float]:
    """Largest M whose interval excludes 0 (intervals widen with M), by bisection."""

    def excludes_zero(m: float) -> bool:
        f = flci(m)
        return f.lower > 0 or f.upper < 0

    if not excludes_zero(0.0):
        return float("nan"), float("nan")
    scale = float(np.sqrt(np.max(np.diag(coef.vcov)))) or 1.0
    hi = scale
    while excludes_zero(hi):
        hi *= 2.0
    lo = hi / 2.0 if hi > scale else 0.0
    tol = resolution if resolution is not None else None
    while True:
        step = tol if tol is not None else BREAKDOWN_RESOLUTION * max(lo, hi / 2)
        if hi - lo <= step:
            return lo, step
        mid = 0.5 * (lo + hi)
        if excludes_zero(mid):
            lo = mid
        else:
            hi = mid
