"""Conditional and hybrid tests of Andrews, Roth & Pakes (2023) for ``l' tau_post = theta``
when the parallel-trends violation lies in a polyhedron ``{delta : A delta <= d}``
(Rambachan & Roth 2023, Section 5), vectorised over a grid of ``theta``.

The test statistic is the linear programme
``eta(theta) = min_{eta, xi} eta  s.t.  Y(theta) - X xi <= eta * sd``; by duality it is the
largest ``gamma' Y(theta)`` over the vertices ``gamma`` of
``{gamma >= 0, X' gamma = 0, sd' gamma = 1}``, which do not depend on ``theta``. The
vertices are enumerated once, so the statistic, the maximising vertex, the truncation
bounds of the conditional test (the range of ``gamma~' Y`` over which ``gamma~`` stays
optimal, given the part of ``Y`` independent of it) and the least-favourable critical
value of the hybrid test are matrix products. Enumeration is exact and covers degenerate
programmes, at a cost that grows as ``C(rows, columns of X + 1)``: :data:`MAX_SUBSETS`
caps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
from scipy import linalg
from scipy.stats import truncnorm

from impact._typing import FloatArray
from impact.diagnostics.honest_constraints import Polyhedron
from impact.errors import InvalidOptionError
from impact.inference.bands import symmetric_root

__all__ = ["MAX_SUBSETS", "ArpProblem", "arp_accepts", "arp_problem"]

#: Largest number of candidate bases enumerated for the dual cone's rays: 10 post-periods
#: under relative magnitudes (C(20, 10) = 184,756, about 8 s once per call); 12 would take
#: minutes.
MAX_SUBSETS = 400_000
#: Bases are solved in batches of this many (memory: batch x size^2 floats).
_BATCH = 50_000
#: A basis is singular when its smallest singular value is below this share of its largest.
_SINGULAR = 1e-10
#: Dual weights above -_FEASIBLE are feasible (round-off of the basis solve).
_FEASIBLE = 1e-10
#: Draws of the least-favourable critical value (as the R package).
LF_DRAWS = 1000
#: |1 - c| below this: the vertex moves with gamma~ and bounds nothing.
_PARALLEL = 1e-10


@dataclass(frozen=True)
class ArpProblem:
    """The moments of one polyhedron, ready to test any ``theta``.

    ``Y(theta) = y0 - a * theta`` (moments on the rows used), ``V`` the dual vertices (one
    per row), ``VY0``/``Va`` their products, ``C = V Sigma_Y V'``, ``lf_cv`` the
    least-favourable critical value (``inf`` when the test is purely conditional).
    """

    VY0: FloatArray
    Va: FloatArray
    C: FloatArray
    lf_cv: float


def _post_rows(A: FloatArray, n_pre: int, n_post: int) -> FloatArray:
    """Rows that involve a post-period coefficient (all rows when there is one
    post-period), as the R package's ``postPeriodMomentsOnly``."""
    if n_post <= 1:
        return np.ones(len(A), dtype=bool)
    return np.any(np.abs(A[:, n_pre:]) > 0, axis=1)


def _reparametrise(l_post: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``tau = g * theta + N xi`` with ``l' g = 1`` and ``l' N = 0``."""
    g = l_post / float(l_post @ l_post)
    N = linalg.null_space(l_post[None, :])
    return g, N


def _independent_columns(X: FloatArray) -> FloatArray:
    if X.shape[1] == 0:
        return X
    _, R, piv = linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > _SINGULAR * max(diag.max(), 1.0)))
    return X[:, np.sort(piv[:rank])]


def dual_rays(X: FloatArray) -> FloatArray:
    """Extreme rays of the cone ``{gamma >= 0, X' gamma = 0}``, one per row, scaled to a
    largest entry of 1 (none: the cone is ``{0}``). Every ray has a support ``B`` of
    ``rank(X) + 1`` rows on which ``X_B'`` has a one-dimensional null space; the rays do not
    depend on the moments' scale, so one enumeration serves every bound and theta."""
    X = _independent_columns(X)
    m, k = X.shape
    p = k + 1
    if k == 0:
        return np.eye(m)
    n_sets = comb(m, p)
    if n_sets > MAX_SUBSETS:
        raise InvalidOptionError(
            f"the conditional test would enumerate {n_sets:,} bases (over {MAX_SUBSETS:,}): "
            "restrict the event window to fewer post-periods, or use the smoothness "
            "restriction without sign/monotonicity (its FLCI has no such limit)."
        )
    found = []
    subsets = combinations(range(m), p)
    while True:
        chunk = np.array([s for _, s in zip(range(_BATCH), subsets, strict=False)], dtype=int)
        if not len(chunk):
            break
        mats = np.transpose(X[chunk], (0, 2, 1))  # X_B': k x p
        _, sv, vh = np.linalg.svd(mats, full_matrices=True)
        z = vh[:, -1, :]  # the null direction
        ok = sv[:, -1] > _SINGULAR * sv[:, 0]  # rank k: one null direction
        z = z * np.where(z.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
        scale = np.abs(z).max(axis=1, keepdims=True)
        ok &= np.all(z >= -_FEASIBLE * scale, axis=1)
        if ok.any():
            R = np.zeros((int(ok.sum()), m))
            np.put_along_axis(R, chunk[ok], np.clip(z[ok] / scale[ok], 0.0, None), axis=1)
            found.append(R)
    if not found:
        return np.zeros((0, m))
    rays = np.vstack(found)
    _, keep = np.unique(np.round(rays, 9), axis=0, return_index=True)
    return rays[np.sort(keep)]


def dual_vertices(rays: FloatArray, sd: FloatArray) -> FloatArray:
    """Vertices of ``{gamma >= 0, X' gamma = 0, sd' gamma = 1}`` from the cone's rays."""
    norm = rays @ sd
    ok = norm > _SINGULAR * max(float(np.abs(sd).max()), 1e-300)
    return rays[ok] / norm[ok, None]


def _least_favourable_cv(
    V: FloatArray, sigma_y: FloatArray, kappa: float, rng: np.random.Generator
) -> float:
    """``1 - kappa`` quantile of ``max_gamma gamma' xi`` for ``xi ~ N(0, Sigma_Y)``: the
    statistic's critical value at the least favourable null (mean 0)."""
    root = symmetric_root(sigma_y)
    xi = rng.standard_normal((LF_DRAWS, len(root))) @ root
    return float(np.quantile((xi @ V.T).max(axis=1), 1.0 - kappa))


def arp_problem(
    poly: Polyhedron,
    beta: FloatArray,
    sigma: FloatArray,
    n_pre: int,
    l_post: FloatArray,
    kappa: float,
    rng: np.random.Generator,
    rays: dict | None = None,
) -> ArpProblem | None:
    """Set up the test of one polyhedron (None: no vertex, every ``theta`` accepted).
    ``rays`` caches the cone's rays by the moments' design (shared by every bound)."""
    n_post = len(l_post)
    rows = _post_rows(poly.A, n_pre, n_post)
    A, d = poly.A[rows], poly.d[rows]
    y0 = A @ beta - d
    sigma_y = A @ sigma @ A.T
    sd = np.sqrt(np.clip(np.diag(sigma_y), 0.0, None))
    if np.any(sd <= 1e-12 * max(sd.max(), 1e-300)):
        raise InvalidOptionError(
            "a restriction's moment has zero variance: the covariance of the event-time "
            "coefficients is singular in the directions the restriction uses."
        )
    g, N = _reparametrise(l_post)
    A_post = A[:, n_pre:]
    a, X = A_post @ g, A_post @ N
    key = (X.shape, np.round(X, 12).tobytes())
    cache = rays if rays is not None else {}
    if key not in cache:
        cache[key] = dual_rays(X)
    V = dual_vertices(cache[key], sd)
    if not len(V):
        return None
    lf = _least_favourable_cv(V, sigma_y, kappa, rng) if kappa > 0 else float("inf")
    return ArpProblem(VY0=V @ y0, Va=V @ a, C=V @ sigma_y @ V.T, lf_cv=lf)


def arp_accepts(problem: ArpProblem | None, theta: FloatArray, alpha: float, kappa: float):
    """Whether each ``theta`` is accepted at level ``alpha`` (hybrid with first-stage size
    ``kappa``; ``kappa = 0``: the purely conditional test)."""
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    if problem is None:
        return np.ones(len(theta), dtype=bool)
    values = problem.VY0[:, None] - problem.Va[:, None] * theta[None, :]
    j = np.argmax(values, axis=0)
    cols = np.arange(len(theta))
    eta = values[j, cols]
    s2 = problem.C[j, j]
    c = problem.C[:, j] / s2[None, :]
    num = values - c * eta[None, :]  # gamma' S
    den = 1.0 - c
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    vlo = np.where(den > _PARALLEL, ratio, -np.inf).max(axis=0)
    vup = np.where(den < -_PARALLEL, ratio, np.inf).min(axis=0)
    size = (alpha - kappa) / (1.0 - kappa)
    vup = np.minimum(vup, problem.lf_cv)
    sb = np.sqrt(np.clip(s2, 0.0, None))
    reject = np.zeros(len(theta), dtype=bool)
    first_stage = eta > problem.lf_cv
    degenerate = sb <= 1e-12
    reject |= first_stage | (degenerate & (eta > 0))
    rest = ~first_stage & ~degenerate
    if rest.any():
        z, lo, hi = eta[rest] / sb[rest], vlo[rest] / sb[rest], vup[rest] / sb[rest]
        inside = (lo <= z) & (z <= hi) & (lo < hi)
        cval = np.full(len(z), np.inf)
        if inside.any():
            cval[inside] = np.maximum(0.0, _truncated_quantile(1.0 - size, lo[inside], hi[inside]))
        reject[np.flatnonzero(rest)] = inside & (z > cval)
    return ~reject


def _truncated_quantile(p: float, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Quantile ``p`` of a standard normal truncated to ``[lo, hi]``."""
    out = truncnorm.ppf(p, lo, hi)
    bad = ~np.isfinite(out)
    if bad.any():  # far tails: above lo the density decays about as exp(-lo * x)
        l_b, h_b = lo[bad], hi[bad]
        tail = l_b - np.log1p(-p) / np.maximum(l_b, 1.0)
        out[bad] = np.minimum(tail, h_b)
    return out
