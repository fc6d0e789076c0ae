"""The score bootstrap of Kline & Santos (2012) for Poisson (PPML) coefficients: pure
functions.

The model is not refitted per draw: each cluster's score, projected on the tested
coefficient through the inverse Hessian (``q_c = e_j' H^-1 S_c``, the cluster's share of
a one-step Newton update), is multiplied by one wild weight. With the null imposed the
scores are those of the fit with the coefficient held at the null value (the bootstrap of
the Rao score test, as Stata's boottest after ML); without, those of the unrestricted fit
(whose scores sum to zero), and the observed statistic is the Wald t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from impact._typing import FloatArray
from impact.errors import ConvergenceError
from impact.linear.core import fit_absorbed
from impact.linear.fixed_effects import FixedEffects
from impact.linear.poisson import IRLS_MAXITER, IRLS_TOL, poisson_irls

__all__ = ["ScoreCells", "poisson_projected_scores", "restricted_poisson_means"]

#: Draws processed at once (memory: cells x block floats).
_BLOCK = 2000
#: Fixed-effect-only Poisson fit: stop when no group's log-mean moves by more than this.
FE_ONLY_TOL = 1e-12


def _fe_only_means(y: FloatArray, fe: FixedEffects, off: FloatArray, maxiter: int) -> FloatArray:
    """Means of the Poisson model with fixed effects and an offset only: each dimension's
    effects solve ``sum_g y = sum_g mu`` given the others (exact in one dimension; the
    alternating updates converge to the maximum in several)."""
    eta = off.copy()
    for _ in range(maxiter):
        step = 0.0
        for codes, n in zip(fe.codes, fe.n_levels, strict=True):
            mu = np.exp(eta)
            with np.errstate(divide="ignore"):
                shift = np.log(np.bincount(codes, y, n)) - np.log(np.bincount(codes, mu, n))
            eta = eta + shift[codes]
            step = max(step, float(np.max(np.abs(shift[np.isfinite(shift)]), initial=0.0)))
        if step < FE_ONLY_TOL:
            return np.exp(eta)
    raise ConvergenceError(
        f"the restricted Poisson fit (fixed effects only) did not converge in {maxiter} sweeps."
    )


def restricted_poisson_means(
    y: FloatArray,
    X: FloatArray,
    fe: FixedEffects | None,
    off: FloatArray,
    j: int,
    theta: float,
    *,
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    fixef_tol: float,
    start: FloatArray | None = None,
) -> FloatArray:
    """Fitted means of the Poisson model with coefficient ``j`` held at ``theta`` (the
    regressor moves into the offset); ``start``: initial means (e.g. the unrestricted
    fit's, shifted to ``theta``), which cut the iterations near the fit."""
    off_r = off + theta * X[:, j]
    others = np.delete(X, j, axis=1)
    if others.shape[1]:
        fit = poisson_irls(y, others, fe, None, off_r, tol=tol, maxiter=maxiter,
                           fixef_tol=fixef_tol, start=start)  # fmt: skip
        return fit.mu
    if fe is None:  # nothing left to fit
        return np.exp(off_r)
    return _fe_only_means(y, fe, off_r, maxiter=100_000)


def poisson_projected_scores(
    y: FloatArray, X: FloatArray, fe: FixedEffects | None, mu: FloatArray, j: int,
    fixef_tol: float,
) -> FloatArray:  # fmt: skip
    """Each observation's score projected on coefficient ``j``: ``e_j' H^-1 x~_i (y_i -
    mu_i)``, with ``x~`` the regressors net of the fixed effects (weights ``mu``) and
    ``H = X~' diag(mu) X~`` (the fixed effects profiled out)."""
    core = fit_absorbed(np.zeros(len(y)), X, fe, mu, tol=fixef_tol, detect_collinear=False)
    return (core.Xd @ core.bread[:, j]) * (y - mu)


@dataclass(frozen=True)
class ScoreCells:
    """The cells of the bootstrap clusters crossed with every variance cluster term.

    ``boot`` is each cell's bootstrap cluster; ``terms`` hold, per variance term, its
    signed small-sample factor and the cells-to-clusters indicator matrix.
    """

    cell_of_row: np.ndarray
    boot: np.ndarray
    terms: tuple[tuple[float, sp.csr_matrix], ...]

    @classmethod
    def of(cls, boot_codes: np.ndarray, terms) -> ScoreCells:
        """``terms``: ``(signed factor, codes by row, number of clusters)`` per term."""
        keys = pd.MultiIndex.from_arrays([boot_codes, *[c for _, c, _ in terms]])
        cell, uniq = pd.factorize(keys)
        first = np.unique(cell, return_index=True)[1]
        n = len(uniq)
        mats = tuple(
            (f, sp.csr_matrix((np.ones(n), (c[first], np.arange(n))), shape=(H, n)))
            for f, c, H in terms
        )
        return cls(cell.astype(np.intp), boot_codes[first], mats)

    def sums(self, per_row: FloatArray) -> FloatArray:
        """Per-cell sums of a per-row quantity."""
        return np.bincount(self.cell_of_row, per_row, len(self.boot))

    def statistic(self, q: FloatArray) -> float:
        """``sum q / sqrt(variance)``: the observed statistic (every weight one)."""
        return float(self.t_stats(q, np.ones((int(self.boot.max()) + 1, 1)))[0])

    def variance(self, q: FloatArray) -> float:
        """The variance of ``sum q`` from the variance terms (cluster-robust, with the
        small-sample factors)."""
        return float(sum(f * np.sum((M @ q) ** 2) for f, M in self.terms))

    def t_stats(self, q: FloatArray, V: FloatArray) -> FloatArray:
        """``sum_c v_c q_c / sqrt(sum over terms f sum_h (sum_{c in h} v_c q_c)^2)`` per
        draw (columns of ``V``, bootstrap clusters x draws); NaN where the variance is
        not positive."""
        out = np.empty(V.shape[1])
        for start in range(0, V.shape[1], _BLOCK):
            P = V[self.boot, start : start + _BLOCK] * q[:, None]
            var = sum(f * np.sum(np.asarray(M @ P) ** 2, axis=0) for f, M in self.terms)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start : start + P.shape[1]] = np.where(
                    var > 0, P.sum(axis=0) / np.sqrt(np.maximum(var, 0.0)), np.nan
                )
        return out
