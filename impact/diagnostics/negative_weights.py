"""The weights TWFE puts on treated cells and their robustness measures
(de Chaisemartin & D'Haultfœuille 2020, Theorem 1 and Corollaries 1-2).

Pure functions. With a binary treatment, the TWFE coefficient of ``y ~ D | group + time``
is ``beta_fe = sum over treated cells of p_gt w_gt Delta_gt`` (under parallel trends),
where ``Delta_gt`` is the cell's average treatment effect, ``p_gt = N_gt / N_1`` its share
of the treated observations and ``w_gt`` proportional to the residual of ``D`` on the two
sets of fixed effects, scaled so that ``sum p_gt w_gt = 1``. A cell with a negative
residual gets a negative weight: TWFE can then be negative although every cell effect is
positive.

References
----------
de Chaisemartin, C., & D'Haultfœuille, X. (2020). Two-way fixed effects estimators with
heterogeneous treatment effects. American Economic Review, 110(9), 2964-2996.
"""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray
from impact.results.negative_weights import WeightSummary

__all__ = ["ZERO_WEIGHT", "sigma_fe", "sigma_sign_change", "summarize_weights"]

#: Weights closer to zero than this count as zero (neither positive nor negative), as in
#: the authors' twowayfeweights: residuals of exactly balanced designs are zero up to
#: rounding.
ZERO_WEIGHT = 1e-10


def summarize_weights(weights: FloatArray) -> WeightSummary:
    """Count and sum the positive and negative weights (``|weight| < ZERO_WEIGHT``: zero)."""
    pos, neg = weights >= ZERO_WEIGHT, weights <= -ZERO_WEIGHT
    return WeightSummary(
        int(pos.sum()), int(neg.sum()), float(weights[pos].sum()), float(weights[neg].sum())
    )


def sigma_fe(beta: float, w: FloatArray, p: FloatArray) -> float:
    """Corollary 1: the smallest standard deviation of the cell effects (across treated
    cells, weighted by ``p``) compatible with ``beta`` and an average effect of zero,
    ``|beta| / sigma(w)`` with ``sigma(w)^2 = sum p (w - 1)^2``.

    The effects that attain it are ``Delta = beta (w - 1) / sigma(w)^2``. With equal
    weights (``sigma(w)`` zero up to rounding, e.g. one treatment date and never-treated
    units) TWFE is the average effect itself: infinite unless ``beta`` is 0.
    """
    spread = float(np.sqrt(p @ (w - 1.0) ** 2))
    if spread <= ZERO_WEIGHT:
        return 0.0 if beta == 0 else float("inf")
    return float(abs(beta) / spread)


def sigma_sign_change(beta: float, w: FloatArray, p: FloatArray) -> float:
    """Corollary 2: the smallest standard deviation of the cell effects compatible with
    ``beta`` and every cell effect of the opposite sign to ``beta`` (NaN without a
    negative weight, when no such effects exist).

    With the weights sorted in decreasing order, ``P_k``, ``S_k`` and ``T_k`` the sums over
    cells ``i >= k`` of ``p``, ``p w`` and ``p w^2``, and ``s*`` the first ``k`` with
    ``w_k < -S_k / (1 - P_k)``: ``|beta| / sqrt(T_s* + S_s*^2 / (1 - P_s*))``. Cells with a
    zero weight (``|p w| < ZERO_WEIGHT``, e.g. units treated in every period) are left out,
    as in the authors' ``twowayfeweights``.
    """
    if not np.any(w * p <= -ZERO_WEIGHT):
        return float("nan")
    nonzero = np.abs(w * p) >= ZERO_WEIGHT
    w, p = w[nonzero], p[nonzero]
    order = np.argsort(-w, kind="stable")
    ws, ps = w[order], p[order]
    P = np.cumsum(ps[::-1])[::-1]
    S = np.cumsum((ps * ws)[::-1])[::-1]
    T = np.cumsum((ps * ws**2)[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -S / (1.0 - P)
    candidates = np.flatnonzero((ws < bound) & (P < 1.0))
    if not len(candidates):
        return float("nan")
    k = int(candidates[0])
    return float(abs(beta) / np.sqrt(T[k] + S[k] ** 2 / (1.0 - P[k])))
