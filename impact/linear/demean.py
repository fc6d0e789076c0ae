"""Project fixed effects out of columns: the one demeaning engine of impact.

Strategies
----------
``"oneway"``
    One dimension: subtract (weighted) group means. Exact.
``"schur"``
    One large dimension plus small ones (firm + year, firm + industry x year): exact
    two-pass solve, see :mod:`impact.linear.schur`.
``"map"``
    Any number of large dimensions: alternating projections accelerated with
    Irons–Tuck extrapolation, stopped by a scale-relative criterion; raises
    :class:`~impact.errors.ConvergenceError` rather than returning an unconverged result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import DemeanStrategy, FloatArray
from impact.engine.kernels import group_sums, group_weights
from impact.errors import ConvergenceError, InvalidOptionError
from impact.linear.fixed_effects import FixedEffects
from impact.linear.schur import schur_project

__all__ = [
    "DEMEAN_TOL",
    "SCHUR_CHECK",
    "SCHUR_MAX_SMALL_LEVELS",
    "DemeanResult",
    "demean",
    "fixef_coefficients",
    "pick_strategy",
    "schur_fits",
]

#: Convergence tolerance of the iterative strategy, relative to each column's scale.
DEMEAN_TOL = 1e-10
#: The exact strategy is used when all but the largest dimension have at most this many
#: levels in total (a dense system of this size is solved once).
SCHUR_MAX_SMALL_LEVELS = 3000
#: Relative size of the remaining group sums above which the exact solution is refined.
SCHUR_CHECK = 1e-9


@dataclass(frozen=True)
class DemeanResult:
    """Columns with the fixed effects projected out.

    Attributes
    ----------
    values : ndarray (n, p)
        ``V - P_D V`` (weighted projection when weights are given).
    strategy : str
        ``"none"``, ``"oneway"``, ``"schur"`` or ``"map"``.
    iterations : int
        Sweeps used by the iterative strategy (0 for exact strategies).
    fe_rank : int or None
        Identified fixed-effect coefficients when the strategy knows it exactly
        (one-way and Schur), else None.
    """

    values: FloatArray
    strategy: str
    iterations: int
    fe_rank: int | None = None


class _Sweeper:
    """One pass of projections over every dimension, with cached group weights."""

    def __init__(self, fe: FixedEffects, weights: FloatArray | None) -> None:
        self.fe = fe
        self.weights = weights
        self.inv_w = [
            1.0 / group_weights(c, n, weights) for c, n in zip(fe.codes, fe.n_levels, strict=True)
        ]

    def means(self, q: int, R: FloatArray) -> FloatArray:
        wr = R if self.weights is None else R * self.weights[:, None]
        return (
            group_sums(self.fe.codes[q], self.fe.n_levels[q], wr, self.fe.runs[q])
            * self.inv_w[q][:, None]
        )

    def __call__(self, R: FloatArray) -> FloatArray:
        R = np.array(R, order="F", copy=True)
        for q in range(self.fe.n_dims):
            m = self.means(q, R)
            for j in range(R.shape[1]):
                R[:, j] -= m[:, j][self.fe.codes[q]]
        return R


def _map(
    V: FloatArray, fe: FixedEffects, weights: FloatArray | None, tol: float, maxiter: int
) -> tuple[FloatArray, int]:
    sweep = _Sweeper(fe, weights)
    # scale of each column net of its mean, so a large constant offset does not loosen the
    # criterion relative to the variation the fixed effects act on
    scale = np.max(np.abs(V - V.mean(axis=0)), axis=0) if V.size else np.zeros(V.shape[1])
    out = V.copy()
    out[:, scale == 0] = 0.0  # a constant column lies in the span of the fixed effects
    active = np.flatnonzero(scale > 0)
    x0 = V[:, active]
    it = 0
    while active.size:
        x1 = sweep(x0)
        x2 = sweep(x1)
        it += 2
        change = np.max(np.abs(x2 - x1), axis=0)
        rel_change = float(np.max(change / scale[active]))
        done = change <= tol * scale[active]
        if done.any():
            out[:, active[done]] = x2[:, done]
            active, x0, x1, x2 = active[~done], x0[:, ~done], x1[:, ~done], x2[:, ~done]
            if not active.size:
                break
        if it >= maxiter:
            raise ConvergenceError(
                f"fixed-effect demeaning did not converge in {maxiter} sweeps "
                f"(largest relative change {rel_change:.3g}, tolerance {tol:.1e}). "
                "The fixed effects may be nearly collinear or poorly connected; raise "
                "maxiter, or simplify the fixed-effect structure."
            )
        d1 = x2 - x1
        d2 = d1 - (x1 - x0)
        den = np.einsum("ij,ij->j", d2, d2)
        num = np.einsum("ij,ij->j", d1, d2)
        coef = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        x0 = x2 - d1 * coef
    return out, it


def pick_strategy(fe: FixedEffects, strategy: DemeanStrategy) -> str:
    """The strategy :func:`demean` uses: ``"none"``, ``"oneway"``, ``"schur"`` (exact,
    when the small dimensions have few levels) or ``"map"`` (alternating projections)."""
    if strategy not in ("auto", "map", "schur"):
        raise InvalidOptionError(
            f"demeaning strategy must be 'auto', 'map' or 'schur', got {strategy!r}."
        )
    if fe.n_dims == 0:
        return "none"
    if fe.n_dims == 1:
        return "oneway"
    if strategy != "auto":
        return strategy
    return "schur" if schur_fits(fe.n_levels) else "map"


def schur_fits(n_levels: tuple[int, ...] | list[int]) -> bool:
    """Whether the exact strategy takes dimensions of these level counts: all but the
    largest (the first of equal ones) have at most :data:`SCHUR_MAX_SMALL_LEVELS` levels
    together. The engine path's rank count follows the same rule."""
    big = int(np.argmax(n_levels))
    return sum(n for q, n in enumerate(n_levels) if q != big) <= SCHUR_MAX_SMALL_LEVELS


def demean(
    V: FloatArray,
    fe: FixedEffects,
    weights: FloatArray | None = None,
    *,
    tol: float = DEMEAN_TOL,
    maxiter: int = 100_000,
    strategy: DemeanStrategy = "auto",
) -> DemeanResult:
    """Residualise the columns of ``V`` on every fixed-effect dimension of ``fe``.

    Parameters
    ----------
    V : ndarray (n, p)
        Columns to demean (outcome and regressors).
    fe : FixedEffects
        Codes aligned with the rows of ``V``.
    weights : ndarray (n,), optional
        Analytic weights (strictly positive).
    tol : float
        Iterative strategy: stop when no element changes by more than ``tol`` times the
        column's largest absolute value over two sweeps.
    maxiter : int
        Iterative strategy: maximum number of sweeps before :class:`ConvergenceError`.
    strategy : {"auto", "map", "schur"}
        ``"auto"`` uses the exact strategies whenever the structure allows.

    Returns
    -------
    DemeanResult
    """
    V = np.asarray(V, dtype=np.float64)
    if V.ndim == 1:
        V = V[:, None]
    V = np.asfortranarray(V)  # column-contiguous: group sums run per column
    chosen = pick_strategy(fe, strategy)
    if chosen == "none":
        return DemeanResult(values=V.copy(), strategy="none", iterations=0)
    if chosen == "oneway":
        sweep = _Sweeper(fe, weights)
        return DemeanResult(
            values=V - sweep.means(0, V)[fe.codes[0]], strategy="oneway", iterations=0
        )
    if chosen == "schur":
        big = int(np.argmax(fe.n_levels))
        sol = schur_project(V, fe, weights, big)
        R = sol.residuals(V, fe)
        if sol.residual <= SCHUR_CHECK:
            return DemeanResult(values=R, strategy="schur", iterations=0, fe_rank=sol.rank)
        # numerically delicate design: refine the exact solution iteratively
        R2, it = _map(R, fe, weights, tol, maxiter)
        return DemeanResult(values=R2, strategy="schur+map", iterations=it, fe_rank=sol.rank)
    R, it = _map(V, fe, weights, tol, maxiter)
    return DemeanResult(values=R, strategy="map", iterations=it)


def fixef_coefficients(
    d: FloatArray,
    fe: FixedEffects,
    weights: FloatArray | None = None,
    *,
    tol: float = DEMEAN_TOL,
    maxiter: int = 100_000,
) -> tuple[FloatArray, ...]:
    """Fixed-effect coefficients whose sum reproduces ``d`` (a vector in the FE span).

    Normalisation: the first level of every dimension but the first is zero (fixest's
    reference convention when the design is connected).

    Returns
    -------
    tuple of ndarray
        One coefficient vector per dimension.
    """
    d = np.asarray(d, dtype=np.float64)
    if fe.n_dims == 1:
        w = group_weights(fe.codes[0], fe.n_levels[0], weights)
        wd = d if weights is None else d * weights
        return (group_sums(fe.codes[0], fe.n_levels[0], wd) / w,)
    if pick_strategy(fe, "auto") == "schur":
        sol = schur_project(d[:, None], fe, weights, int(np.argmax(fe.n_levels)))
        return _normalise([c[:, 0] for c in sol.coefs])
    sweep = _Sweeper(fe, weights)
    coefs = [np.zeros(n) for n in fe.n_levels]
    resid = d[:, None].copy()
    scale = max(float(np.max(np.abs(d))), 1e-300)
    for _ in range(maxiter):
        biggest = 0.0
        for q in range(fe.n_dims):
            m = sweep.means(q, resid)[:, 0]
            coefs[q] += m
            resid[:, 0] -= m[fe.codes[q]]
            biggest = max(biggest, float(np.max(np.abs(m))))
        if biggest <= tol * scale:
            break
    else:
        raise ConvergenceError(
            "fixed-effect coefficients did not converge; the design may be disconnected."
        )
    return _normalise(coefs)


def _normalise(coefs: list[FloatArray]) -> tuple[FloatArray, ...]:
    """Set the first level of every dimension but the first to zero (fit unchanged)."""
    coefs = list(coefs)
    for q in range(1, len(coefs)):
        shift = coefs[q][0]
        coefs[q] = coefs[q] - shift
        coefs[0] = coefs[0] + shift
    return tuple(coefs)
