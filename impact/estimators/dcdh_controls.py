"""Control variables of de Chaisemartin & D'Haultfoeuille's DID_l (Web Appendix, "with
covariates"), as their ``did_multiplegt_dyn`` implements them.

For every baseline treatment level ``d``, ``theta_d`` is the coefficient of the controls'
first differences in a weighted regression of the outcome's first differences on them and
period effects (within comparison classes), on the cells of groups of baseline ``d`` that
have not switched yet. Every change of the outcome that enters ``DID_l`` or a placebo is
then net of the same change of the controls times ``theta_d``. The influence function of
an effect gains the estimation error of ``theta``: ``m_d' M_d^{-1} s_g``, with ``m_d`` the
derivative of the effect in ``theta_d``, ``M_d`` the regression's (demeaned) Gram matrix
and ``s_g`` group ``g``'s score ``sum_t N_gt (dX_gt - mean) e_gt``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray, IntArray
from impact.design.switching import SwitchingDesign
from impact.errors import ImpactWarning

__all__ = ["ControlFit", "control_correction", "fit_controls", "net_of_controls"]


@dataclass(frozen=True)
class ControlFit:
    """``theta`` by baseline level and what the influence-function correction needs.

    Attributes
    ----------
    level : ndarray (G,) of int
        Each group's baseline level code.
    theta : ndarray (levels, k)
        Coefficients (zeros where a level is not residualized).
    inv_gram : ndarray (levels, k, k)
        Moore-Penrose inverses of the demeaned Gram matrices.
    score : ndarray (G, k)
        Each group's score in the regression of its level.
    """

    level: IntArray
    theta: FloatArray
    inv_gram: FloatArray
    score: FloatArray


def _cell_means(values: FloatArray, w: FloatArray, cell: IntArray, n_cells: int) -> FloatArray:
    """Weighted mean of ``values`` (..., G, T) within each cell code of a (G, T) array."""
    sw = np.bincount(cell.ravel(), weights=w.ravel(), minlength=n_cells)
    flat = values.reshape(-1, w.size)
    sums = np.stack([np.bincount(cell.ravel(), weights=(v * w.ravel()), minlength=n_cells)
                     for v in flat])  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(sw > 0, sums / sw, 0.0)
    return means[:, cell].reshape(values.shape)


def fit_controls(design: SwitchingDesign) -> ControlFit:
    """``theta_d``, the inverse Gram matrices and the groups' scores (module docstring)."""
    X, Y, N = design.X, design.Y, design.N
    k, (G, T) = X.shape[0], Y.shape
    dY = np.full((G, T), np.nan)
    dY[:, 1:] = Y[:, 1:] - Y[:, :-1]
    dX = np.full_like(X, np.nan)
    dX[:, :, 1:] = X[:, :, 1:] - X[:, :, :-1]
    t = np.arange(T)
    use = (t[None, :] < design.F[:, None]) & np.isfinite(dY) & np.isfinite(dX).all(axis=0)
    w = np.where(use, N, 0.0)
    cell = design.comparison[:, None] * T + t[None, :]
    n_cells = int(cell.max()) + 1
    r = np.where(use, np.nan_to_num(dX) - _cell_means(np.nan_to_num(dX), w, cell, n_cells), 0.0)
    ry = np.where(use, np.nan_to_num(dY) - _cell_means(np.nan_to_num(dY), w, cell, n_cells), 0.0)
    level = np.unique(design.d, return_inverse=True)[1].reshape(-1)
    n_lv = int(level.max()) + 1
    theta, inv_gram = np.zeros((n_lv, k)), np.zeros((n_lv, k, k))
    score = np.zeros((G, k))
    skipped, collinear = [], []
    for b in range(n_lv):
        rows = level == b
        if len(np.unique(design.F[rows])) < 2:
            skipped.append(b)
            continue
        rb, yb, wb = r[:, rows], ry[rows], w[rows]
        gram = np.einsum("igt,jgt,gt->ij", rb, rb, wb)
        inv = np.linalg.pinv(gram)
        theta[b] = inv @ np.einsum("igt,gt,gt->i", rb, yb, wb)
        inv_gram[b] = inv
        scale = np.sqrt(np.diag(gram))
        varies = scale > 1e-12 * max(scale.max(), 1.0)
        unit = gram[np.ix_(varies, varies)] / np.outer(scale[varies], scale[varies])
        if varies.sum() and np.linalg.matrix_rank(unit, tol=1e-10) < varies.sum():
            collinear.append(b)
        e = yb - np.einsum("igt,i->gt", rb, theta[b])
        score[rows] = np.einsum("igt,gt,gt->gi", rb, e, wb)
    levels = np.unique(design.d)
    if skipped:
        warnings.warn(
            "did_multiplegt: the controls are not taken into account for groups of baseline "
            f"treatment {', '.join(str(v) for v in levels[skipped])}: their switch dates do "
            "not vary.", ImpactWarning, stacklevel=3,
        )  # fmt: skip
    if collinear:
        warnings.warn(
            "did_multiplegt: the controls are collinear among groups of baseline treatment "
            f"{', '.join(str(v) for v in levels[collinear])}: their coefficients are not "
            "identified one by one (the minimum-norm solution is used); the effects and "
            "their standard errors are not affected.", ImpactWarning, stacklevel=3,
        )  # fmt: skip
    return ControlFit(level=level, theta=theta, inv_gram=inv_gram, score=score)


def net_of_controls(dY: FloatArray, dX: FloatArray, fit: ControlFit) -> FloatArray:
    """``dY - theta_{d_g}' dX`` (NaN where a change of a control is missing)."""
    return dY - np.einsum("igt,gi->gt", dX, fit.theta[fit.level])


def control_correction(
    coef: FloatArray, dX: FloatArray, weight: float, fit: ControlFit
) -> FloatArray:
    """Each group's term for the estimation of ``theta`` in the influence function of an
    effect ``sum coef (dY - theta' dX) / weight``: ``m_d' M_d^{-1} s_g``."""
    grad = -np.einsum("gt,igt->gi", coef, np.nan_to_num(dX)) / weight
    n_lv = fit.theta.shape[0]
    m = np.zeros((n_lv, grad.shape[1]))
    np.add.at(m, fit.level, grad)
    return np.einsum("gi,gij,gj->g", m[fit.level], fit.inv_gram[fit.level], fit.score)
