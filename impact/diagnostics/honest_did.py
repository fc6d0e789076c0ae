"""``impact.honest_did``: how large a violation of parallel trends would overturn an event
study's conclusion (Rambachan & Roth 2023), on any event-study result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.diagnostics.event_coefficients import EventCoefficients, event_coefficients
from impact.diagnostics.honest_arp import arp_set, union_test
from impact.diagnostics.honest_constraints import (
    BIAS_DIRECTIONS,
    MONOTONE_DIRECTIONS,
    Polyhedron,
    relative_magnitude_polyhedra,
    smoothness_polyhedron,
)
from impact.diagnostics.honest_flci import flci_smoothness
from impact.errors import InvalidOptionError
from impact.inference.intervals import interval
from impact.options import check_alpha, check_choice, real_number
from impact.results.honest_did import HonestDiDResult

__all__ = ["honest_did"]

#: Default relative resolution of the breakdown value (a share of its own size).
BREAKDOWN_RESOLUTION = 0.01
#: Most grid points of an ARP set's first grid (memory: rays x points floats).
MAX_GRID_POINTS = 100_000
#: The breakdown search doubles the bound from its start (Mbar 1; M one coefficient s.e.)
#: at most this many times; beyond, "no bound up to the cap overturns it" (inf). Far
#: larger bounds only test numerical round-off.
BREAKDOWN_DOUBLINGS = 10
#: Default number of bounds M in the sensitivity table (0 .. twice the breakdown value).
DEFAULT_POINTS = 8


def _contiguous(coef: EventCoefficients) -> tuple[int, int]:
    pos = coef.rel_time - coef.reference
    n_pre, n_post = int((pos < 0).sum()), int((pos > 0).sum())
    expected = [*range(-n_pre, 0), *range(1, n_post + 1)]
    if pos.tolist() != expected:
        raise InvalidOptionError(
            f"{coef.source}: the restrictions need every event time from the first "
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
    method: str = "smoothness",
    M: float | Sequence[float] | None = None,
    Mbar: float | Sequence[float] | None = None,
    bias: str | None = None,
    monotonicity: str | None = None,
    l_vec: Sequence[float] | None = None,
    alpha: float = 0.05,
    reference: int | None = None,
    breakdown_resolution: float | None = None,
    test: str = "hybrid",
    seed: int = 0,
    grid_points: int = 1000,
) -> HonestDiDResult:
    """Confidence intervals for an event study's post-period effect that stay valid when
    parallel trends fails in a bounded way, with the breakdown value of the bound at
    which the effect stops being significant (Rambachan & Roth 2023).

    Parameters
    ----------
    result
        :func:`impact.event_study` (any estimator but imputation, whose pre- and
        post-period coefficients have no joint covariance: use did2s), an
        ``att_gt(..., base_period="universal").aggregate("dynamic")``, or a feols fit with
        ``i(rel_time, ref=...)`` dummies. Event times must be contiguous around the
        reference.
    method : {"smoothness", "relative_magnitude"}
        ``"smoothness"`` (``Delta^SD(M)``): the violation's slope changes by at most ``M``
        per period (``M = 0``: a linear pre-trend continues). ``"relative_magnitude"``
        (``Delta^RM(Mbar)``): no post-period change of the violation exceeds ``Mbar``
        times the largest pre-period change.
    M, Mbar : float or sequence of float, optional
        Bounds to report (>= 0), ``M`` for smoothness, ``Mbar`` for relative magnitudes.
        Default: 8 values from 0 to twice the breakdown value.
    bias : {"positive", "negative"}, optional
        Also restrict the sign of the post-period violation.
    monotonicity : {"increasing", "decreasing"}, optional
        Also restrict the violation to move in one direction.
    l_vec : sequence of float, optional
        Weights of the post-period effects (one per post-period): the target is
        ``l' tau_post``. Default: the first post-period; ``[1/n] * n`` is their average.
    alpha : float
        1 - confidence level.
    reference : int, optional
        The reference event time of a feols fit (inferred from its dummies otherwise).
    breakdown_resolution : float, optional
        Absolute resolution of the breakdown value (default 1% of it).
    test : {"hybrid", "conditional"}
        For the ARP sets (relative magnitudes, or any restriction with ``bias`` or
        ``monotonicity``): the conditional-least-favourable hybrid (first-stage size
        ``alpha / 10``, the R package's default "C-LF") or the purely conditional test.
    seed : int
        Seed of the hybrid's least-favourable critical value (1,000 draws).
    grid_points : int
        Points of the grid on which an ARP set is first located (its ends are then
        refined by bisection).

    Returns
    -------
    HonestDiDResult

    Notes
    -----
    Smoothness alone gives the optimal fixed-length confidence intervals (FLCI, Section
    4.1 of the paper); every other restriction inverts the conditional or hybrid test of
    Andrews, Roth & Pakes (Section 5), whose sets can have gaps: the table gives their
    hull. Both match the authors' R package and moderndid's port
    (tests/reference/test_honest_did.py, test_honest_arp.py).

    References
    ----------
    Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. Review
    of Economic Studies, 90(5), 2555-2591.
    Andrews, I., Roth, J., & Pakes, A. (2023). Inference for linear conditional moment
    inequalities. Review of Economic Studies, 90(6), 2763-2791.

    Examples
    --------
    The HonestDiD README's Medicaid example (moderndid's ``ehec`` data, states expanding in 2014
    against never-expanders, years before 2016): smoothness FLCIs for the 2014 effect of (0.0259,
    0.0607) at M = 0, (0.0132, 0.0787) at M = 0.01 and (0.00286, 0.0907) at M = 0.02.

    >>> import impact
    >>> from moderndid import load_ehec
    >>> df = load_ehec().to_pandas()
    >>> df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))]
    >>> df = df.assign(D=(df["yexp2"] == 2014).astype(float))
    >>> es = impact.feols("dins ~ i(year, D, ref=2013) | stfips + year", df,
    ...                   vcov={"cluster": "stfips"})
    >>> res = impact.honest_did(es, M=[0, 0.01, 0.02])
    >>> res.table.dropna(subset=["M"])[["M", "lower", "upper"]].round(3)
          M  lower  upper
    1  0.00  0.026  0.061
    2  0.01  0.013  0.079
    3  0.02  0.003  0.091
    >>> bool(0.02 < res.breakdown < 0.03)
    True
    """
    opts = _options(method, M, Mbar, bias, monotonicity, alpha, breakdown_resolution, test,
                    seed, grid_points)  # fmt: skip
    coef = event_coefficients(result, reference)
    n_pre, n_post = _contiguous(coef)
    l_post, scale = _weights(l_vec, n_post, coef)
    try:
        np.linalg.cholesky(coef.vcov)
    except np.linalg.LinAlgError as exc:
        raise InvalidOptionError(
            f"{coef.source}: the covariance of the event-time coefficients is singular."
        ) from exc
    rays: dict = {}  # the ARP dual cones' rays, shared by every bound of this call
    bound_of = _interval_function(opts, coef, n_pre, l_post, rays)
    breakdown, resolution, reading = _breakdown(bound_of, opts, coef, n_pre, l_post, rays)
    grid = opts.bounds if opts.bounds is not None else _default_bounds(breakdown)
    est = float(l_post @ coef.estimate[coef.post])
    se = float(np.sqrt(l_post @ coef.vcov[np.ix_(coef.post, coef.post)] @ l_post))
    lo, hi = interval(est, se, alpha)
    rows = [{opts.name: np.nan, "lower": float(lo), "upper": float(hi), "estimate": est,
             "half_length": float(hi - est), "worst_bias": 0.0, "gaps": False}]  # fmt: skip
    rows += [{opts.name: m, **bound_of(m)} for m in grid]
    table = pd.DataFrame(rows)
    # the intervals were computed for l / scale (max |l| = 1): scale them back
    for col in ("lower", "upper", "estimate", "half_length", "worst_bias"):
        table[col] = table[col] * scale
    post = coef.rel_time[coef.post].tolist()
    target = (
        f"effect at event time {post[0]}"
        if l_vec is None
        else "l' tau_post with l = "
        + ", ".join(f"{w:g}@{k}" for w, k in zip(l_post * scale, post, strict=True))
    )
    return HonestDiDResult(
        restriction=opts.restriction, table=table, breakdown=breakdown,
        breakdown_resolution=resolution, target=target, alpha=alpha, source=coef.source,
        nobs=len(coef.rel_time), bound=opts.name, interval_method=opts.interval_method,
        breakdown_reading=reading,
    )  # fmt: skip


@dataclass(frozen=True)
class _Options:
    method: str
    name: str  # "M" or "Mbar"
    bounds: list[float] | None
    bias: str | None
    monotonicity: str | None
    alpha: float
    resolution: float | None
    kappa: float
    seed: int
    grid_points: int

    @property
    def arp(self) -> bool:
        return self.method == "relative_magnitude" or bool(self.bias or self.monotonicity)

    @property
    def restriction(self) -> str:
        base = "smoothness" if self.method == "smoothness" else "relative magnitudes"
        extra = [f"{self.bias} bias" if self.bias else "", self.monotonicity or ""]
        return " + ".join([base, *[e for e in extra if e]])

    @property
    def interval_method(self) -> str:
        if not self.arp:
            return "FLCI"
        return "ARP hybrid (C-LF)" if self.kappa > 0 else "ARP conditional"


def _options(method, M, Mbar, bias, monotonicity, alpha, resolution, test, seed,
             grid_points) -> _Options:  # fmt: skip
    check_choice("method", method, ("smoothness", "relative_magnitude"))
    check_choice("bias", bias, (None, *BIAS_DIRECTIONS))
    check_choice("monotonicity", monotonicity, (None, *MONOTONE_DIRECTIONS))
    check_choice("test", test, ("hybrid", "conditional"))
    alpha = check_alpha(alpha)
    if resolution is not None:
        resolution = real_number("breakdown_resolution", resolution)
        if resolution <= 0:
            raise InvalidOptionError(f"breakdown_resolution must be > 0, got {resolution!r}.")
    name, given, other = ("M", M, Mbar) if method == "smoothness" else ("Mbar", Mbar, M)
    if other is not None:
        wrong = "Mbar" if name == "M" else "M"
        raise InvalidOptionError(
            f"{wrong} does not apply to method={method!r}: pass {name}= "
            f"({'relative_magnitude' if wrong == 'Mbar' else 'smoothness'} takes {wrong})."
        )
    for label, value, low, high in (
        ("seed", seed, 0, 2**63 - 1), ("grid_points", grid_points, 10, MAX_GRID_POINTS)
    ):  # fmt: skip
        if (
            isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or not low <= value <= high
        ):  # fmt: skip
            raise InvalidOptionError(
                f"{label} must be an integer in [{low}, {high}], got {value!r}."
            )
    return _Options(
        method=method, name=name, bounds=None if given is None else _bounds_given(given, name),
        bias=bias, monotonicity=monotonicity, alpha=alpha, resolution=resolution,
        kappa=alpha / 10 if test == "hybrid" else 0.0, seed=int(seed),
        grid_points=int(grid_points),
    )  # fmt: skip


def _polyhedra(opts: _Options, n_pre: int, n_post: int, m: float) -> list[Polyhedron]:
    if opts.method == "smoothness":
        return [smoothness_polyhedron(n_pre, n_post, m, opts.bias, opts.monotonicity)]
    return relative_magnitude_polyhedra(n_pre, n_post, m, opts.bias, opts.monotonicity)


def _extent(opts: _Options, coef: EventCoefficients, n_pre: int, l_post: FloatArray, m: float):
    """How far the restriction can move the target (widens the first grid)."""
    steps = np.arange(1, len(l_post) + 1)
    pre_change = float(np.max(np.abs(np.diff(np.append(coef.estimate[:n_pre], 0.0)))))
    if opts.method == "smoothness":  # the pre-trend extrapolated, then the curvature
        return float(np.abs(l_post) @ steps * pre_change + m * (np.abs(l_post) @ steps**2))
    return float(m * (np.abs(l_post) @ steps) * pre_change)


def _interval_function(opts: _Options, coef: EventCoefficients, n_pre: int, l_post, rays: dict):
    """``m -> {lower, upper, estimate, half_length, worst_bias, gaps}`` for the bound m."""
    n_post = len(l_post)
    beta, sigma = coef.estimate, coef.vcov

    def flci(m: float) -> dict:
        f = flci_smoothness(beta, sigma, n_pre, n_post, m, l_post, opts.alpha)
        return {
            "lower": f.lower, "upper": f.upper, "estimate": f.estimate,
            "half_length": f.half_length, "worst_bias": f.worst_bias, "gaps": False,
        }  # fmt: skip

    def arp(m: float) -> dict:
        s = arp_set(
            _polyhedra(opts, n_pre, n_post, m), beta, sigma, n_pre, l_post, alpha=opts.alpha,
            kappa=opts.kappa, seed=opts.seed, grid_points=opts.grid_points,
            extent=_extent(opts, coef, n_pre, l_post, m), rays=rays,
        )  # fmt: skip
        return {"lower": s.lower, "upper": s.upper, "estimate": float(l_post @ beta[coef.post]),
                "half_length": np.nan, "worst_bias": np.nan, "gaps": s.gaps}  # fmt: skip

    return arp if opts.arp else flci


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


def _bounds_given(M: object, name: str) -> list[float]:
    values = np.atleast_1d(np.asarray(M, dtype=object))
    numeric = (
        values.ndim == 1
        and values.size
        and all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in values)
    )
    if not numeric:
        raise InvalidOptionError(f"{name} must be numbers >= 0, got {M!r}.")
    values = values.astype(float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InvalidOptionError(f"{name} must be finite numbers >= 0, got {M!r}.")
    return sorted({float(m) for m in values})


def _default_bounds(breakdown: float) -> list[float]:
    top = 2 * breakdown if np.isfinite(breakdown) and breakdown > 0 else 0.0
    return [float(m) for m in np.linspace(0.0, top, DEFAULT_POINTS)] if top else [0.0]


def _breakdown(bound_of, opts: _Options, coef: EventCoefficients, n_pre: int, l_post, rays: dict):
    """Largest bound whose set excludes 0 (sets widen with the bound), by bisection; for
    the ARP sets only ``theta = 0`` is tested at each bound."""
    if opts.arp:
        n_post = len(l_post)

        def excludes_zero(m: float) -> bool:
            accepts = union_test(
                _polyhedra(opts, n_pre, n_post, m), coef.estimate, coef.vcov, n_pre, l_post,
                alpha=opts.alpha, kappa=opts.kappa, seed=opts.seed, rays=rays,
            )  # fmt: skip
            return not bool(accepts(np.zeros(1))[0])

        scale = 1.0 if opts.method == "relative_magnitude" else _coef_scale(coef)
    else:

        def excludes_zero(m: float) -> bool:
            f = bound_of(m)
            return f["lower"] > 0 or f["upper"] < 0

        scale = _coef_scale(coef)
    b = opts.name
    if not excludes_zero(0.0):
        return float("nan"), float("nan"), f"none: the interval includes 0 already at {b} = 0"
    if opts.arp and np.isnan(bound_of(0.0)["lower"]):  # empty: the restriction is rejected
        return (float("nan"), float("nan"),
                f"none: the set is empty at {b} = 0 (the data reject the restriction)")  # fmt: skip
    hi = scale
    while excludes_zero(hi):
        if hi >= scale * 2.0**BREAKDOWN_DOUBLINGS:  # never overturned up to the cap
            return float("inf"), hi, f"none: no {b} up to {hi:.4g} overturns it"
        hi *= 2.0
    lo = hi / 2.0 if hi > scale else 0.0
    tol = opts.resolution
    while True:
        step = tol if tol is not None else BREAKDOWN_RESOLUTION * max(lo, hi / 2)
        mid = 0.5 * (lo + hi)
        if hi - lo <= step or mid in (lo, hi):  # resolution reached, or float spacing
            res = max(step, hi - lo)
            return lo, res, f"{lo:.4g} (resolution {res:.2g})"
        if excludes_zero(mid):
            lo = mid
        else:
            hi = mid


def _coef_scale(coef: EventCoefficients) -> float:
    return float(np.sqrt(np.max(np.diag(coef.vcov)))) or 1.0
