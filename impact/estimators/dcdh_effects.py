"""DID_l and its placebos for one direction of switch: estimates, influence functions, counts.

For effect ``l`` the switchers of a direction are the groups at ``t = F_g - 1 + l`` whose
outcome change ``Y_t - Y_{t-l}`` is observed and for which some group of the same baseline
treatment is still unchanged at ``t`` with its change observed; their change minus the
weighted mean change of those not-yet-switchers, averaged with the switchers' weights, is
``DID_l`` of that direction. Placebo ``l`` takes the same switchers and comparison dates
with the change ``Y_{t-2l} - Y_{t-l}`` (for the switchers ``Y_{F-1-l} - Y_{F-1}``).

Each group's influence function is returned twice: the one whose mean is the estimate,
and the one the variance reads, centred within cohorts of switchers (same baseline, switch
date and treatment at the switch) and cells of not-yet-switchers (same baseline and period),
scaled by ``sqrt(n / (n - 1))``, ``n`` the cohort's or cell's groups or clusters — the
conservative variance of de Chaisemartin & D'Haultfoeuille (2024, Web Appendix), as their
``did_multiplegt_dyn`` computes it. A cohort with one group (or cluster) is pooled with the
not-yet-switchers of its cell; a singleton cell pooled with nothing is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import BoolArray, FloatArray, IntArray
from impact.design.switching import SwitchingDesign
from impact.estimators.dcdh_controls import ControlFit, control_correction

__all__ = ["Horizon", "change", "eligible", "horizon_stats", "lead_eligible"]


@dataclass(frozen=True)
class Horizon:
    """One direction's statistics for one effect or placebo.

    Attributes
    ----------
    weight : float
        Weighted number of switchers (``N^s_l``); 0 when there are none.
    switchers : int
        Number of switchers.
    estimate : float
        ``DID^s_l`` (NaN without switchers).
    phi, phi_var : ndarray (G,)
        Influence functions divided by the number of groups: ``phi`` sums to the
        estimate; ``phi_var`` is the centred one of the variance.
    delta : float
        Mean cumulated treatment change of the switchers over ``F .. F - 1 + l`` (signed
        so that it is positive), the denominator of normalized effects.
    delta_now : float
        Mean treatment change at ``F - 1 + l`` (the average total effect's denominator).
    cells : ndarray (G, T)
        Weight of every cell that enters (switchers and their comparisons), else 0.
    """

    weight: float
    switchers: int
    estimate: float
    phi: FloatArray
    phi_var: FloatArray
    delta: float
    delta_now: float
    cells: FloatArray
    #: terms left out of the variance: switchers or comparisons whose cohort and cell
    #: lie in one cluster (the authors' rule)
    dropped: int = 0


def change(Y: FloatArray, new: int, old: int) -> FloatArray:
    """``Y[t - new] - Y[t - old]`` placed at column ``t`` (NaN where a term is missing):
    ``change(Y, 0, l)`` is effect ``l``'s change, ``change(Y, 2 * l, l)`` placebo ``l``'s."""
    return _lag(Y, new) - _lag(Y, old)


def _lag(Y: FloatArray, k: int) -> FloatArray:
    out = np.full_like(Y, np.nan)
    out[:, k:] = Y[:, : Y.shape[1] - k]
    return out


def _by_cell(values: FloatArray, comparison: IntArray, n_levels: int) -> FloatArray:
    """Sums of a (G, T) array over the groups of each comparison class: (classes, T)."""
    out = np.zeros((n_levels, values.shape[1]))
    np.add.at(out, comparison, values)
    return out


def eligible(design: SwitchingDesign, dY: FloatArray, control: FloatArray, h: int) -> BoolArray:
    """Groups that can be switchers of effect ``l`` whatever their direction: the change
    at ``F - 1 + l`` observed, ``l <= L_g`` and a weighted not-yet-switcher there."""
    G, T = dY.shape
    rows = np.arange(G)
    t = design.F - 1 + h
    inside = (design.L >= h) & (t < T) & (t >= 0)
    tc = np.clip(t, 0, T - 1)
    n_ctrl = _by_cell(np.nan_to_num(control) * design.N, design.comparison, _levels(design))
    return inside & np.isfinite(dY[rows, tc]) & (n_ctrl[design.comparison, tc] > 0)


def lead_eligible(design: SwitchingDesign, j: int, only_never: bool) -> BoolArray:
    """Groups whose placebo ``j`` is available in the authors' sense of
    ``same_switchers_pl``: the outcome observed in ``F - 1 - j`` and ``F - 1``, and a
    weighted group of the comparison class unchanged in ``F - 1 - j`` with its outcome
    observed then and ``j`` periods later."""
    G, T = design.Y.shape
    seen = np.isfinite(design.Y)
    later = np.zeros_like(seen)
    later[:, : T - j] = seen[:, j:]
    unchanged = design.F[:, None] > np.arange(T)[None, :]
    if only_never:
        unchanged &= (design.F == T)[:, None]
    n_ctrl = _by_cell(design.N * (unchanged & seen & later), design.comparison, _levels(design))
    rows = np.arange(G)
    at = design.F - 1 - j
    tc = np.clip(at, 0, T - 1)
    base = np.clip(design.F - 1, 0, T - 1)
    return (at >= 0) & seen[rows, tc] & seen[rows, base] & (n_ctrl[design.comparison, tc] > 0)


def _levels(design: SwitchingDesign) -> int:
    return int(design.comparison.max()) + 1


def horizon_stats(
    design: SwitchingDesign,
    dY: FloatArray,
    control: FloatArray,
    switcher: BoolArray,
    h: int,
    side: int,
    dX: FloatArray | None = None,
    controls: ControlFit | None = None,
) -> Horizon:
    """Estimate, influence functions and counts of one direction (``side`` 1: in, 0: out).

    Parameters
    ----------
    dY : ndarray (G, T)
        The outcome change each cell contributes (effect or placebo).
    control : ndarray (G, T)
        1 for a not-yet-switcher with ``dY`` observed, 0 for other observed cells, NaN
        where ``dY`` is missing.
    switcher : ndarray (G,) of bool
        Groups that are switchers of this horizon (any direction; the row is
        ``F - 1 + l``).
    dX, controls : ndarray (k, G, T) and ControlFit, optional
        The controls' changes over the same span as ``dY`` (already netted out of it)
        and their fit: the influence function gains the estimation of ``theta``.
    """
    G, T = dY.shape
    N, b = design.N, design.comparison
    k = _levels(design)
    t = np.arange(T)
    at = (t[None, :] == (design.F - 1 + h)[:, None]) & (switcher & (design.side == side))[:, None]
    n_ctrl = _by_cell(np.nan_to_num(control) * N, b, k)
    dist = at & np.isfinite(dY) & (n_ctrl[b] > 0)
    n_sw_cell = _by_cell(dist * N, b, k)
    weight = float((dist * N).sum())
    count = int(dist.sum())
    ctrl = np.nan_to_num(control) == 1
    cells = N * np.isfinite(dY) * (dist | (ctrl & (n_sw_cell[b] > 0)))
    if weight == 0:
        zero = np.zeros(G)
        return Horizon(0.0, count, np.nan, zero, zero, np.nan, np.nan, cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(ctrl & (n_ctrl[b] > 0), n_sw_cell[b] / n_ctrl[b], 0.0)
    coef = N * (dist - rho)
    y = np.nan_to_num(dY)
    phi = (coef * y).sum(axis=1) / weight
    centred, scale = _centring(design, y, dist & (N != 0), ctrl & (N != 0))
    phi_var = (coef * scale * (y - centred)).sum(axis=1) / weight
    if controls is not None:
        phi_var = phi_var + control_correction(coef, dX, weight, controls)
    sign = 1.0 if side == 1 else -1.0
    D = design.D - design.d[:, None]
    window = (t[None, :] >= design.F[:, None]) & (t[None, :] <= (design.F - 1 + h)[:, None])
    cumulated = np.where(window & np.isfinite(D), D, 0.0).sum(axis=1)
    now = np.nan_to_num(D[np.arange(G), np.clip(design.F - 1 + h, 0, T - 1)])
    w_g = (dist * N).sum(axis=1)
    return Horizon(
        weight=weight, switchers=count, estimate=float(phi.sum()), phi=phi, phi_var=phi_var,
        delta=sign * float(w_g @ cumulated) / weight, delta_now=sign * float(w_g @ now) / weight,
        cells=cells, dropped=int(((coef != 0) & (scale == 0)).sum()),
    )  # fmt: skip


def _centring(
    design: SwitchingDesign, y: FloatArray, sw: BoolArray, ct: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """The mean each cell's change is centred on and its ``sqrt(n / (n - 1))`` factor.

    Switchers: their cohort (baseline, switch date, treatment at the switch); comparison
    cells: their (baseline, period) cell; a cohort or cell of one group (or cluster) takes
    the pooled (baseline, period) cell of switchers and comparisons; where that too has
    one, the term is left out (scale 0).
    """
    G, T = y.shape
    N = design.N
    gid = np.broadcast_to(np.arange(G)[:, None], (G, T))
    tid = np.broadcast_to(np.arange(T)[None, :], (G, T))
    cell = design.comparison[:, None] * T + tid
    _, cohort = np.unique(
        np.column_stack([design.comparison, design.F, design.d_switch]), axis=0, return_inverse=True
    )
    cohort = np.broadcast_to(cohort.reshape(-1)[:, None], (G, T))
    centred = np.zeros((G, T))
    scale = np.zeros((G, T))
    m_s, n_s = _means(cohort[sw], y[sw], N[sw], design.cluster[gid[sw]])
    m_c, n_c = _means(cell[ct], y[ct], N[ct], design.cluster[gid[ct]])
    union = sw | ct
    m_u, n_u = _means(cell[union], y[union], N[union], design.cluster[gid[union]])
    pooled_u = np.zeros((G, T), dtype=bool)
    pooled_m = np.zeros((G, T))
    pooled_n = np.zeros((G, T))
    pooled_m[union], pooled_n[union] = m_u, n_u
    for mask, m, n in ((sw, m_s, n_s), (ct, m_c, n_c)):
        own = n >= 2
        idx = np.flatnonzero(mask.ravel())
        flat_c, flat_s = centred.reshape(-1), scale.reshape(-1)
        flat_c[idx[own]] = m[own]
        flat_s[idx[own]] = np.sqrt(n[own] / (n[own] - 1))
        pooled_u.reshape(-1)[idx[~own]] = True
    pool = pooled_u & (pooled_n >= 2)
    centred[pool] = pooled_m[pool]
    scale[pool] = np.sqrt(pooled_n[pool] / (pooled_n[pool] - 1))
    return centred, scale


def _means(
    key: IntArray, y: FloatArray, w: FloatArray, cluster: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Weighted mean of ``y`` within each key and the number of distinct clusters there,
    returned for every element."""
    if not len(key):
        return np.zeros(0), np.zeros(0)
    _, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    sw = np.bincount(inv, weights=w)
    sy = np.bincount(inv, weights=w * y)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sw > 0, sy / sw, 0.0)
    pairs = np.unique(np.column_stack([inv, cluster]), axis=0)
    n = np.bincount(pairs[:, 0], minlength=len(sw)).astype(float)
    return mean[inv], n[inv]
