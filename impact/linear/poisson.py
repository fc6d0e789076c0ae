"""Poisson pseudo-maximum likelihood with fixed effects: separation checks and IRLS.

IRLS (iteratively reweighted least squares) for ``E[y | x, FE] = exp(x'b + FE + offset)``:
each iteration is one weighted within regression of the working response
``z = eta - offset + (y - mu) / mu`` on the regressors with weights ``w * mu``, through
the same demeaning engine as :func:`impact.feols` (exact strategies for one large and
small fixed effects). Convergence is judged on the deviance, as fixest and pyfixest do.

Separation (Correia, Guimarães & Zylkin 2021): when the outcome is zero on every row of
a fixed-effect group, or on the rows where some combination of regressors is positive
while it is zero elsewhere, the likelihood has no maximum (a coefficient drifts to
minus infinity) — those rows are identified and removed before estimation.

References
----------
Santos Silva, J. M. C., & Tenreyro, S. (2006). The log of gravity. Review of Economics
and Statistics, 88(4), 641–658.
Correia, S., Guimarães, P., & Zylkin, T. (2020). Fast Poisson estimation with
high-dimensional fixed effects. Stata Journal, 20(1), 95–115.
Correia, S., Guimarães, P., & Zylkin, T. (2021). Verifying the existence of maximum
likelihood estimates for generalized linear models. arXiv:1903.01633.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import xlogy

from impact._typing import BoolArray, FloatArray
from impact.errors import ConvergenceError
from impact.linear.core import AbsorbedFit, fit_absorbed
from impact.linear.demean import DEMEAN_TOL, SCHUR_CHECK, demean, pick_strategy
from impact.linear.fixed_effects import FixedEffects, find_singletons
from impact.linear.ols import least_norm_solve, solve_gram, wls_from_gram
from impact.linear.schur import schur_residual_gram

__all__ = [
    "IRLS_MAXITER",
    "IRLS_TOL",
    "RELU_TOL",
    "PoissonFit",
    "fe_separation",
    "poisson_deviance",
    "poisson_irls",
    "relu_separation",
]

#: IRLS stops when the deviance changes by less than this, relative to (0.1 + |deviance|).
IRLS_TOL = 1e-10
#: Largest number of IRLS iterations before ConvergenceError.
IRLS_MAXITER = 100
#: Fitted values of the ReLU separation regression below this (relative) are zero.
RELU_TOL = 1e-5
#: Largest number of ReLU iterations.
RELU_MAXITER = 200


def poisson_deviance(
    y: FloatArray,
    mu: FloatArray,
    w: FloatArray | None = None,
    *,
    eta: FloatArray | None = None,
    ylogy: FloatArray | None = None,
) -> float:
    """``2 sum w (y log(y / mu) - (y - mu))`` (0 log 0 = 0).

    IRLS passes ``eta = log(mu)`` (the linear predictor it exponentiated) and
    ``ylogy = y log y`` (fixed across iterations), which saves two logarithms per row.
    """
    yy = xlogy(y, y) if ylogy is None else ylogy
    d = xlogy(y, mu) if eta is None else y * eta  # y log(mu); 0 where y = 0
    # y log y - y log mu - (y - mu), row by row and in place (summing the terms
    # separately would lose digits to cancellation when counts are large)
    np.subtract(yy, d, out=d)
    d -= y
    d += mu
    return 2.0 * float(d.sum() if w is None else w @ d)


def fe_separation(
    y: FloatArray, fe: FixedEffects, drop_singletons: bool
) -> tuple[BoolArray, dict[str, int]]:
    """Rows kept after removing fixed-effect groups whose outcome is zero on every row.

    Repeats (with singleton removal when asked) until nothing changes, since removing
    rows can leave new singletons. Returns the rows kept and rows removed per dimension.
    """
    keep = np.ones(len(y), dtype=bool)
    per_dim = {name: 0 for name in fe.names}
    per_dim["singletons"] = 0
    changed, first = True, True
    while changed:
        changed = False
        for codes, n_lev, name in zip(fe.codes, fe.n_levels, fe.names, strict=True):
            pos = np.bincount(codes[keep], weights=y[keep], minlength=n_lev)
            dead = keep & (pos[codes] <= 0)
            if dead.any():
                keep &= ~dead
                per_dim[name] += int(dead.sum())
                changed = True
        # after the first pass, new singletons can only follow rows removed in this one
        if drop_singletons and (changed or first) and keep.any():
            sub = fe if keep.all() else fe.subset(keep)
            ok, _ = find_singletons(sub)
            if not ok.all():
                idx = np.flatnonzero(keep)
                keep[idx[~ok]] = False
                per_dim["singletons"] += int((~ok).sum())
                changed = True
        first = False
    return keep, per_dim


def relu_separation(
    y: FloatArray,
    X: FloatArray,
    fe: FixedEffects | None,
    *,
    tol: float = RELU_TOL,
    maxiter: int = RELU_MAXITER,
) -> BoolArray:
    """Rows separated by the regressors (and fixed effects): the ReLU method.

    Looks for a linear combination ``z = X g + FE`` that is zero on every row with
    ``y > 0`` and non-negative, and somewhere positive, on rows with ``y = 0``: those
    rows have a fitted mean of zero at the supremum of the likelihood. Iterates weighted
    least squares of ``u`` on ``[X, FE]`` — rows with ``y > 0`` carry a weight large
    enough to force ``z`` to zero there — replacing ``u`` by the positive part of the
    fit on ``y = 0`` rows until the fit is non-negative (Correia, Guimarães & Zylkin
    2021, Section 4).

    Returns
    -------
    ndarray of bool
        True for separated rows (to be removed).
    """
    zero = y == 0
    if not zero.any() or X.shape[1] == 0:
        return np.zeros(len(y), dtype=bool)
    n0 = int(zero.sum())
    big = n0 / tol**2  # pushes |z| on positive rows far below tol
    w = np.where(zero, 1.0, big)
    u = zero.astype(float)
    V = np.empty((len(y), X.shape[1] + 1), order="F")
    V[:, 1:] = X
    group_sums = fe is not None and pick_strategy(fe, "auto") == "schur"
    for _ in range(maxiter):
        V[:, 0] = u
        step = _schur_step(V, fe, w, _least_norm_beta) if group_sums else None
        if step is not None:
            z = step[1]  # fitted values including the fixed effects
        else:
            R = demean(V, fe, w, tol=DEMEAN_TOL).values if fe is not None else V
            ud, Xd = R[:, 0], R[:, 1:]
            Xw = Xd * w[:, None]
            coef = least_norm_solve(Xw.T @ Xd, Xw.T @ ud)
            z = u - (ud - Xd @ coef)
        z[np.abs(z) < tol] = 0.0
        if np.all(z[zero] >= 0):
            return zero & (z > 0)
        u = np.where(zero, np.maximum(z, 0.0), 0.0)
    raise ConvergenceError(
        f"the separation check (ReLU method) did not settle in {maxiter} iterations."
    )


@dataclass(frozen=True)
class PoissonFit:
    """Converged IRLS: coefficients, means, the final weighted within regression."""

    beta: FloatArray
    mu: FloatArray
    eta: FloatArray  # linear predictor including the offset
    core: AbsorbedFit  # within regression weighted by the final means (Xd, bread)
    keep: BoolArray  # regressors kept (the others are collinear)
    reasons: list[str]  # why each dropped regressor was dropped
    deviance: float
    iterations: int


#: Wide designs of dummies (ETWFE cells, category-by-period effects) are multiplied as
#: sparse matrices in the IRLS steps: at least this many columns ...
SPARSE_MIN_COLUMNS = 64
#: ... and at most this share of non-zero entries.
SPARSE_MAX_DENSITY = 0.05


def is_sparse_design(X: FloatArray) -> bool:
    """Whether ``X`` is wide and mostly zeros (then sparse products are much faster)."""
    return X.shape[1] >= SPARSE_MIN_COLUMNS and (np.count_nonzero(X) <= SPARSE_MAX_DENSITY * X.size)


def sparse_gram(Xs: Any, z: FloatArray, w: FloatArray) -> FloatArray:
    """``[z X]' W [z X]`` for a sparse ``X`` (the layout :func:`wls_from_gram` takes)."""
    Xw = Xs.multiply(w[:, None]).tocsr()
    k = Xs.shape[1]
    G = np.empty((k + 1, k + 1))
    G[0, 0] = float(z @ (w * z))
    G[0, 1:] = G[1:, 0] = Xw.T @ z
    G[1:, 1:] = (Xw.T @ Xs).toarray()
    return G


def _weighted_fit(
    z: FloatArray,
    X: FloatArray,
    fe: FixedEffects | None,
    w: FloatArray,
    tol: float,
    detect_collinear: bool,
) -> AbsorbedFit:
    """One IRLS step's weighted within regression; a numerically singular weighted Gram
    (means near zero on whole groups of rows) is a typed convergence failure."""
    try:
        return fit_absorbed(z, X, fe, w, tol=tol, detect_collinear=detect_collinear)
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError(
            "Poisson IRLS: the regressors weighted by the fitted means are numerically "
            "singular (some fitted means are near zero on whole groups of rows: a separation "
            "the checks did not find, or outcomes spanning many orders of magnitude); drop "
            "those groups or rescale the outcome."
        ) from exc


#: The IRLS steps between the first and the last take their weighted Gram matrix from
#: group sums (no residual matrix) only when the digits that shortcut cancels (the
#: fixed effects explaining most of a column) times the condition number of the scaled
#: within Gram (near-collinear regressors amplify them in the coefficients) stays below
#: this: with sums accurate to ~1e-14, the coefficients then stay within ~1e-10 of the
#: residual path. Otherwise the steps form residuals.
GRAM_ERROR_MAX = 1e4
#: ... and only for at most this many regressors (the condition number is an
#: eigenvalue problem of their number).
GRAM_SHORTCUT_MAX_COLUMNS = 64


def _schur_step(
    V: FloatArray,
    fe: FixedEffects,
    w: FloatArray,
    solve: Callable[[FloatArray], FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray] | None:
    """Weighted regression of ``V[:, 0]`` on ``V[:, 1:]`` with the fixed effects absorbed
    by the exact Schur projection, from group sums (no residual matrix).

    ``solve`` maps the residual Gram matrix of ``V`` to the coefficients (default: the
    Cholesky solve of :func:`solve_gram`). Returns the coefficients and the fitted values
    including the fixed effects (``X b + D (theta_0 - theta_X b)``, with ``theta`` the
    columns' projection coefficients), or None when the shortcut is not accurate enough
    (the exact solve needs refining, or the error bound exceeds :data:`GRAM_ERROR_MAX`).
    """
    if V.shape[1] - 1 > GRAM_SHORTCUT_MAX_COLUMNS:
        return None
    sol, gram, loss = schur_residual_gram(V, fe, w)
    if sol.residual > SCHUR_CHECK or loss * _scaled_condition(gram[1:, 1:]) > GRAM_ERROR_MAX:
        return None
    try:
        beta = solve_gram(gram)[0] if solve is None else solve(gram)
    except np.linalg.LinAlgError:
        return None
    fitted = V[:, 1:] @ beta
    for codes, coef in zip(fe.codes, sol.coefs, strict=True):
        fitted += (coef[:, 0] - coef[:, 1:] @ beta)[codes]
    return beta, fitted


def _scaled_condition(G: FloatArray) -> float:
    """Condition number of the Gram ``G`` scaled to a unit diagonal (inf if singular)."""
    diag = np.diag(G)
    if not np.all(diag > 0):  # a column the fixed effects absorb (rounding may give < 0)
        return float("inf")
    d = np.sqrt(diag)
    ev = np.linalg.eigvalsh(G / np.outer(d, d))
    return float(ev[-1] / ev[0]) if ev[0] > 0 else float("inf")


def _least_norm_beta(gram: FloatArray) -> FloatArray:
    """Minimum-norm coefficients from the Gram matrix of ``[u X]``."""
    return least_norm_solve(gram[1:, 1:], gram[1:, 0])


def _working_response(
    y: FloatArray, mu: FloatArray, eta: FloatArray, offset: FloatArray | None
) -> FloatArray:
    """IRLS working response ``eta - offset + (y - mu) / mu`` in one new array."""
    z = np.divide(y, mu)
    z -= 1.0
    z += eta
    if offset is not None:
        z -= offset
    return z


def poisson_irls(
    y: FloatArray,
    X: FloatArray,
    fe: FixedEffects | None,
    weights: FloatArray | None,
    offset: FloatArray | None,
    *,
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    fixef_tol: float = DEMEAN_TOL,
    start: FloatArray | None = None,
) -> PoissonFit:
    """Fit the Poisson model by IRLS; raise ConvergenceError instead of returning early.

    Starts from ``start`` (fitted means, e.g. of a nearby model) or from
    ``mu = (y + mean(y)) / 2`` (as fixest). Collinear regressors are found on the first
    weighted within regression and dropped for the rest (``core.keep``).
    """
    ybar = float(np.average(y, weights=weights))
    mu = (y + ybar) / 2.0 if start is None else np.asarray(start, dtype=float)
    eta = np.log(mu)
    ylogy = xlogy(y, y)
    dev_old = poisson_deviance(y, mu, weights, ylogy=ylogy)
    keep: BoolArray | None = None
    reasons: list[str] = []
    Xk = X
    Xs = None  # sparse copy of the kept regressors for wide dummy designs without FE
    Vs = None  # [z, X] for the group-sum steps (exact Schur projection)
    for it in range(1, maxiter + 1):
        z = _working_response(y, mu, eta, offset)
        wmu = mu if weights is None else weights * mu
        step = None
        if Vs is not None:
            Vs[:, 0] = z
            step = _schur_step(Vs, fe, wmu)
        if step is not None:
            beta, eta = step
        else:
            if Xs is not None:
                fit = wls_from_gram(sparse_gram(Xs, z, wmu), z, Xk)
                beta, resid = fit.beta, fit.resid
            else:
                core = _weighted_fit(z, Xk, fe, wmu, fixef_tol, keep is None)
                beta, resid = core.beta, core.resid
            eta = np.subtract(z, resid, out=z)  # z is rebuilt from eta next iteration
        if keep is None:
            keep, reasons = core.keep, core.reasons
            Xk = X[:, keep]
            if fe is None and is_sparse_design(Xk):
                from scipy import sparse

                Xs = sparse.csr_array(Xk)
            elif fe is not None and pick_strategy(fe, "auto") == "schur":
                Vs = np.empty((len(y), Xk.shape[1] + 1), order="F")
                Vs[:, 1:] = Xk
        if offset is not None:
            eta += offset
        with np.errstate(over="ignore"):
            mu = np.exp(eta)
        if not np.all(np.isfinite(mu)):
            raise ConvergenceError(
                "Poisson IRLS diverged (fitted means overflow); check for separation or "
                "extreme regressor values."
            )
        dev = poisson_deviance(y, mu, weights, eta=eta, ylogy=ylogy)  # mu = exp(eta)
        change = abs(dev - dev_old) / (0.1 + abs(dev))
        if change < tol:
            # the variance needs the within regressors weighted by the final means
            z = _working_response(y, mu, eta, offset)
            wmu = mu if weights is None else weights * mu
            final = _weighted_fit(z, Xk, fe, wmu, fixef_tol, False)
            return PoissonFit(beta, mu, eta, final, keep, reasons, dev, it)
        dev_old = dev
    raise ConvergenceError(
        f"Poisson IRLS did not converge in {maxiter} iterations (relative deviance change "
        f"{change:.2e} > {tol:g})."
    )
