"""Confidence sets for ``l' tau_post`` under a union of polyhedral restrictions on the
violation of parallel trends (relative magnitudes; smoothness or relative magnitudes with
sign or monotonicity restrictions), by inverting the ARP hybrid or conditional test over
a grid of ``theta`` and refining each end by bisection (Rambachan & Roth 2023, Section 5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray
from impact.diagnostics.arp_inference import arp_accepts, arp_problem
from impact.diagnostics.honest_constraints import Polyhedron

__all__ = ["ArpSet", "arp_set", "union_test"]

#: Half-width of the first grid in standard errors of l' beta_post, before the extent
#: the restriction allows; widened four-fold (at most :data:`_WIDEN` times) while the set
#: reaches an end of the grid or no point of it is accepted.
GRID_SDS = 20.0
_WIDEN = 30
#: Points of the closer look at the first grid's range when none of its points is
#: accepted (a precise target with noisy event-time coefficients gives a set narrower
#: than the first grid's step); only then is the set declared empty or searched wider.
DENSE_POINTS = 200_001
#: Bisection steps refining each end (the grid step / 2^40: below round-off).
_REFINE = 40


@dataclass(frozen=True)
class ArpSet:
    """The confidence set's hull ``[lower, upper]`` (NaN when empty: the data reject the
    restriction itself; infinite when unbounded) and whether it has gaps."""

    lower: float
    upper: float
    gaps: bool


def union_test(
    polys: Sequence[Polyhedron],
    beta: FloatArray,
    sigma: FloatArray,
    n_pre: int,
    l_post: FloatArray,
    *,
    alpha: float,
    kappa: float,
    seed: int,
    rays: dict | None = None,
) -> Callable[[FloatArray], FloatArray]:
    """``theta -> accepted`` under the union (accepted by any polyhedron's test); every
    polyhedron's least-favourable draws start from the same seed. ``rays``: a cache of the
    dual cones' rays, shared across calls with the same event study."""
    problems = [
        arp_problem(p, beta, sigma, n_pre, l_post, kappa, np.random.default_rng(seed), rays)
        for p in polys
    ]

    def accepts(theta: FloatArray) -> FloatArray:
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        out = np.zeros(len(theta), dtype=bool)
        for problem in problems:
            out |= arp_accepts(problem, theta, alpha, kappa)
        return out

    return accepts


def _refine(accepts, inside: float, outside: float) -> float:
    for _ in range(_REFINE):
        mid = 0.5 * (inside + outside)
        if accepts(mid)[0]:
            inside = mid
        else:
            outside = mid
    return inside


def arp_set(
    polys: Sequence[Polyhedron],
    beta: FloatArray,
    sigma: FloatArray,
    n_pre: int,
    l_post: FloatArray,
    *,
    alpha: float,
    kappa: float,
    seed: int,
    grid_points: int,
    extent: float = 0.0,
    rays: dict | None = None,
) -> ArpSet:
    """The ``1 - alpha`` confidence set for ``l' tau_post``.

    Parameters
    ----------
    polys
        The restriction as a union of polyhedra on the coefficients without the reference.
    beta, sigma
        Event-time coefficients (pre, then post) and their covariance.
    n_pre : int
    l_post : ndarray
    alpha, kappa : float
        Level, and the hybrid's first-stage size (0: the conditional test).
    seed : int
        Seed of the least-favourable critical value's draws.
    grid_points : int
        Points of the grid the set is first located on.
    extent : float
        How far the restriction lets the bias move the centre (widens the first grid).
    rays : dict, optional
        Cache of the dual cones' rays (see :func:`union_test`).
    """
    accepts = union_test(
        polys, beta, sigma, n_pre, l_post, alpha=alpha, kappa=kappa, seed=seed, rays=rays
    )
    n_post = len(l_post)
    post = slice(n_pre, n_pre + n_post)
    centre = float(l_post @ beta[post])
    half = GRID_SDS * float(np.sqrt(l_post @ sigma[post, post] @ l_post)) + extent
    for widened in range(_WIDEN + 1):
        grid = np.linspace(centre - half, centre + half, grid_points)
        ok = accepts(grid)
        if not ok.any() and not widened:  # a set narrower than a step: look closer
            dense = np.linspace(centre - half, centre + half, DENSE_POINTS)
            ok_dense = accepts(dense)
            if ok_dense.any():
                grid, ok = dense, ok_dense
        if ok.any() and not (ok[0] or ok[-1]):
            break
        half *= 4.0
    if not ok.any():
        return ArpSet(lower=float("nan"), upper=float("nan"), gaps=False)
    idx = np.flatnonzero(ok)
    first, last = int(idx[0]), int(idx[-1])
    lower = -np.inf if first == 0 else _refine(accepts, grid[first], grid[first - 1])
    upper = np.inf if last == len(grid) - 1 else _refine(accepts, grid[last], grid[last + 1])
    gaps = bool(len(idx) != last - first + 1)
    return ArpSet(lower=float(lower), upper=float(upper), gaps=gaps)
