"""Borusyak, Jaravel & Spiess's imputation event study from sums over unit types in a
query engine (:func:`impact.estimators.imputation.imputation_fit` without the rows).

The first stage (unit + period effects on the untreated observations) is a two-way
system whose period block needs, per unit type (cohort, periods observed), only its units
and the sums of their untreated outcomes; a unit's effect is the mean over its untreated
periods of ``y - lambda``. The imputed effects, their horizon averages, the projection
weights of the Theorem 3 variance and every unit's score ``z_i = P_k y_i + q_k`` are then
fixed by the type, so the variance comes from the types' second moments (unit clusters)
or the (cluster, type) sums (:mod:`impact.estimators.engine_types`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from impact._typing import FloatArray
from impact.design.engine_panel import NEVER, EnginePanel
from impact.errors import ImpactError
from impact.estimators.engine_types import TypeMoments, score_sums
from impact.estimators.es_adapters import EventFit, imputation_event_fit
from impact.estimators.es_request import EventRequest
from impact.estimators.imputation import NOT_IMPUTABLE, NOTHING_IMPUTABLE, ImputationFit
from impact.inference.clusters import check_cluster_count

__all__ = ["PeriodSystem", "imputation_types"]


class PeriodSystem:
    """Unit + period effects on the untreated slots ``U`` (rows, T) of rows of ``count``
    units each, the unit effects partialled out, factorised once (one period per
    connected component set to zero)."""

    def __init__(self, U: np.ndarray, count: FloatArray) -> None:
        self.U = U
        self.n_u = np.maximum(U.sum(axis=1), 1)
        Uf = U.astype(float)
        n_t = count @ Uf
        CtC = (Uf * (count / self.n_u)[:, None]).T @ Uf
        A = np.diag(n_t) - CtC
        present = np.flatnonzero(n_t > 0)
        _, comp = connected_components(sp.csr_matrix(CtC[np.ix_(present, present)] != 0))
        first = np.unique(comp, return_index=True)[1]
        self.period_comp = np.full(U.shape[1], -1)
        self.period_comp[present] = comp
        self.free = np.setdiff1d(present, present[first])
        self.factor = sla.cho_factor(A[np.ix_(self.free, self.free)], check_finite=False)

    def unit_comp(self) -> np.ndarray:
        """Connected component of every row's units (-1: no untreated slot)."""
        first = np.argmax(self.U, axis=1)
        return np.where(self.U.any(axis=1), self.period_comp[first], -1)

    def solve(self, b_rows: FloatArray, b_t: FloatArray) -> FloatArray:
        """Period effects for right-hand sides summed over each row's units
        (``b_rows`` (rows, k)) and by period (``b_t`` (T, k))."""
        rhs = b_t - self.U.T.astype(float) @ (b_rows / self.n_u[:, None])
        lam = np.zeros_like(rhs)
        lam[self.free] = sla.cho_solve(self.factor, rhs[self.free], check_finite=False)
        return lam


def _weights(h: np.ndarray, on: np.ndarray, count: FloatArray, hs: np.ndarray) -> FloatArray:
    """Aggregation weight of one unit's entry (rows, T, horizons + 1): per horizon, and
    the average of all post-treatment entries."""
    cols = [*(on & (h == k) for k in hs), on & (h >= 0)]
    W = np.zeros((*h.shape, len(cols)))
    for c, sel in enumerate(cols):
        W[..., c] = sel / max(float((count[:, None] * sel).sum()), 1.0)
    return W


def imputation_types(pan: EnginePanel, tm: TypeMoments, r: EventRequest, cl: str) -> EventFit:
    """The imputation event study (horizons 0 .. window end) over unit types."""
    g = np.where(tm.g == NEVER, np.nan, tm.g)
    seen, cnt, pos = tm.seen, tm.count, pan.slots.astype(float)
    with np.errstate(invalid="ignore"):
        U = seen & (np.isnan(g)[:, None] | (pos[None, :] < (g - pan.anticipation)[:, None]))
    system = PeriodSystem(U, cnt)
    ucomp, tcomp = system.unit_comp(), system.period_comp
    imputable = seen & (ucomp[:, None] >= 0) & (tcomp[None, :] >= 0)
    imputable &= ucomp[:, None] == tcomp[None, :]
    log = pan.log.with_drop(
        "not_imputable", NOT_IMPUTABLE, round(float(cnt @ (seen & ~imputable).sum(axis=1)))
    )
    T1 = imputable & ~U
    if not (cnt[:, None] * T1).any():
        raise ImpactError(NOTHING_IMPUTABLE)
    n_u = system.n_u
    Y = tm.ysum() * seen  # per row and slot: sum of y less the units' means
    Uf = U.astype(float)
    lam = system.solve((Y * Uf).sum(axis=1)[:, None], (Y * Uf).sum(axis=0)[:, None])[:, 0]
    lam_u = (Uf @ lam) / n_u  # per row: mean of lambda over the untreated slots
    alpha_sum = (Y * Uf).sum(axis=1) / n_u - cnt * lam_u
    tau_sum = Y - alpha_sum[:, None] - cnt[:, None] * lam[None, :]
    h = np.where(T1, pos[None, :] - np.nan_to_num(g)[:, None], 0).astype(int)
    hs = np.unique(h[T1 & (h >= -pan.anticipation)])
    hs = hs[(hs >= 0) & (hs <= r.window[1])]
    W = _weights(h, T1, cnt, hs)
    est = np.einsum("rt,rtk->k", tau_sum, W)
    # projection of the treated weights on the first stage's design
    b_rows = cnt[:, None] * W.sum(axis=1)
    lam_w = system.solve(b_rows, np.einsum("r,rtk->tk", cnt, W))
    a_w = (W.sum(axis=1) - Uf @ lam_w) / n_u[:, None]
    # each treated entry less its cohort-horizon mean (the conservative residual)
    r1, _ = np.nonzero(T1)
    _, inv = np.unique(np.column_stack([g[r1], h[T1]]), axis=0, return_inverse=True)
    inv = inv.ravel()
    n_cell = np.bincount(inv, weights=np.broadcast_to(cnt[:, None], T1.shape)[T1])
    tau_bar = np.zeros(T1.shape)
    tau_bar[T1] = (np.bincount(inv, weights=tau_sum[T1]) / n_cell)[inv]
    c = W - Uf[:, :, None] * (a_w[:, None, :] + lam_w[None, :, :])
    Pm = np.transpose(c, (0, 2, 1)) - (c.sum(axis=1)[:, :, None] * (Uf / n_u[:, None])[:, None, :])
    q = np.einsum("rtk,rt->rk", c, (T1 | U) * (lam_u[:, None] - lam[None, :]))
    q -= np.einsum("rtk,rt->rk", W, tau_bar)
    sc = score_sums(tm, Pm, q)
    if tm.cluster is not None:
        S = sc.by_cluster(tm)
        V, G = S.T @ S, S.shape[0]
    else:
        assert sc.gram is not None
        V, G = sc.gram, pan.n_units
    check_cluster_count(G, cl, "imputation")
    imp = ImputationFit(
        horizons=hs,
        estimate=est[:-1],
        vcov=V[:-1, :-1],
        overall=float(est[-1]),
        overall_se=float(np.sqrt(max(V[-1, -1], 0.0))),
        n_obs=round(float(cnt @ seen.sum(axis=1))),
        n_units=pan.n_units,
        sample_log=log,
        n_clusters=G,
    )
    return imputation_event_fit(imp, r, cl)
