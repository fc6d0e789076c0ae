"""Wild cluster bootstrap-t of estimators that are linear in the outcome (pure functions).

Every DiD estimator of the package is linear in the outcome ``Y`` given the design (cells,
comparison groups, covariates, propensity scores): the estimates ``theta(Y)`` and the
influence functions ``IF(Y)`` (one row per unit) are linear maps. Split ``Y = Yhat + u``
(``Yhat`` the fit of a model that nests the truth, e.g. unit effects plus cohort-by-period
means) and let ``u^(c)`` be the residuals of cluster ``c`` (zero elsewhere). The wild
bootstrap outcome ``Y* = Yhat + sum_c v_c u^(c)`` then gives, with no refit per draw,

    theta(Y*) - theta(Yhat) = sum_c v_c D_c,           D_c = theta(u^(c)),
    cluster sums of IF(Y*) = S_hat + sum_c v_c J_c,    J_c = cluster sums of IF(u^(c)),

so ``G + 1`` runs of the estimator (on ``Yhat`` and on each ``u^(c)``) yield every draw's
estimate and standard error: the bootstrap-t statistics studentize each draw by its own
standard error, which is what keeps tests and sup-t bands honest with few clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray

__all__ = ["LinearWildT", "bootstrap_t", "sup_t_critical", "symmetric_p"]

#: Draws processed at once (memory: G x block x m floats).
_BLOCK = 1000


@dataclass(frozen=True)
class LinearWildT:
    """The linear pieces of the bootstrap.

    Attributes
    ----------
    centre : ndarray (m,)
        ``theta(Yhat)``: the parameters of the bootstrap world.
    S_centre : ndarray (G, m)
        Cluster sums of ``IF(Yhat)``.
    D : ndarray (G, m)
        ``theta(u^(c))`` by cluster ``c``.
    J : ndarray (G, G, m)
        ``J[h, c]``: cluster-``h`` sums of ``IF(u^(c))``.
    n : int
        Rows of the influence functions (the variance is ``S'S / n^2``).
    """

    centre: FloatArray
    S_centre: FloatArray
    D: FloatArray
    J: FloatArray
    n: int


def bootstrap_t(pieces: LinearWildT, V: FloatArray, floor: FloatArray | float = 0.0) -> FloatArray:
    """Bootstrap t-statistics ``(theta* - centre) / se*`` for cluster weights ``V``
    (G x B): a ``B x m`` array (NaN where a draw's standard error is at most ``floor``,
    per column: rounding noise of sums that cancel)."""
    B = V.shape[1]
    m = pieces.D.shape[1]
    out = np.empty((B, m))
    for start in range(0, B, _BLOCK):
        Vb = V[:, start : start + _BLOCK]
        shift = Vb.T @ pieces.D  # (b, m)
        S = pieces.S_centre[:, None, :] + np.einsum("hcj,cb->hbj", pieces.J, Vb)
        se = np.sqrt(np.einsum("hbj,hbj->bj", S, S)) / pieces.n
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + Vb.shape[1]] = np.where(se > floor, shift / se, np.nan)
    return out


def symmetric_p(t: FloatArray, t_boot: FloatArray, tie_rtol: float) -> FloatArray:
    """Per-column share of ``|t*| >= |t|`` (ties within ``tie_rtol`` included)."""
    tol = tie_rtol * np.maximum(np.abs(t), 1e-300)
    return np.mean(np.abs(t_boot) >= (np.abs(t) - tol)[None, :], axis=0)


def sup_t_critical(t_boot: FloatArray, alpha: float) -> float:
    """``1 - alpha`` quantile over draws of ``max_j |t*_j|``."""
    return float(np.quantile(np.nanmax(np.abs(t_boot), axis=1), 1 - alpha))
