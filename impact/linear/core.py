"""The numerical core of every linear fixed-effects fit: project, detect collinearity, solve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import BoolArray, DemeanStrategy, FloatArray
from impact.errors import EmptySampleError
from impact.linear.collinear import column_scale, find_collinear
from impact.linear.demean import DEMEAN_TOL, demean
from impact.linear.fixed_effects import FixedEffects, count_fixef_rank
from impact.linear.ols import weighted_gram, wls_from_gram

__all__ = ["AbsorbedFit", "fit_absorbed"]


@dataclass(frozen=True)
class AbsorbedFit:
    """Weighted least squares with fixed effects projected out.

    Attributes
    ----------
    beta : ndarray (k,)
        Coefficients of the kept regressors.
    bread : ndarray (k, k)
        ``(X~' W X~)^{-1}``.
    resid : ndarray (n,)
        Residuals of the full model (unweighted).
    Xd : ndarray (n, k)
        Kept regressors with fixed effects projected out.
    yd : ndarray (n,)
        Outcome with fixed effects projected out.
    keep : ndarray of bool (k_all,)
        Which regressors were kept (the rest are collinear).
    reasons : list of str
        Why each dropped regressor was dropped.
    fe_rank : int
        Identified fixed-effect coefficients.
    strategy : str
        Demeaning strategy used.
    """

    beta: FloatArray
    bread: FloatArray
    resid: FloatArray
    Xd: FloatArray
    yd: FloatArray
    keep: BoolArray
    reasons: list[str]
    fe_rank: int
    strategy: str


def fit_absorbed(
    y: FloatArray,
    X: FloatArray,
    fe: FixedEffects | None,
    weights: FloatArray | None = None,
    *,
    tol: float = DEMEAN_TOL,
    maxiter: int = 100_000,
    strategy: DemeanStrategy = "auto",
    detect_collinear: bool = True,
) -> AbsorbedFit:
    """Fit ``y = X b + FE + u`` by weighted least squares.

    ``detect_collinear=False`` keeps every column (for refits on columns already
    checked, e.g. later IRLS iterations, where near-zero weights must not drop more).

    Raises
    ------
    EmptySampleError
        Every regressor is collinear with the fixed effects.
    """
    n, k_all = X.shape
    V = np.empty((n, k_all + 1), order="F")
    V[:, 0] = y
    V[:, 1:] = X
    if fe is not None:
        dm = demean(V, fe, weights, tol=tol, maxiter=maxiter, strategy=strategy)
        R, used = dm.values, dm.strategy
        fe_rank = dm.fe_rank if dm.fe_rank is not None else count_fixef_rank(fe)
    else:
        R, used, fe_rank = V, "none", 0
    gram = weighted_gram(R, weights)
    if detect_collinear:
        keep, reasons = find_collinear(gram[1:, 1:], column_scale(X, weights))
    else:
        keep, reasons = np.ones(k_all, dtype=bool), []
    if not keep.any():
        raise EmptySampleError("every regressor is collinear with the fixed effects.")
    idx = np.r_[0, 1 + np.flatnonzero(keep)]
    Xd = R[:, 1:][:, keep]
    fit = wls_from_gram(gram[np.ix_(idx, idx)], R[:, 0], Xd)
    return AbsorbedFit(
        beta=fit.beta,
        bread=fit.bread,
        resid=fit.resid,
        Xd=Xd,
        yd=R[:, 0],
        keep=keep,
        reasons=reasons,
        fe_rank=fe_rank,
        strategy=used,
    )
