"""Borusyak, Jaravel & Spiess's imputation and Gardner's two-stage (did2s) event studies
from sums over unit types in a query engine
(:func:`impact.estimators.imputation.imputation_fit` and
:func:`impact.estimators.did2s.did2s_fit` without the rows).

The first stage (unit + period effects on the untreated observations) is a two-way
system whose period block needs, per unit type (cohort, periods observed), only its units
and the sums of their untreated outcomes; a unit's effect is the mean over its untreated
periods of ``y - lambda``. Every observation's first-stage residual is then
``r_it = y_it - mean_U(y_i) + mean_U(lambda) - lambda_t``, and both estimators are
averages of these. Their variances' unit scores are ``sum_t c_t r_it + const`` with
weights ``c_t`` fixed by the type (the aggregation weights less their projection on the
first stage's design), so they come from the types' second moments (unit clusters) or
the (cluster, type) sums (:mod:`impact.estimators.engine_types`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from impact._typing import FloatArray
from impact.design.engine_panel import NEVER, EnginePanel
from impact.errors import ImpactError
from impact.estimators.did2s import Did2sFit
from impact.estimators.engine_types import TypeMoments, score_sums
from impact.estimators.es_adapters import EventFit, did2s_event_fit, imputation_event_fit
from impact.estimators.es_request import EventRequest
from impact.estimators.imputation import (
    NOT_IMPUTABLE,
    NOTHING_IMPUTABLE,
    ImputationFit,
    cell_block,
)
from impact.inference.clusters import check_cluster_count

__all__ = ["FirstStageTypes", "PeriodSystem", "did2s_types", "imputation_types"]


class PeriodSystem:
    """Unit + period effects on the untreated slots ``U`` (rows, T) of rows of ``count``
    units each, the unit effects partialled out, factorised once (one period per
    connected component set to zero)."""

    def __init__(self, U: np.ndarray, count: FloatArray) -> None:
        self.U, self.count = U, count
        self.n_u = np.maximum(U.sum(axis=1), 1)
        Uf = U.astype(float)
        n_t = count @ Uf
        CtC = (Uf * (count / self.n_u)[:, None]).T @ Uf
        self.period_comp, self.free, self.factor = cell_block(n_t, CtC)

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

    def unit_weights(self, per_unit: FloatArray) -> FloatArray:
        """Minus the projection on the first stage's design of weights that are, per
        unit of each row, ``per_unit`` (rows, T, k) on its slots: the weight of every
        untreated slot (rows, T, k)."""
        Uf = self.U.astype(float)
        lam_w = self.solve(self.count[:, None] * per_unit.sum(axis=1),
                           np.einsum("r,rtk->tk", self.count, per_unit))  # fmt: skip
        a_w = (per_unit.sum(axis=1) - Uf @ lam_w) / self.n_u[:, None]
        return -Uf[:, :, None] * (a_w[:, None, :] + lam_w[None, :, :])


class FirstStageTypes:
    """The first stage fitted over the types, and every unit's residuals' sums.

    Attributes
    ----------
    U, imputable : ndarray of bool (rows, T)
        Untreated slots; slots whose unit and period are connected through untreated
        observations (the sample of both estimators).
    cohort : ndarray
        Grid position (NaN: never treated).
    resid : ndarray (rows, T)
        Per row and imputable slot, the sum over its units of ``r_it``.
    """

    def __init__(self, pan: EnginePanel, tm: TypeMoments) -> None:
        self.pan, self.tm = pan, tm
        self.cohort = np.where(tm.g == NEVER, np.nan, tm.g)
        seen, cnt = tm.seen, tm.count
        self.pos = pan.slots.astype(float)
        with np.errstate(invalid="ignore"):
            late = self.pos[None, :] < (self.cohort - pan.anticipation)[:, None]
        self.U = seen & (np.isnan(self.cohort)[:, None] | late)
        self.system = system = PeriodSystem(self.U, cnt)
        ucomp, tcomp = system.unit_comp(), system.period_comp
        ok = seen & (ucomp[:, None] >= 0) & (tcomp[None, :] >= 0)
        self.imputable = ok & (ucomp[:, None] == tcomp[None, :])
        lost = round(float(cnt @ (seen & ~self.imputable).sum(axis=1)))
        self.log = pan.log.with_drop("not_imputable", NOT_IMPUTABLE, lost)
        if not (cnt[:, None] * (self.imputable & ~self.U)).any():
            raise ImpactError(NOTHING_IMPUTABLE)
        Y = tm.ysum() * seen  # per row and slot: sum of y less the units' means
        Uf = self.U.astype(float)
        lam = system.solve((Y * Uf).sum(axis=1)[:, None], (Y * Uf).sum(axis=0)[:, None])
        self.lam = lam[:, 0]
        self.lam_u = (Uf @ self.lam) / system.n_u  # per row: mean of lambda over U
        alpha_sum = (Y * Uf).sum(axis=1) / system.n_u - cnt * self.lam_u
        self.resid = (Y - alpha_sum[:, None] - cnt[:, None] * self.lam[None, :]) * self.imputable

    def rel_time(self) -> np.ndarray:
        """Event time of every slot (0 for never-treated rows)."""
        return (self.pos[None, :] - np.nan_to_num(self.cohort)[:, None]).astype(int)

    def variance(
        self, c: FloatArray, const: FloatArray, cluster: str, who: str
    ) -> tuple[FloatArray, int]:
        """``sum_g z_g z_g'`` of the unit scores ``z_i = sum_t c_t r_it + const`` (``c``
        (rows, T, k) zero off the imputable slots, ``const`` (rows, k)), and the
        clusters."""
        U, n_u = self.U.astype(float), self.system.n_u
        Pm = np.transpose(c, (0, 2, 1)) - c.sum(axis=1)[:, :, None] * (U / n_u[:, None])[:, None]
        q = np.einsum("rtk,rt->rk", c, self.lam_u[:, None] - self.lam[None, :]) + const
        sc = score_sums(self.tm, Pm, q)
        if self.tm.cluster is not None:
            S = sc.by_cluster(self.tm)
            V, G = S.T @ S, S.shape[0]
        else:
            assert sc.gram is not None
            V, G = sc.gram, self.pan.n_units
        check_cluster_count(G, cluster, who)
        return V, G

    def n_obs(self) -> int:
        return round(float(self.tm.count @ self.tm.seen.sum(axis=1)))


def _cell_means(fs: FirstStageTypes, on: np.ndarray, key: np.ndarray) -> FloatArray:
    """Per slot in ``on``: the mean of ``r`` over the units' slots with its ``key``."""
    r1, _ = np.nonzero(on)
    _, inv = np.unique(np.column_stack([np.nan_to_num(fs.cohort[r1]), key[on]]), axis=0,
                       return_inverse=True)  # fmt: skip
    inv = inv.ravel()
    n = np.bincount(inv, weights=np.broadcast_to(fs.tm.count[:, None], on.shape)[on])
    out = np.zeros(on.shape)
    out[on] = (np.bincount(inv, weights=fs.resid[on]) / n)[inv]
    return out


def imputation_types(pan: EnginePanel, tm: TypeMoments, r: EventRequest, cl: str) -> EventFit:
    """The imputation event study (horizons 0 .. window end) over unit types."""
    fs = FirstStageTypes(pan, tm)
    cnt = tm.count
    T1 = fs.imputable & ~fs.U
    h = np.where(T1, fs.rel_time(), 0)
    hs = np.unique(h[T1 & (h >= -pan.anticipation)])
    hs = hs[(hs >= 0) & (hs <= r.window[1])]
    cols = [*(T1 & (h == k) for k in hs), T1 & (h >= 0)]
    W = np.zeros((*h.shape, len(cols)))  # one unit's aggregation weights
    for j, sel in enumerate(cols):
        W[..., j] = sel / max(float((cnt[:, None] * sel).sum()), 1.0)
    est = np.einsum("rt,rtk->k", fs.resid, W)
    # each treated slot less its cohort-horizon mean: the conservative residual
    tau_bar = _cell_means(fs, T1, h)
    c = W + fs.system.unit_weights(W)
    V, G = fs.variance(c, -np.einsum("rtk,rt->rk", W, tau_bar), cl, "imputation")
    imp = ImputationFit(
        horizons=hs,
        estimate=est[:-1],
        vcov=V[:-1, :-1],
        overall=float(est[-1]),
        overall_se=float(np.sqrt(max(V[-1, -1], 0.0))),
        n_obs=fs.n_obs(),
        n_units=pan.n_units,
        sample_log=fs.log,
        n_clusters=G,
        counts=np.array([float((cnt[:, None] * (T1 & (h == k))).sum()) for k in hs]),
    )
    return imputation_event_fit(imp, r, cl)


def did2s_types(pan: EnginePanel, tm: TypeMoments, r: EventRequest, cl: str) -> EventFit:
    """Gardner's two-stage event study (every event time but the reference) over unit
    types."""
    fs = FirstStageTypes(pan, tm)
    cnt = tm.count
    rel = fs.rel_time()
    dummy = fs.imputable & ~np.isnan(fs.cohort)[:, None] & (rel != r.reference)
    rel_times = np.unique(rel[dummy])
    D = np.zeros((*rel.shape, len(rel_times)))
    r_i, t_i = np.nonzero(dummy)
    D[r_i, t_i, np.searchsorted(rel_times, rel[dummy])] = 1.0
    counts = np.einsum("r,rtk->k", cnt, D)
    beta = np.einsum("rt,rtk->k", fs.resid, D) / counts
    c = (D + fs.system.unit_weights(D)) / counts
    V, G = fs.variance(c, -np.einsum("rtk,k->rk", D, beta / counts), cl, "did2s")
    fit = Did2sFit(rel_times.astype(int), beta, V, fs.log, pan.n_units, G, counts=counts)
    return did2s_event_fit(fit, r, cl)
