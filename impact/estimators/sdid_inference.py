"""Cohort-wise synthetic DiD fits and their placebo, bootstrap and jackknife standard
errors (Arkhangelsky et al. 2021, Algorithms 2-4), with staggered adoption handled
cohort by cohort and aggregated by treated unit-periods (the paper's appendix).

Every replication re-estimates with the full sample's penalties and starts from its
weights (placebo, bootstrap) or keeps them fixed (jackknife), as the R package does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray
from impact.errors import ImpactWarning
from impact.estimators.sdid_weights import (
    SdidOptions,
    block_estimate,
    fit_weights,
    fixed,
    sdid_options,
)

__all__ = [
    "CohortFit",
    "aggregate",
    "bootstrap_se",
    "fit_cohorts",
    "jackknife_se",
    "placebo_se",
    "project_covariates",
]


@dataclass(frozen=True)
class CohortFit:
    """One adoption cohort against the never-treated donors."""

    column: int  # first treated period (column of Y): T0 of the block
    tau: float
    omega: FloatArray  # (n_control,)
    lam: FloatArray  # (column,)
    n_treated: int
    n_post: int
    opts: SdidOptions


def project_covariates(
    Y: FloatArray, X: FloatArray | None, donors: np.ndarray
) -> tuple[FloatArray, FloatArray]:
    """``Y - X beta`` with ``beta`` from the two-way fixed-effects regression of the donors'
    outcomes on their covariates (the "projected" adjustment of Kranz 2022 and Stata's
    ``sdid``): time-varying covariates are removed before the weights are found.

    ``Y`` is (N, T), ``X`` (N, T, K) or None, ``donors`` a boolean or index array of the
    rows ``beta`` is estimated on (a balanced block, so two-way demeaning is exact).
    """
    if X is None or X.shape[2] == 0:
        return Y, np.zeros(0)
    Yd, Xd = Y[donors], X[donors]

    def within(a):
        return (
            a
            - a.mean(axis=0, keepdims=True)
            - a.mean(axis=1, keepdims=True)
            + a.mean(axis=(0, 1), keepdims=True)
        )

    xt = np.ascontiguousarray(within(Xd).reshape(-1, X.shape[2]))
    # normal equations with a pseudo-inverse: collinear covariates (e.g. a full set of
    # group-by-period indicators next to the period effects) get the minimum-norm beta,
    # whose fitted values are unique
    beta = np.linalg.pinv(xt.T @ xt) @ (xt.T @ within(Yd).ravel())
    return Y - X @ beta, beta


def _normalise(x: FloatArray) -> FloatArray:
    s = x.sum()
    return x / s if s != 0 else np.full(len(x), 1.0 / len(x))


def fit_cohort(
    controls: FloatArray,
    treated: FloatArray,
    column: int,
    method: str,
    opts: SdidOptions | None = None,
    omega0: FloatArray | None = None,
    lambda0: FloatArray | None = None,
    n_post: int | None = None,
) -> CohortFit:
    """Weights and estimate of one block (donor rows, then the cohort's rows), on the
    first ``n_post`` periods from ``column`` on (all when None)."""
    Y = np.vstack([controls, treated])
    if n_post is not None:
        Y = Y[:, : column + n_post]
    N0 = len(controls)
    opts = sdid_options(Y, N0, column, method) if opts is None else opts
    omega, lam = fit_weights(Y, N0, column, opts, omega0, lambda0)
    tau = block_estimate(Y, N0, column, omega, lam)
    return CohortFit(column, tau, omega, lam, len(treated), Y.shape[1] - column, opts)


def fit_cohorts(
    Y: FloatArray, adoption: np.ndarray, n_control: int, method: str,
    X: FloatArray | None = None, window: int | None = None,
) -> list[CohortFit]:  # fmt: skip
    """Every cohort of the layout of :class:`impact.design.blocks.AdoptionBlocks`
    (outcomes adjusted for covariates ``X`` first, see :func:`project_covariates`);
    ``window``: each cohort's post-periods end ``window`` periods after its adoption."""
    Y = project_covariates(Y, X, np.arange(n_control))[0]
    controls = Y[:n_control]
    T = Y.shape[1]
    cols = [int(a) for a in np.unique(adoption[adoption >= 0])]
    posts = [None if window is None else min(T - a, window + 1) for a in cols]
    return [
        fit_cohort(controls, Y[adoption == a], a, method, n_post=k)
        for a, k in zip(cols, posts, strict=True)
    ]


def aggregate(taus: Sequence[float], n_treated: Sequence[int], n_post: Sequence[int]) -> float:
    """Cohort estimates weighted by their treated unit-periods."""
    w = np.asarray(n_treated, dtype=float) * np.asarray(n_post, dtype=float)
    return float(np.dot(w, taus) / w.sum())


def _population_sd(draws: FloatArray) -> float:
    """``sqrt((B - 1) / B) sd(draws)``: the R package's replication standard error."""
    return float(np.sqrt(np.mean((draws - draws.mean()) ** 2)))


def placebo_se(
    Y: FloatArray, n_control: int, fits: list[CohortFit], replications: int,
    rng: np.random.Generator, X: FloatArray | None = None,
) -> tuple[float, FloatArray]:  # fmt: skip
    """Algorithm 4: never-treated units made treated at random, as many per cohort as the
    cohort has; the spread of the placebo estimates (covariates re-projected on each
    replication's donors)."""
    raw = Y[:n_control]
    Xc = None if X is None else X[:n_control]
    sizes = [f.n_treated for f in fits]
    n1 = sum(sizes)
    draws = np.empty(replications)
    for r in range(replications):
        perm = rng.permutation(n_control)
        donors, pseudo = perm[: n_control - n1], perm[n_control - n1 :]
        controls = project_covariates(raw, Xc, donors)[0]
        taus, start = [], 0
        for f, k in zip(fits, sizes, strict=True):
            rows = pseudo[start : start + k]
            start += k
            g = fit_cohort(controls[donors], controls[rows], f.column, f.opts.method, f.opts,
                           _normalise(f.omega[donors]), f.lam, f.n_post)  # fmt: skip
            taus.append(g.tau)
        draws[r] = aggregate(taus, sizes, [f.n_post for f in fits])
    return _population_sd(draws), draws


def bootstrap_se(
    Y: FloatArray, adoption: np.ndarray, n_control: int, fits: list[CohortFit],
    replications: int, rng: np.random.Generator, X: FloatArray | None = None,
) -> tuple[float, FloatArray]:  # fmt: skip
    """Algorithm 2: units resampled with replacement (draws without a donor or without a
    treated unit redrawn); the spread of the re-estimates."""
    n = len(Y)
    by_col = {f.column: f for f in fits}
    draws = np.empty(replications)
    r = 0
    while r < replications:
        ind = np.sort(rng.integers(0, n, n))
        ctrl, trt = ind[ind < n_control], ind[ind >= n_control]
        if not len(ctrl) or not len(trt):
            continue
        Yb = project_covariates(Y, X, ctrl)[0] if X is not None else Y
        taus, sizes, posts = [], [], []
        for col in np.unique(adoption[trt]):
            f = by_col[int(col)]
            rows = trt[adoption[trt] == col]
            g = fit_cohort(Yb[ctrl], Yb[rows], f.column, f.opts.method, f.opts,
                           _normalise(f.omega[ctrl]), f.lam, f.n_post)  # fmt: skip
            taus.append(g.tau)
            sizes.append(len(rows))
            posts.append(f.n_post)
        draws[r] = aggregate(taus, sizes, posts)
        r += 1
    return _population_sd(draws), draws


def jackknife_se(
    Y: FloatArray, adoption: np.ndarray, n_control: int, fits: list[CohortFit],
    X: FloatArray | None = None,
) -> tuple[float, FloatArray]:  # fmt: skip
    """Algorithm 3: each unit left out in turn with the weights held fixed (the left-out
    donor's unit weight removed and the rest renormalised) and, like the weights, the
    covariate adjustment of the full sample held fixed."""
    if any(np.count_nonzero(f.omega) == 1 for f in fits if f.opts.update_omega):
        warnings.warn(
            "a single donor carries all the unit weight: leaving it out leaves no synthetic "
            "control, so the jackknife standard error is NaN; use vcov='placebo'.",
            ImpactWarning,
            stacklevel=3,
        )
        return float("nan"), np.full(len(Y), np.nan)
    n = len(Y)
    Yj = project_covariates(Y, X, np.arange(n_control))[0]
    loo = np.empty(n)
    for i in range(n):
        keep_c = np.delete(np.arange(n_control), i) if i < n_control else np.arange(n_control)
        taus, sizes, posts = [], [], []
        for f in fits:
            rows = np.flatnonzero(adoption == f.column)
            rows = rows[rows != i]
            if not len(rows):
                continue
            omega = _normalise(f.omega[keep_c]) if i < n_control else f.omega
            g = fit_cohort(Yj[keep_c], Yj[rows], f.column, f.opts.method, fixed(f.opts),
                           omega, f.lam, f.n_post)  # fmt: skip
            taus.append(g.tau)
            sizes.append(len(rows))
            posts.append(f.n_post)
        loo[i] = aggregate(taus, sizes, posts)
    return float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))), loo
