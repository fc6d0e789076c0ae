"""Two-period DiD estimators for repeated cross-sections and their influence functions.

Outcome regression, normalised IPW and the locally efficient doubly robust estimator of
Sant'Anna & Zhao (2020) for repeated cross-sections, with the influence functions of R
``DRDID`` (``reg_did_rc``, ``std_ipw_did_rc``, ``drdid_rc``): the building block of
``att_gt(panel="rcs")``.

References
----------
Sant'Anna, P. H. C., & Zhao, J. (2020). Doubly robust difference-in-differences
estimators. Journal of Econometrics, 219(1), 101–122.
"""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray
from impact.errors import EmptySampleError, InvalidOptionError
from impact.estimators.drdid import PS_MAX, PS_TRIM, CellEstimate
from impact.linear.logit import logit_fit

__all__ = ["did_rc"]


def _ols(X: FloatArray, y: FloatArray, sel: FloatArray, w: FloatArray):
    """OLS of y on X over rows with weight w * sel; fitted values and linear representation."""
    n = len(y)
    ws = w * sel
    XtX = (X * ws[:, None]).T @ X / n
    if np.linalg.cond(XtX) > 1 / np.finfo(float).eps:
        raise EmptySampleError(
            "an outcome regression of a repeated cross-section cell is singular: a covariate "
            "does not vary within a group-period."
        )
    inv = np.linalg.inv(XtX)
    beta = inv @ ((X * ws[:, None]).T @ y / n)
    fitted = X @ beta
    rep = (ws * (y - fitted))[:, None] * X @ inv
    return fitted, rep


def _ps(X: FloatArray, D: FloatArray, w: FloatArray):
    n = len(D)
    ps = np.minimum(logit_fit(X, D, w).fitted, PS_MAX)
    H = (X * (ps * (1 - ps) * w)[:, None]).T @ X
    rep = (w * (D - ps))[:, None] * X @ (np.linalg.inv(H) * n)
    return ps, rep


def _mean_part(weight: FloatArray, values: FloatArray) -> tuple[float, FloatArray]:
    """Normalised weighted mean and its leading influence term."""
    m = weight.mean()
    eta = weight * values / m
    est = float(eta.mean())
    return est, eta - weight * est / m


def did_rc(
    y: FloatArray,
    post: FloatArray,
    D: FloatArray,
    X: FloatArray,
    weights: FloatArray,
    method: str,
) -> CellEstimate:
    """ATT from a repeated cross-section of treated (``D = 1``) and comparison units.

    Parameters
    ----------
    y : ndarray (n,)
        Outcome of each observation.
    post : ndarray (n,)
        1 for observations of the target period, 0 for the base period.
    D : ndarray (n,)
        1 for the treated cohort, 0 for comparison units.
    X : ndarray (n, k)
        Covariates of each observation with an intercept first.
    weights : ndarray (n,)
        Sampling weights (normalised to mean 1 here).
    method : {"reg", "ipw", "dr"}
        ``"dr"`` is the locally efficient doubly robust estimator (R ``drdid_rc``).

    Returns
    -------
    CellEstimate
        ``inf`` is per observation.
    """
    w = weights / weights.mean()
    pre = 1 - post
    if method == "reg":
        fit_pre, rep_pre = _ols(X, y, (1 - D) * pre, w)
        fit_post, rep_post = _ols(X, y, (1 - D) * post, w)
        t_pre, inf_t_pre = _mean_part(w * D * pre, y)
        t_post, inf_t_post = _mean_part(w * D * post, y)
        wc = w * D
        cont = wc * (fit_post - fit_pre)
        eta_c = cont.mean() / wc.mean()
        M1 = (wc[:, None] * X).mean(axis=0)
        inf_c = (cont - wc * eta_c + rep_post @ M1 - rep_pre @ M1) / wc.mean()
        att = (t_post - t_pre) - eta_c
        return CellEstimate(att=float(att), inf=(inf_t_post - inf_t_pre) - inf_c)
    if method not in ("ipw", "dr"):
        raise InvalidOptionError(f"method must be 'reg', 'ipw' or 'dr', got {method!r}.")
    ps, rep_ps = _ps(X, D, w)
    trim = np.where(D == 1, 1.0, (ps < PS_TRIM).astype(float)) if method == "dr" else 1.0
    odds = ps / (1 - ps)
    w_tpre, w_tpost = trim * w * D * pre, trim * w * D * post
    w_cpre, w_cpost = trim * w * odds * (1 - D) * pre, trim * w * odds * (1 - D) * post
    if method == "ipw":
        t_pre, inf_t_pre = _mean_part(w_tpre, y)
        t_post, inf_t_post = _mean_part(w_tpost, y)
        c_pre, inf_c_pre = _mean_part(w_cpre, y)
        c_post, inf_c_post = _mean_part(w_cpost, y)
        M2_pre = (w_cpre[:, None] * (y - c_pre)[:, None] * X).mean(axis=0) / w_cpre.mean()
        M2_post = (w_cpost[:, None] * (y - c_post)[:, None] * X).mean(axis=0) / w_cpost.mean()
        inf_c = (inf_c_post - inf_c_pre) + rep_ps @ (M2_post - M2_pre)
        att = (t_post - t_pre) - (c_post - c_pre)
        return CellEstimate(att=float(att), inf=(inf_t_post - inf_t_pre) - inf_c)
    # locally efficient doubly robust estimator
    fc_pre, rep_c_pre = _ols(X, y, (1 - D) * pre, w)
    fc_post, rep_c_post = _ols(X, y, (1 - D) * post, w)
    ft_pre, rep_t_pre = _ols(X, y, D * pre, w)
    ft_post, rep_t_post = _ols(X, y, D * post, w)
    fc = post * fc_post + pre * fc_pre
    resid = y - fc
    t_pre, inf_t_pre = _mean_part(w_tpre, resid)
    t_post, inf_t_post = _mean_part(w_tpost, resid)
    c_pre, inf_c_pre = _mean_part(w_cpre, resid)
    c_post, inf_c_post = _mean_part(w_cpost, resid)
    w_d, w_dt1, w_dt0 = trim * w * D, trim * w * D * post, trim * w * D * pre
    d_post, inf_e1 = _mean_part(w_d, ft_post - fc_post)
    dt1_post, inf_e2 = _mean_part(w_dt1, ft_post - fc_post)
    d_pre, inf_e3 = _mean_part(w_d, ft_pre - fc_pre)
    dt0_pre, inf_e4 = _mean_part(w_dt0, ft_pre - fc_pre)
    att = (t_post - t_pre) - (c_post - c_pre) + (d_post - dt1_post) - (d_pre - dt0_pre)
    # estimation effects
    M1_post = -(w_tpost[:, None] * post[:, None] * X).mean(axis=0) / w_tpost.mean()
    M1_pre = -(w_tpre[:, None] * pre[:, None] * X).mean(axis=0) / w_tpre.mean()
    inf_treat = (inf_t_post - inf_t_pre) + rep_c_post @ M1_post + rep_c_pre @ M1_pre
    M2_pre = (w_cpre[:, None] * (resid - c_pre)[:, None] * X).mean(axis=0) / w_cpre.mean()
    M2_post = (w_cpost[:, None] * (resid - c_post)[:, None] * X).mean(axis=0) / w_cpost.mean()
    M3_post = -(w_cpost[:, None] * post[:, None] * X).mean(axis=0) / w_cpost.mean()
    M3_pre = -(w_cpre[:, None] * pre[:, None] * X).mean(axis=0) / w_cpre.mean()
    inf_cont = (inf_c_post - inf_c_pre) + rep_ps @ (M2_post - M2_pre)
    inf_cont = inf_cont + rep_c_post @ M3_post + rep_c_pre @ M3_pre
    inf_eff = (inf_e1 - inf_e2) - (inf_e3 - inf_e4)
    mom_post = ((w_d / w_d.mean() - w_dt1 / w_dt1.mean())[:, None] * X).mean(axis=0)
    mom_pre = ((w_d / w_d.mean() - w_dt0 / w_dt0.mean())[:, None] * X).mean(axis=0)
    inf_or = (rep_t_post - rep_c_post) @ mom_post - (rep_t_pre - rep_c_pre) @ mom_pre
    return CellEstimate(att=float(att), inf=inf_treat - inf_cont + inf_eff + inf_or)
