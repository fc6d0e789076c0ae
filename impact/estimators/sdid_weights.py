"""Unit and time weights of synthetic difference-in-differences (Arkhangelsky, Athey,
Hirshberg, Imbens & Wager 2021) for one block of treated units that start together.

``Y`` is an ``(N0 + N1) x (T0 + T1)`` outcome matrix: comparison units first, treated
units last, pre-treatment periods first. The weights solve ridge-penalised least squares
problems on the unit simplex, by Frank-Wolfe with exact line search on the "collapsed"
matrix (treated units and post-treatment periods averaged), with the regularisation, the
stopping rule and the sparsification of the R package ``synthdid`` so that the estimates
are the published ones:

- time weights ``lambda``: the comparison units' pre-period outcomes (with an intercept)
  that best match their post-period mean, penalty ``zeta_lambda = 1e-6 sigma``;
- unit weights ``omega``: the comparison units' pre-period trajectories (with an intercept
  for SDID, without for SC) that best match the treated mean, penalty ``zeta_omega =
  (N1 T1)^(1/4) sigma`` for SDID, ``1e-6 sigma`` for SC;
- ``sigma``: the standard deviation of the comparison units' first differences before
  treatment.

Every function is pure; the caller supplies starting weights when it re-estimates
(placebo and bootstrap replications start from the full-sample weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from impact._typing import FloatArray

__all__ = [
    "SdidOptions",
    "block_estimate",
    "fit_weights",
    "frank_wolfe",
    "sdid_options",
    "sparsify",
    "trajectory",
]

#: Iterations before the weights are sparsified, and at most after (R synthdid defaults).
PRE_SPARSIFY_ITER = 100
MAX_ITER = 10_000
#: Stopping rule: the objective decreased by less than (MIN_DECREASE_SCALE sigma)^2.
MIN_DECREASE_SCALE = 1e-5
#: Penalty scale of the time weights and of the SC unit weights (times sigma).
SMALL_ETA = 1e-6


@dataclass(frozen=True)
class SdidOptions:
    """The weight problem of one estimator, fixed from the full-sample fit (replications
    keep the full sample's penalties)."""

    method: str  # "sdid" | "sc" | "did"
    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = MAX_ITER


def noise_level(Y: FloatArray, N0: int, T0: int) -> float:
    """Standard deviation (n - 1) of the comparison units' pre-period first differences."""
    d = np.diff(Y[:N0, :T0], axis=1)
    return float(np.std(d, ddof=1)) if d.size > 1 else 0.0


def sdid_options(Y: FloatArray, N0: int, T0: int, method: str) -> SdidOptions:
    """Penalties and which weights are estimated, from the full sample (R defaults)."""
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    sigma = noise_level(Y, N0, T0)
    eta_omega = (N1 * T1) ** 0.25 if method == "sdid" else SMALL_ETA
    return SdidOptions(
        method=method,
        zeta_omega=eta_omega * sigma,
        zeta_lambda=SMALL_ETA * sigma,
        omega_intercept=method == "sdid",
        update_omega=method != "did",
        update_lambda=method == "sdid",
        min_decrease=MIN_DECREASE_SCALE * sigma,
    )


def sparsify(v: FloatArray) -> FloatArray:
    """Weights at most a quarter of the largest set to zero, the rest renormalised."""
    out = np.where(v <= v.max() / 4, 0.0, v)
    return out / out.sum()


def frank_wolfe(
    M: FloatArray,
    zeta: float,
    intercept: bool,
    x0: FloatArray | None,
    min_decrease: float,
    max_iter: int,
) -> FloatArray:
    """Minimise ``zeta^2 |x|^2 + |A x - b|^2 / n`` over the unit simplex.

    ``M = [A | b]`` is ``n x (k + 1)``; with ``intercept`` its columns are centred first
    (a free constant in the fit). Frank-Wolfe steps towards the vertex of the smallest
    gradient with the exact line search of the quadratic; it stops after ``max_iter``
    steps or when a step lowers the objective by less than ``min_decrease^2``.
    """
    n, k = M.shape[0], M.shape[1] - 1
    if intercept:
        M = M - M.mean(axis=0)
    A, b = M[:, :k], M[:, k]
    eta = n * zeta**2
    z2 = zeta**2
    x = np.full(k, 1.0 / k) if x0 is None else np.array(x0, dtype=float)
    prev = np.inf
    Ax = A @ x
    xx = float(x @ x)
    for t in range(max_iter):
        half_grad = (Ax - b) @ A + eta * x
        i = int(np.argmin(half_grad))
        xi = x[i]
        if not (xi == 1.0 and xx == 1.0):  # not already at the vertex
            d_err = A[:, i] - Ax
            dd = xx - 2.0 * xi + 1.0  # |e_i - x|^2
            den = float(d_err @ d_err) + eta * dd
            num = float(x @ half_grad) - half_grad[i]
            step = min(1.0, max(0.0, num / den)) if den > 0 else 0.0
            x *= 1.0 - step
            x[i] += step
            Ax += step * d_err
            xx = float(x @ x)
        err = Ax - b
        val = z2 * xx + float(err @ err) / n
        if t >= 1 and not prev - val > min_decrease**2:
            break
        prev = val
    return x


def _collapsed(Y: FloatArray, N0: int, T0: int) -> FloatArray:
    """``(N0 + 1) x (T0 + 1)``: post periods and treated units averaged."""
    top = np.column_stack([Y[:N0, :T0], Y[:N0, T0:].mean(axis=1)])
    bottom = np.r_[Y[N0:, :T0].mean(axis=0), Y[N0:, T0:].mean()]
    return np.vstack([top, bottom])


def _solve(M, zeta, intercept, x0, opts: SdidOptions) -> FloatArray:
    first = frank_wolfe(M, zeta, intercept, x0, opts.min_decrease, PRE_SPARSIFY_ITER)
    return frank_wolfe(M, zeta, intercept, sparsify(first), opts.min_decrease, opts.max_iter)


def fit_weights(
    Y: FloatArray,
    N0: int,
    T0: int,
    opts: SdidOptions,
    omega0: FloatArray | None = None,
    lambda0: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Unit weights ``omega`` (N0,) and time weights ``lambda`` (T0,) of one block.

    Weights that ``opts`` does not estimate are ``omega0``/``lambda0`` as given (uniform
    when None; SC's time weights are zero).
    """
    Yc = _collapsed(Y, N0, T0)
    if opts.update_lambda:
        lam = _solve(Yc[:N0, :], opts.zeta_lambda, True, lambda0, opts)
    elif opts.method == "sc":
        lam = np.zeros(T0)
    else:
        lam = np.full(T0, 1.0 / T0) if lambda0 is None else np.asarray(lambda0, dtype=float)
    if opts.update_omega:
        omega = _solve(Yc[:, :T0].T, opts.zeta_omega, opts.omega_intercept, omega0, opts)
    else:
        omega = np.full(N0, 1.0 / N0) if omega0 is None else np.asarray(omega0, dtype=float)
    return omega, lam


def block_estimate(Y: FloatArray, N0: int, T0: int, omega: FloatArray, lam: FloatArray) -> float:
    """``(-omega, 1/N1)' Y (-lambda, 1/T1)``: the weighted double difference."""
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    u = np.r_[-omega, np.full(N1, 1.0 / N1)]
    v = np.r_[-lam, np.full(T1, 1.0 / T1)]
    return float(u @ Y @ v)


def trajectory(
    Y: FloatArray,
    N0: int,
    treated: np.ndarray,
    T0: int,
    omega: FloatArray,
    lam: FloatArray,
    shift: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The treated units' mean path and its synthetic control, period by period.

    Parameters
    ----------
    Y : ndarray
        All units' outcomes, the ``N0`` donors first.
    treated : ndarray of bool
        The treated units of the block among the rows after the donors.
    T0 : int
        The block's pre-treatment periods (the first ``T0`` columns).
    omega, lam : ndarray
        The block's unit weights (on the donors) and time weights (on the pre-periods).
    shift : bool
        Shift the synthetic path by the time-weighted pre-period gap, as SDID and DiD
        do (SC matches levels, so it is not shifted).

    Returns
    -------
    treated_mean, synthetic, time_weight : ndarray
        Each of length ``Y.shape[1]``; ``time_weight`` is zero after ``T0``.
    """
    treated_mean = Y[N0:][treated].mean(axis=0)
    synthetic = omega @ Y[:N0]
    if shift:
        synthetic = synthetic + lam @ (treated_mean[:T0] - synthetic[:T0])
    return treated_mean, synthetic, np.r_[lam, np.zeros(Y.shape[1] - T0)]


def fixed(opts: SdidOptions) -> SdidOptions:
    """The same estimator with its weights held fixed (the jackknife's)."""
    return replace(opts, update_omega=False, update_lambda=False)
