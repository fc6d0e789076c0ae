"""Saturated cohort x period event-study regression from cell sufficient statistics.

The Sun & Abraham (2021) regression

    y_it = a_i + l_t + sum_{g, r != ref} d_{g,r} 1{G_i = g, t - g = r} + e_it

has one dummy for every treated (cohort, period) cell except each cohort's reference
period. Reparametrised, it is a two-way fixed-effects model with no regressors,
``y_it = a_i + m_{c(i,t)}``, whose small dimension ``c`` is the *cell*: ``(g, t)`` for a
treated, non-reference observation and ``(control, t)`` for a control observation or a
treated one at its reference period. Then ``l_t = m_(control,t)`` and
``d_{g,t-g} = m_(g,t) - m_(control,t)``. Both models have the same fitted values,
residuals and number of parameters, so the cluster-robust variance of the contrasts
equals the dummy regression's (Frisch–Waugh–Lovell).

Everything here is computed from per-unit sums and a sparse unit-by-cell incidence
matrix (SCALE.md §2.2, "Sun–Abraham / saturated event study"): memory is a few arrays
of length N plus (cells x cells) matrices, never an N-by-cells dummy matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from impact._typing import FloatArray, IntArray
from impact.inference.clusters import check_cluster_count, cluster_cell_sums
from impact.inference.ssc import SSC, small_sample
from impact.linear.fixed_effects import FixedEffects, find_singletons, is_nested

__all__ = [
    "CellSystem",
    "RestrictedFit",
    "SaturatedFit",
    "cell_system",
    "drop_two_way_singletons",
    "restricted_cell_fit",
    "saturated_fit",
    "solve_restricted",
    "solve_saturated",
]


@dataclass(frozen=True)
class SaturatedFit:
    """Identified treated-cell effects d_(g,t) and their clustered (CRV1) covariance.

    Attributes
    ----------
    cohort, period : ndarray of int
        Cohort code and period code of every identified treated cell.
    estimate : ndarray
        ``m_(g,t) - m_(control,t)``.
    vcov : ndarray
        CRV1 covariance with fixest's default small-sample factor (the unit effects are
        nested in the clusters, the period effects are counted).
    n_rows : ndarray of int
        Observations (= units) in every identified treated cell.
    unidentified : list of (int, int)
        Treated cells with observations whose effect is not identified (the cell is not
        connected, through shared units, to the control cell of its period).
    n_obs, n_units, n_clusters : int
    """

    cohort: IntArray
    period: IntArray
    estimate: FloatArray
    vcov: FloatArray
    n_rows: IntArray
    unidentified: list[tuple[int, int]]
    n_obs: int
    n_units: int
    n_clusters: int


def drop_two_way_singletons(unit: IntArray, period: IntArray) -> np.ndarray:
    """Rows kept after iterative removal of units and periods observed once (fixest rule;
    the unit + period case of :func:`impact.linear.fixed_effects.find_singletons`)."""
    if not len(unit):
        return np.ones(0, dtype=bool)
    n_u, n_t = int(unit.max()) + 1, int(period.max()) + 1
    fe = FixedEffects(
        codes=(unit, period),
        n_levels=(n_u, n_t),
        names=("unit", "period"),
        labels=(pd.RangeIndex(n_u), pd.RangeIndex(n_t)),
    )
    return find_singletons(fe)[0]


def _crv1_factor(n: int, k: int, U: int, T: int, G: int, nested_t: bool) -> float:
    """fixest's CRV1 factor for unit + period effects, units nested in the clusters
    (``nested_t``: every period's rows lie in one cluster)."""
    small = small_sample(
        SSC.fixest(),
        vcov_type="cluster",
        N=n,
        k=k,
        fe_levels=U + T,
        fe_rank_full=U + T - 1,
        fe_levels_nested=U + (T if nested_t else 0),
        n_fe_nested=1 + int(nested_t),
        n_fe=2,
        G=(G,),
        G_min=G,
    )
    return small.factors[0]


@dataclass(frozen=True)
class CellSystem:
    """The unit-partialled normal equations of ``y_it = a_i + m_cell(i,t) + e_it``.

    ``S = diag(n_cell) - A' D^-1 A`` and ``b = cell sums of y - A' ybar`` with ``A`` the
    unit-by-cell incidence and ``D`` the units' row counts; ``AtDA = A' D^-1 A``.
    ``meat(m)`` returns the clusters' cross-products of the cell sums of the residuals
    at cell effects ``m`` (``Z'Z``, cells x cells). Built from rows
    (:func:`cell_system`) or from sums over unit types in a query engine.
    """

    n_cell: FloatArray
    b: FloatArray
    AtDA: FloatArray
    meat: Callable[[FloatArray], FloatArray]
    n_obs: int
    n_units: int
    n_periods: int
    n_clusters: int
    nested_t: bool

    @property
    def S(self) -> FloatArray:
        return np.diag(self.n_cell) - self.AtDA


def cell_system(
    y: FloatArray, unit: IntArray, period: IntArray, cell: IntArray, K: int, cluster: IntArray
) -> CellSystem:
    """The :class:`CellSystem` of rows (codes ``0..U-1``, ``0..T-1``, ``0..K-1``,
    ``0..G-1``; clusters constant within units)."""
    n, T = len(y), int(period.max()) + 1
    U, G = int(unit.max()) + 1, int(cluster.max()) + 1
    check_cluster_count(G, "cluster", "event_study")
    T_i = np.bincount(unit, minlength=U).astype(float)
    ybar = np.bincount(unit, y, minlength=U) / T_i
    A = sp.csr_matrix((np.ones(n), (unit, cell)), shape=(U, K))
    AtDA = (A.T @ sp.diags(1.0 / T_i) @ A).toarray()
    b = np.bincount(cell, y, minlength=K) - A.T @ ybar

    def meat(m: FloatArray) -> FloatArray:
        alpha = ybar - (A @ m) / T_i
        e = y - alpha[unit] - m[cell]
        Z = cluster_cell_sums(e, cluster, cell, G, K)
        return (Z.T @ Z).toarray()

    return CellSystem(
        n_cell=np.bincount(cell, minlength=K).astype(float),
        b=b,
        AtDA=AtDA,
        meat=meat,
        n_obs=n,
        n_units=U,
        n_periods=T,
        n_clusters=G,
        nested_t=is_nested(period, cluster, T),
    )


def saturated_fit(
    y: FloatArray,
    unit: IntArray,
    period: IntArray,
    cohort: IntArray,
    ref_period: IntArray,
    cluster: IntArray,
) -> SaturatedFit:
    """Fit the saturated event-study regression and return the treated-cell effects.

    Parameters
    ----------
    y : ndarray (N,)
        Outcome (finite).
    unit, period : ndarray of int (N,)
        Codes ``0..U-1`` and ``0..T-1`` (every code occurring); one row per (unit, period).
    cohort : ndarray of int (N,)
        ``-1`` for control units, else a cohort code ``0..C-1`` (constant within units).
    ref_period : ndarray of int (C,)
        Period code of each cohort's reference period (its rows count as control rows).
    cluster : ndarray of int (N,)
        Cluster codes ``0..G-1``, constant within units.

    Returns
    -------
    SaturatedFit
    """
    T, C = int(period.max()) + 1, len(ref_period)
    treated_row = (cohort >= 0) & (period != ref_period[np.maximum(cohort, 0)])
    # cell ids: 0..T-1 control cells, T + c*T + t treated cells
    cell = np.where(treated_row, T + np.maximum(cohort, 0) * T + period, period)
    return solve_saturated(cell_system(y, unit, period, cell, T + C * T, cluster), C)


def solve_saturated(system: CellSystem, n_cohorts: int) -> SaturatedFit:
    """The treated-cell effects of a saturated :class:`CellSystem` whose cells are
    ``0..T-1`` (control cells) and ``T + c*T + t`` (cohort ``c``'s treated cells)."""
    T, C = system.n_periods, n_cohorts
    K = T + C * T
    n_cell = system.n_cell
    AtDA = system.AtDA
    S = system.S
    present = n_cell > 0
    idx = np.flatnonzero(present)
    n_comp, comp_of = connected_components(sp.csr_matrix(AtDA[np.ix_(idx, idx)] != 0))
    comp = np.full(K, -1)
    comp[idx] = comp_of
    # one normalised cell per connected component (its first, a control cell if any)
    fixed = np.zeros(K, dtype=bool)
    for j in range(n_comp):
        fixed[idx[comp_of == j][0]] = True
    free = np.flatnonzero(present & ~fixed)
    Sinv = np.zeros((K, K))
    if len(free):
        Sinv[np.ix_(free, free)] = sla.inv(S[np.ix_(free, free)], check_finite=False)
    mu = Sinv @ system.b
    meat = system.meat(mu)
    # contrasts d_(c,t) = m_(c,t) - m_(control,t) that are identified
    tc = np.arange(T, K)
    c_code, t_code = (tc - T) // T, (tc - T) % T
    has = present[tc]
    ok = has & present[t_code] & (comp[tc] == comp[t_code])
    unidentified = [
        (int(c), int(t)) for c, t in zip(c_code[has & ~ok], t_code[has & ~ok], strict=True)
    ]
    rows = tc[ok]
    # parameters as a dummy regression counts them (fixest's K): every present treated
    # cell, less one normalisation per connected component without a control cell
    ctrl_comps = set(comp[:T][present[:T]].tolist())
    extra_norms = len({int(c) for c in comp[tc[has]]} - ctrl_comps)
    k_params = int(has.sum()) - extra_norms
    L = np.zeros((len(rows), K))
    L[np.arange(len(rows)), rows] = 1.0
    L[np.arange(len(rows)), t_code[ok]] = -1.0
    LS = L @ Sinv
    factor = _crv1_factor(
        system.n_obs, k_params, system.n_units, T, system.n_clusters, system.nested_t
    )
    return SaturatedFit(
        cohort=c_code[ok],
        period=t_code[ok],
        estimate=L @ mu,
        vcov=factor * (LS @ meat @ LS.T),
        n_rows=n_cell[rows].astype(np.int64),
        unidentified=unidentified,
        n_obs=system.n_obs,
        n_units=system.n_units,
        n_clusters=system.n_clusters,
    )


@dataclass(frozen=True)
class RestrictedFit:
    """Coefficients of a regression whose regressors are functions of the cell, with
    unit effects absorbed, and their clustered (CRV1) covariance (fixest factors)."""

    coef: FloatArray
    vcov: FloatArray
    n_obs: int
    n_units: int
    n_clusters: int


def restricted_cell_fit(
    y: FloatArray,
    unit: IntArray,
    period: IntArray,
    cell: IntArray,
    R: FloatArray,
    k_slopes: int,
    cluster: IntArray,
) -> RestrictedFit | None:
    """``y = a_unit + m_cell + e`` with ``m = R theta``: unit effects plus any regressors
    that are constant within cells (period effects, binned relative-time dummies).

    ``R`` (cells x p) maps the parameters to cell means; its last ``k_slopes`` columns are
    the reported slopes (the others, e.g. period effects, are nuisance). The normal
    equations ``R' S R theta = R' b`` use the unit-partialled cell system of
    :func:`saturated_fit`; the cluster scores are ``R'`` times per-cluster cell sums of the
    residuals (clusters must nest units). Returns None when ``R' S R`` is singular (a
    regressor is collinear), so the caller can fall back to a general solver.
    """
    return solve_restricted(cell_system(y, unit, period, cell, R.shape[0], cluster), R, k_slopes)


def solve_restricted(system: CellSystem, R: FloatArray, k_slopes: int) -> RestrictedFit | None:
    """:func:`restricted_cell_fit` on a :class:`CellSystem`."""
    H = R.T @ system.S @ R
    try:
        chol = sla.cho_factor(H, check_finite=False)
    except sla.LinAlgError:
        return None
    bread = sla.cho_solve(chol, np.eye(len(H)), check_finite=False)
    if not np.all(np.isfinite(bread)) or np.linalg.cond(H) > 1e12:
        return None
    theta = bread @ (R.T @ system.b)
    meat = R.T @ system.meat(R @ theta) @ R
    factor = _crv1_factor(
        system.n_obs, k_slopes, system.n_units, system.n_periods, system.n_clusters,
        system.nested_t,
    )  # fmt: skip
    V = factor * (bread @ meat @ bread)
    s = slice(len(theta) - k_slopes, len(theta))
    return RestrictedFit(theta[s], V[s, s], system.n_obs, system.n_units, system.n_clusters)
