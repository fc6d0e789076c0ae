"""Fixed-length confidence intervals under smoothness restrictions on the violation of
parallel trends (Rambachan & Roth 2023, Section 4.1; Armstrong & Kolesár 2018).

Pure functions of event-time coefficients ``b ~ N(tau + delta, Sigma)`` with ``tau`` zero
before the reference period. The restriction ``Delta^SD(M)`` bounds the second differences
of ``delta`` (the reference's ``delta`` is 0) by ``M``: ``M = 0`` allows exactly linear
trends. The target is ``theta = l' tau_post``. An affine estimator ``v' b`` with
``v = (v_pre, l)`` has worst-case bias ``M ||G' v||_1`` over ``Delta^SD(M)`` when ``v``
annihilates linear trends (``sum v_k k = 0``, positions ``k`` relative to the
reference), where ``G`` maps second differences to ``delta``; the interval is
``v' b +- sigma_v cv_alpha(bias / sigma_v)`` with ``cv_alpha(t)`` the ``1 - alpha``
quantile of ``|N(t, 1)|``. The weights minimise that half-length: for each bound ``h``
on ``sigma_v`` the smallest worst-case bias is a convex problem; the best ``h`` is found
on a grid refined by a bounded scalar search.

References
----------
Rambachan, A., & Roth, J. (2023). A more credible approach to parallel trends. Review of
Economic Studies, 90(5), 2555-2591.
Armstrong, T. B., & Kolesár, M. (2018). Optimal inference in a class of regression models.
Econometrica, 86(2), 655-683.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from impact._typing import FloatArray
from impact.errors import InvalidOptionError

__all__ = ["FLCI", "flci_smoothness", "folded_normal_quantile", "second_difference_map"]

#: Points of the grid of bounds on the estimator's standard deviation.
H_GRID = 60
#: Convergence tolerance of the inner (bias) and outer (bound) optimisations.
OPT_TOL = 1e-12


@dataclass(frozen=True)
class FLCI:
    """A fixed-length confidence interval for ``l' tau_post``."""

    lower: float
    upper: float
    estimate: float
    half_length: float
    weights: FloatArray  # v over the coefficients (pre, then post)
    worst_bias: float
    std_error: float


def folded_normal_quantile(alpha: float, t: float) -> float:
    """``cv_alpha(t)``: the ``1 - alpha`` quantile of ``|N(t, 1)|``."""
    return float(stats.foldnorm.ppf(1.0 - alpha, abs(t)))


def second_difference_map(n_pre: int, n_post: int) -> FloatArray:
    """``G``: ``delta`` at positions ``-n_pre .. -1, 1 .. n_post`` from the second
    differences at positions ``-n_pre + 1 .. n_post - 1``, with ``delta_0 = 0`` and zero
    slope between positions 0 and 1 (linear trends are the null space of the bias)."""
    n_u = n_pre + n_post - 1
    G = np.zeros((n_pre + n_post, n_u))
    for j in range(n_u):
        u = np.zeros(n_u)
        u[j] = 1.0
        at = dict.fromkeys((0, 1), 0.0)  # delta_0 = delta_1 = 0 for the particular solution
        for p in range(1, n_post):  # forward: delta_{p+1} = 2 delta_p - delta_{p-1} + u_p
            at[p + 1] = 2 * at[p] - at[p - 1] + u[p + n_pre - 1]
        for p in range(0, -n_pre, -1):  # backward: delta_{p-1} = 2 delta_p - delta_{p+1} + u_p
            at[p - 1] = 2 * at[p] - at[p + 1] + u[p + n_pre - 1]
        positions = [*range(-n_pre, 0), *range(1, n_post + 1)]
        G[:, j] = [at[p] for p in positions]
    return G


def _problem(sigma: FloatArray, n_pre: int, n_post: int, l_post: FloatArray):
    """Weights as ``v = c0 + K z``: the pre-period weights free subject to annihilating
    linear trends, the post-period weights ``l``."""
    pos_pre = np.arange(-n_pre, 0, dtype=float)
    pos_post = np.arange(1, n_post + 1, dtype=float)
    c0 = np.zeros(n_pre + n_post)
    c0[n_pre:] = l_post
    # one pre weight absorbs the trend constraint: v_pre . pos_pre = -l . pos_post
    c0[n_pre - 1] = -(l_post @ pos_post) / pos_pre[-1]
    K = np.zeros((n_pre + n_post, n_pre - 1))
    for j in range(n_pre - 1):  # moving weight between pre position j and the last
        K[j, j] = 1.0
        K[n_pre - 1, j] = -pos_pre[j] / pos_pre[-1]
    return c0, K


def flci_smoothness(
    beta: FloatArray,
    sigma: FloatArray,
    n_pre: int,
    n_post: int,
    M: float,
    l_post: FloatArray | None = None,
    alpha: float = 0.05,
) -> FLCI:
    """The optimal FLCI for ``l' tau_post`` under ``Delta^SD(M)``.

    Parameters
    ----------
    beta, sigma : ndarray
        Coefficients at positions ``-n_pre .. -1`` then ``1 .. n_post`` relative to the
        reference (contiguous event times), and their covariance.
    M : float
        Bound on the second differences of the violation (>= 0).
    l_post : ndarray, optional
        Weights of the post-period effects (default: the first post-period).
    """
    if M < 0 or not np.isfinite(M):
        raise InvalidOptionError(f"M must be a finite number >= 0, got {M!r}.")
    l_post = np.eye(n_post)[0] if l_post is None else np.asarray(l_post, dtype=float)
    if l_post.shape != (n_post,):
        raise InvalidOptionError(
            f"l_vec must have {n_post} entries (post-periods), got {l_post.shape}."
        )
    c0, K = _problem(sigma, n_pre, n_post, l_post)
    A = second_difference_map(n_pre, n_post).T  # bias = M ||A v||_1
    a0, Az = A @ c0, A @ K
    S = np.asarray(sigma, dtype=float)

    def sd(z: FloatArray) -> float:
        v = c0 + K @ z
        return float(np.sqrt(max(v @ S @ v, 0.0)))

    def bias(z: FloatArray) -> float:
        return float(M * np.abs(a0 + Az @ z).sum())

    k = K.shape[1]
    if k == 0:
        z_star = np.zeros(0)
        return _interval(beta, c0, sd(z_star), bias(z_star), alpha)
    # smallest standard deviation (a quadratic in z) and the least-bias weights (an LP)
    Q, q = K.T @ S @ K, K.T @ S @ c0
    z_min_sd = np.linalg.lstsq(Q, -q, rcond=None)[0]
    m = len(a0)
    lp = optimize.linprog(
        np.r_[np.zeros(k), np.ones(m)],
        A_ub=np.block([[Az, -np.eye(m)], [-Az, -np.eye(m)]]), b_ub=np.r_[-a0, a0],
        bounds=[(None, None)] * k + [(0, None)] * m, method="highs",
    )  # fmt: skip
    z_min_bias = lp.x[:k] if lp.status == 0 else z_min_sd
    h_lo, h_hi = sd(z_min_sd), max(sd(z_min_bias), sd(z_min_sd))
    if M == 0 or h_hi - h_lo <= OPT_TOL * max(h_lo, 1.0):
        return _interval(beta, c0 + K @ z_min_sd, h_lo, bias(z_min_sd), alpha)

    def least_bias(h: float, start: FloatArray) -> FloatArray:
        """min ||a0 + Az z||_1 s.t. sd(z) <= h: auxiliary w >= |a0 + Az z|."""
        x0 = np.r_[start, np.abs(a0 + Az @ start)]
        res = optimize.minimize(
            lambda x: x[k:].sum(), x0, jac=lambda x: np.r_[np.zeros(k), np.ones(m)],
            constraints=[
                {"type": "ineq", "fun": lambda x: x[k:] - (a0 + Az @ x[:k]),
                 "jac": lambda x: np.hstack([-Az, np.eye(m)])},
                {"type": "ineq", "fun": lambda x: x[k:] + (a0 + Az @ x[:k]),
                 "jac": lambda x: np.hstack([Az, np.eye(m)])},
                {"type": "ineq", "fun": lambda x: h**2 - (c0 + K @ x[:k]) @ S @ (c0 + K @ x[:k]),
                 "jac": lambda x: np.r_[-2 * K.T @ S @ (c0 + K @ x[:k]), np.zeros(m)]},
            ],
            method="SLSQP", options={"ftol": OPT_TOL, "maxiter": 1000},
        )  # fmt: skip
        return res.x[:k]

    def half_length(h: float) -> tuple[float, FloatArray]:
        z = least_bias(h, z_min_sd)
        s = sd(z)
        return s * folded_normal_quantile(alpha, bias(z) / s), z

    grid = np.linspace(h_lo, h_hi, H_GRID)
    values = [half_length(h)[0] for h in grid]
    best = int(np.argmin(values))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, H_GRID - 1)]
    found = optimize.minimize_scalar(
        lambda h: half_length(h)[0], bounds=(lo, hi), method="bounded", options={"xatol": OPT_TOL}
    )
    h_star = found.x if found.fun <= values[best] else grid[best]
    z_star = half_length(h_star)[1]
    return _interval(beta, c0 + K @ z_star, sd(z_star), bias(z_star), alpha)


def _interval(beta: FloatArray, v: FloatArray, s: float, b: float, alpha: float) -> FLCI:
    est = float(v @ beta)
    half = s * folded_normal_quantile(alpha, b / s) if s > 0 else b
    return FLCI(est - half, est + half, est, half, v, b, s)
