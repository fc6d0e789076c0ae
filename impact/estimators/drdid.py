"""Two-period, two-group DiD estimators for panel data and their influence functions.

The building block of :func:`impact.att_gt`: outcome regression (Heckman, Ichimura &
Todd 1997), normalised inverse probability weighting (Abadie 2005) and the traditional
doubly robust estimator (Sant'Anna & Zhao 2020), each with the influence function that
accounts for the estimated nuisance parameters — the conventions of R ``DRDID``
(``reg_did_panel``, ``std_ipw_did_panel``, ``drdid_panel``).

References
----------
Sant'Anna, P. H. C., & Zhao, J. (2020). Doubly robust difference-in-differences
estimators. Journal of Econometrics, 219(1), 101–122.
Abadie, A. (2005). Semiparametric difference-in-differences estimators. Review of
Economic Studies, 72(1), 1–19.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray
from impact.errors import (
    CollinearityError,
    ConvergenceError,
    EmptySampleError,
    InvalidOptionError,
)
from impact.linear.collinear import find_collinear
from impact.linear.logit import logit_fit

__all__ = [
    "OVERLAP_TOL",
    "PS_MAX",
    "PS_TRIM",
    "CellEstimate",
    "check_covariates",
    "control_gram_inverse",
    "did_covariates_batch",
    "did_means",
    "did_panel",
    "outcome_gram_inverse",
    "overlap_fails",
    "propensity",
]

#: Fitted propensity scores are capped here to avoid dividing by zero (DRDID).
PS_MAX = 1 - 1e-6
#: Control units with a propensity score at or above this level get zero weight (DRDID).
PS_TRIM = 0.995
#: Overlap fails when the reweighted comparison units keep less than this share of the
#: treated units' weight (a separated logit: the share is then 1e-10 or less, where it is
#: of order one with overlap).
OVERLAP_TOL = 1e-6


@dataclass(frozen=True)
class CellEstimate:
    """ATT of one 2x2 comparison and its influence function over the comparison's units.

    ``inf`` is scaled so that ``sqrt(mean(inf**2) / n)`` is the standard error.
    """

    att: float
    inf: FloatArray


@dataclass(frozen=True)
class _LinearRep:
    """Asymptotic linear representation ``scale[:, None] * X @ minv`` of a nuisance fit.

    Kept factored so that products with a vector never form the n-by-k matrix.
    """

    scale: FloatArray
    minv: FloatArray

    def dot(self, X: FloatArray, v: FloatArray) -> FloatArray:
        """``rep @ v`` for the rows ``X`` the representation was built on.

        ``scale`` may hold one column per outcome (n, m) and ``v`` one column per outcome
        (k, m); the result is then (n, m).
        """
        r = X @ (self.minv @ v)
        if self.scale.ndim == 2 and r.ndim == 1:
            r = r[:, None]
        scale = self.scale[:, None] if (self.scale.ndim == 1 and r.ndim == 2) else self.scale
        return scale * r


def _col_means(X: FloatArray, v: FloatArray) -> FloatArray:
    """``(v[:, None] * X).mean(axis=0)`` without the n-by-k temporary."""
    return X.T @ v / len(v)


def check_covariates(gram: FloatArray, names: Sequence[str], units: str) -> None:
    """Refuse covariates that do not vary or are collinear among a comparison's ``units``.

    ``gram`` is ``X' diag(v) X`` of the intercept and the covariates with positive
    weights ``v``. The covariates' Gram about their weighted means is tested as
    :func:`impact.linear.collinear.find_collinear` tests regressors after fixed effects
    (the intercept plays their part), so a covariate whose variation is below
    :data:`~impact.linear.collinear.COLLIN_TOL` of its level is refused too: its
    nuisance fit would rest on rounding.

    Raises
    ------
    CollinearityError
    """
    if len(gram) < 2 or gram[0, 0] <= 0:
        return
    centred = gram[1:, 1:] - np.outer(gram[1:, 0], gram[0, 1:]) / gram[0, 0]
    keep, reasons = find_collinear(centred, np.diag(gram)[1:].copy())
    if keep.all():
        return
    j = int(np.flatnonzero(~keep)[0])
    what = (
        "does not vary (or varies too little for its level)"
        if reasons[0] == "fixed effects"
        else "is collinear with the other covariates"
    )
    raise CollinearityError(
        f"covariate {names[j]!r} {what} among the {units} of a comparison (a treated cohort "
        "and its controls in one ATT(g,t)); drop it or center and rescale it."
    )


def outcome_gram_inverse(X: FloatArray, D: FloatArray, w: FloatArray) -> FloatArray:
    """``(X' diag(w (1 - D)) X / n)^-1``: the controls' outcome-regression Gram inverse.

    It depends on the comparison's units, covariates and weights only, so cells that
    share those can share it (see :func:`did_covariates_batch`).
    """
    n = len(D)
    return control_gram_inverse((X.T * (w * (1 - D))) @ X / n)


def control_gram_inverse(XtX: FloatArray) -> FloatArray:
    """The inverse of the controls' outcome-regression Gram ``XtX``.

    Raises
    ------
    EmptySampleError
        ``XtX`` is singular: a covariate does not vary among the comparison units.
    """
    try:
        factor = sla.cho_factor(XtX, check_finite=False)
    except (sla.LinAlgError, ValueError) as exc:
        raise EmptySampleError(
            "outcome regression among controls is singular: a covariate does not vary among "
            "the comparison units of a cell."
        ) from exc
    return sla.cho_solve(factor, np.eye(len(XtX)), check_finite=False)


def _ols_linear_rep(
    X: FloatArray, dy: FloatArray, D: FloatArray, w: FloatArray, xtx_inv: FloatArray | None = None
):
    """Weighted OLS of dy on X among controls: fitted values, asymptotic linear representation."""
    n = len(dy)
    wc = w * (1 - D)
    inv = outcome_gram_inverse(X, D, w) if xtx_inv is None else xtx_inv
    beta = inv @ ((X.T * wc) @ dy) / n
    fitted = X @ beta
    wcol = wc[:, None] if dy.ndim == 2 else wc
    return fitted, _LinearRep(wcol * (dy - fitted), inv)


def _ps_linear_rep(X: FloatArray, D: FloatArray, w: FloatArray):
    n = len(D)
    fit = logit_fit(X, D, w)
    ps = np.minimum(fit.fitted, PS_MAX)
    W = ps * (1 - ps) * w
    H = (X.T * W) @ X
    return ps, _LinearRep(w * (D - ps), np.linalg.inv(H) * n)


def overlap_fails(ps: FloatArray, D: FloatArray, w: FloatArray) -> bool:
    """The reweighted comparison units keep less than :data:`OVERLAP_TOL` of the treated
    units' weight: the covariates (nearly) separate the two, so the IPW and DR estimates
    rest on a few near-zero scores (on where the logit's iterations stopped)."""
    keep = (D == 0) & (ps < PS_TRIM)
    control = float(np.sum(np.where(keep, w * ps / (1 - ps), 0.0)))
    return control < OVERLAP_TOL * float(np.sum(w * D))


def _calibrated_ps(X: FloatArray, D: FloatArray, w: FloatArray, tol: float = 1e-12) -> FloatArray:
    """Calibrated propensity score (Tan 2019; Sant'Anna & Zhao 2020, Section 3.2).

    Minimises the convex loss mean(w [exp(X'g) (1 - D) - D X'g]) by Newton steps with step
    halving from the logit estimate; at the optimum the odds exp(X'g) of the controls
    reweight them to the treated covariate totals exactly.
    """
    gamma = logit_fit(X, D, w).coef
    n = len(D)

    def loss(g: FloatArray) -> float:
        v = X @ g
        return float(np.mean(w * np.where(D == 1, -v, np.exp(v))))

    current = loss(gamma)
    for _ in range(200):
        v = X @ gamma
        e = np.exp(v) * (1 - D)
        grad = X.T @ (w * (e - D)) / n
        H = (X * (w * e)[:, None]).T @ X / n
        step = np.linalg.solve(H, grad)
        t = 1.0
        while True:
            cand = gamma - t * step
            new = loss(cand)
            if new <= current or t < 1e-10:
                break
            t /= 2
        gamma, moved = cand, np.max(np.abs(t * step))
        current = new
        if moved <= tol * max(1.0, float(np.max(np.abs(gamma)))):
            break
    else:
        raise ConvergenceError("calibrated propensity score did not converge.")
    return 1.0 / (1.0 + np.exp(-(X @ gamma)))


def _did_improved(dy: FloatArray, D: FloatArray, X: FloatArray, w: FloatArray) -> CellEstimate:
    ps = np.minimum(_calibrated_ps(X, D, w), 1 - 1e-16)
    odds = ps / (1 - ps)
    wc = w * odds * (1 - D)
    beta = np.linalg.lstsq(X * np.sqrt(wc)[:, None], dy * np.sqrt(wc), rcond=None)[0]
    resid = dy - X @ beta
    summand = (1 - (1 - D) / (1 - ps)) * resid
    att = float(np.mean(w * summand) / np.mean(D * w))
    inf = w * (summand - D * att) / np.mean(D * w)
    return CellEstimate(att=att, inf=inf)


def did_means(dy: FloatArray, D: FloatArray, w: FloatArray) -> CellEstimate:
    """Unconditional DiD: weighted mean change of the treated minus that of the controls.

    The influence function is what the regression, IPW and DR estimators reduce to with
    an intercept only.
    """
    wt, wc = w * D, w * (1 - D)
    mt, mc = wt.mean(), wc.mean()
    mu1 = float(wt @ dy) / (mt * len(dy))
    mu0 = float(wc @ dy) / (mc * len(dy))
    inf = wt * (dy - mu1) / mt - wc * (dy - mu0) / mc
    return CellEstimate(att=mu1 - mu0, inf=inf)


def did_panel(
    dy: FloatArray, D: FloatArray, X: FloatArray, weights: FloatArray, method: str
) -> CellEstimate:
    """ATT of the treated (``D = 1``) from outcome changes ``dy`` of treated and controls.

    Parameters
    ----------
    dy : ndarray (n,)
        Outcome change between the base period and the target period.
    D : ndarray (n,)
        1 for treated units, 0 for comparison units.
    X : ndarray (n, k)
        Covariates at the base period with an intercept first (only the intercept for an
        unconditional comparison).
    weights : ndarray (n,)
        Sampling weights (normalised to mean 1 here).
    method : {"reg", "ipw", "dr", "dr_improved"}
        ``"dr_improved"``: the improved (locally efficient, bias-reduced) doubly robust
        estimator of Sant'Anna & Zhao (2020) with a calibrated propensity score and a
        propensity-weighted outcome regression (R ``DRDID::drdid_imp_panel``); its
        influence function has no estimation effect.
    """
    w = weights / weights.mean()
    if method not in ("reg", "ipw", "dr", "dr_improved"):
        raise InvalidOptionError(
            f"method must be 'reg', 'ipw', 'dr' or 'dr_improved', got {method!r}."
        )
    if X.shape[1] == 1:  # no covariates: every method is the difference of weighted means
        return did_means(dy, D, w)
    if method == "dr_improved":
        return _did_improved(dy, D, X, w)
    att, inf = did_covariates_batch(dy[:, None], D, X, w, method)
    return CellEstimate(att=float(att[0]), inf=inf[:, 0])


def propensity(X: FloatArray, D: FloatArray, w: FloatArray) -> tuple[FloatArray, _LinearRep]:
    """Logit propensity score (capped below 1) and its asymptotic linear representation.

    It depends on the comparison's units, their base-period covariates and weights only,
    so cells that share those can share one fit (see :func:`did_covariates_batch`).
    """
    return _ps_linear_rep(X, D, w)


def did_covariates_batch(
    DY: FloatArray,
    D: FloatArray,
    X: FloatArray,
    w: FloatArray,
    method: str,
    ps: tuple[FloatArray, _LinearRep] | None = None,
    xtx_inv: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The regression, IPW and traditional DR estimators with their estimation effects,
    for several outcome changes (columns of ``DY``) that share the comparison's units,
    covariates and weights: one nuisance fit, matrix algebra.

    ``w`` must already be normalised to mean 1 (see :func:`did_panel`); ``ps`` is an
    optional precomputed :func:`propensity` fit and ``xtx_inv`` an optional
    :func:`outcome_gram_inverse` on the same ``X``, ``D`` and ``w``.

    Returns
    -------
    att : ndarray (m,)
    inf : ndarray (n, m)
    """
    if method == "reg":
        fitted, rep = _ols_linear_rep(X, DY, D, w, xtx_inv)
        wt = w * D
        treat, cont = wt[:, None] * DY, wt[:, None] * fitted
        eta_t, eta_c = treat.mean(axis=0) / wt.mean(), cont.mean(axis=0) / wt.mean()
        inf_t = (treat - wt[:, None] * eta_t) / wt.mean()
        inf_c = ((cont - wt[:, None] * eta_c) + rep.dot(X, _col_means(X, wt))) / wt.mean()
        return eta_t - eta_c, inf_t - inf_c
    ps, rep_ps = _ps_linear_rep(X, D, w) if ps is None else ps
    n = len(D)
    keep = np.where(D == 1, True, ps < PS_TRIM)
    wt = keep * w * D
    wc = keep * w * ps * (1 - D) / (1 - ps)
    Wt, Wc = wt.mean(), wc.mean()
    # per-unit multiplier of the residuals: the treated and reweighted-control terms and,
    # for DR, the outcome regression's estimation effect (its linear representation is
    # w (1 - D) resid x' inv, so its contribution is resid times a per-unit scalar)
    c1 = wt / Wt - wc / Wc
    if method == "ipw":
        resid = DY
    else:
        inv = outcome_gram_inverse(X, D, w) if xtx_inv is None else xtx_inv
        beta = inv @ ((X.T * (w * (1 - D))) @ DY) / n
        resid = DY - (beta.T @ X.T).T  # column-major, as DY
        a_t = X @ (inv @ (X.T @ wt / n))
        a_c = X @ (inv @ (X.T @ wc / n))
        c1 = c1 + w * (1 - D) * (a_c / Wc - a_t / Wt)
    eta_t = (wt @ resid) / n / Wt
    eta_c = (wc @ resid) / n / Wc
    # propensity-score estimation effect: rep_ps @ mean(wc (resid - eta_c) x)
    V = ((X.T * wc) @ resid - np.outer(X.T @ wc, eta_c)) / n
    # inf = resid c1 - (wt/Wt) eta_t' + (wc/Wc) eta_c' - (scale/Wc) X minv V: the three
    # rank-few terms as one product (n x (2 + k)) @ ((2 + k) x m)
    U = np.column_stack([wt / Wt, wc / Wc, (rep_ps.scale / Wc)[:, None] * X])
    M = np.vstack([-eta_t, eta_c, -(rep_ps.minv @ V)])
    inf = np.multiply(resid, c1[:, None], order="F")  # columns copied out by the caller
    inf += (M.T @ U.T).T
    return eta_t - eta_c, inf
