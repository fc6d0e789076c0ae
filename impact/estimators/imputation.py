"""Imputation estimator of Borusyak, Jaravel & Spiess (2024) with its Theorem 3 variance.

Unit and period effects are fitted on untreated observations only; the treated
observations' counterfactuals are imputed from them, and effects are averaged by horizon.
The conservative variance clusters by unit: each observation's weight on the estimate
(treated: the aggregation weight; untreated: minus the projection of those weights on the
fixed-effect design) times its residual (untreated: the fitted residual; treated: the
imputed effect net of its cohort-horizon mean).

References
----------
Borusyak, K., Jaravel, X., & Spiess, J. (2024). Revisiting event-study designs: robust and
efficient estimation. Review of Economic Studies, 91(6), 3253–3285.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.columns import check_columns, missing_mask
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.design.cohorts import normalize_cohorts
from impact.design.staggered import unit_constant
from impact.errors import ImpactError
from impact.linear.groupby import group_sums, group_weights

__all__ = ["ImputationFit", "did2s_fit", "imputation_fit"]


@dataclass(frozen=True)
class ImputationFit:
    """Horizon effects with their variance and the overall average of post effects."""

    horizons: np.ndarray
    estimate: FloatArray
    vcov: FloatArray
    overall: float
    overall_se: float
    n_obs: int
    n_units: int
    sample_log: SampleLog


def _two_way_solve(u, t, n_u, n_t, b_u, b_t):
    """Solve the unit + period normal equations on the untreated sample for given right-hand
    sides (per-unit and per-period sums); the first period's effect is the reference (0)."""
    counts_u = group_weights(u, n_u, None)
    C = np.zeros((n_u, n_t))
    np.add.at(C, (u, t), 1.0)
    A = np.diag(group_weights(t, n_t, None)) - C.T @ (C / counts_u[:, None])
    rhs = b_t - C.T @ (b_u / counts_u)
    lam = np.zeros(n_t)
    lam[1:] = np.linalg.solve(A[1:, 1:], rhs[1:])
    alpha = (b_u - C @ lam) / counts_u
    return alpha, lam


@dataclass(frozen=True)
class _FirstStage:
    """Observations coded for the two-way fit on untreated observations, and that fit."""

    keep: np.ndarray  # rows of the user's data used (outcome present)
    period: np.ndarray
    cohort: FloatArray  # NaN = never treated
    ucode: np.ndarray
    tcode: np.ndarray
    y: FloatArray
    untreated: np.ndarray
    imputable: np.ndarray  # unit and period both have an untreated observation
    n_u: int
    n_t: int
    alpha: FloatArray
    lam: FloatArray
    log: SampleLog

    @property
    def u0(self) -> np.ndarray:
        return self.ucode[self.untreated]

    @property
    def t0(self) -> np.ndarray:
        return self.tcode[self.untreated]

    @property
    def resid0(self) -> FloatArray:
        """First-stage residuals of the untreated observations."""
        return self.y[self.untreated] - self.alpha[self.u0] - self.lam[self.t0]


def _first_stage(data, *, y, unit, time, cohort, anticipation, never_treated, extra=()):
    """Validate, code units and periods, and fit y = alpha_unit + lambda_period on the
    untreated observations (never-treated, and treated units before g - anticipation)."""
    check_columns(data, [y, unit, time, cohort, *extra])
    panel = Panel(data, unit=unit, time=time)
    log = SampleLog(n_initial=len(data))
    keep, log = missing_mask(data[[y]], [y], log)
    g_all = normalize_cohorts(
        data[cohort], periods=np.unique(panel.period), never_treated=never_treated
    )
    unit_constant(pd.DataFrame({cohort: g_all}), panel.unit_codes, cohort, "cohort")
    period = panel.period[keep]
    ucode = pd.factorize(panel.unit_codes[keep], sort=True)[0]
    yv = data[y].to_numpy(dtype=float)[keep]
    g = g_all[keep]
    untreated = ~(~np.isnan(g) & (period >= g - anticipation))
    periods = np.unique(period)
    tcode = np.searchsorted(periods, period)
    n_u, n_t = int(ucode.max()) + 1, len(periods)
    has_u = group_weights(ucode[untreated], n_u, None) > 0
    has_t = group_weights(tcode[untreated], n_t, None) > 0
    imputable = has_u[ucode] & has_t[tcode]
    log = log.with_drop(
        "not_imputable",
        "observations whose unit or period has no untreated observation",
        int((~imputable).sum()),
    )
    if not (imputable & ~untreated).any():
        raise ImpactError("no treated observation can be imputed (no untreated periods).")
    u0, t0, y0 = ucode[untreated], tcode[untreated], yv[untreated]
    alpha, lam = _two_way_solve(u0, t0, n_u, n_t, group_sums(u0, n_u, y0), group_sums(t0, n_t, y0))
    return _FirstStage(
        keep, period, g, ucode, tcode, yv, untreated, imputable, n_u, n_t, alpha, lam, log
    )


def imputation_fit(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    anticipation: int = 0,
    never_treated: float | None = None,
    horizons: tuple[int, int] | None = None,
) -> ImputationFit:
    """Imputation estimates of the average effect at each horizon h = t - g >= 0.

    Parameters
    ----------
    horizons : (int, int), optional
        Smallest and largest horizon reported (post-treatment horizons only).
    """
    fs = _first_stage(
        data,
        y=y,
        unit=unit,
        time=time,
        cohort=cohort,
        anticipation=anticipation,
        never_treated=never_treated,
    )
    ucode, tcode, n_u, n_t, period, g_row = fs.ucode, fs.tcode, fs.n_u, fs.n_t, fs.period, fs.cohort
    u0, t0, resid0, alpha, lam, yv = fs.u0, fs.t0, fs.resid0, fs.alpha, fs.lam, fs.y
    imputable = fs.imputable & ~fs.untreated
    idx1 = np.flatnonzero(imputable)
    tau = yv[idx1] - alpha[ucode[idx1]] - lam[tcode[idx1]]
    h = (period[idx1] - g_row[idx1]).astype(int)
    hs = np.unique(h[h >= -anticipation])
    if horizons is not None:
        hs = hs[(hs >= horizons[0]) & (hs <= horizons[1])]
    # aggregation weights: one column per horizon, plus the overall average of post effects
    W1 = np.column_stack(
        [(h == k) / max((h == k).sum(), 1) for k in hs] + [(h >= 0) / max((h >= 0).sum(), 1)]
    )
    est = tau @ W1
    # untreated weights: minus the projection of the treated weights on the FE design
    m = W1.shape[1]
    V0 = np.empty((len(u0), m))
    for j in range(m):
        b_u = group_sums(ucode[idx1], n_u, W1[:, j])
        b_t = group_sums(tcode[idx1], n_t, W1[:, j])
        a_j, l_j = _two_way_solve(u0, t0, n_u, n_t, b_u, b_t)
        V0[:, j] = -(a_j[u0] + l_j[t0])
    # treated residuals: imputed effect net of its cohort-horizon mean (conservative)
    cell = pd.factorize(pd.MultiIndex.from_arrays([g_row[idx1], h]))[0]
    n_cell = np.bincount(cell)
    tau_bar = (np.bincount(cell, weights=tau) / n_cell)[cell]
    eps1 = tau - tau_bar
    S = group_sums(ucode[idx1], n_u, W1 * eps1[:, None]) + group_sums(u0, n_u, V0 * resid0[:, None])
    V = S.T @ S
    return ImputationFit(
        horizons=hs,
        estimate=est[:-1],
        vcov=V[:-1, :-1],
        overall=float(est[-1]),
        overall_se=float(np.sqrt(V[-1, -1])),
        n_obs=int(fs.keep.sum()),
        n_units=n_u,
        sample_log=fs.log,
    )


def did2s_fit(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    reference: int = -1,
    anticipation: int = 0,
    never_treated: float | None = None,
    cluster: str | None = None,
) -> tuple[np.ndarray, FloatArray, FloatArray, SampleLog]:
    """Gardner (2021) two-stage DiD event study with the GMM-corrected variance.

    Stage 1 fits unit and period effects on untreated observations; stage 2 regresses the
    residualised outcome of every observation on relative-time dummies of treated units
    (all relative times but ``reference``; never-treated units have none). Post-treatment
    coefficients equal the imputation estimates. The variance accounts for the first stage
    (Butts & Gardner 2022): ``(X2'X2)^-1 sum_c psi_c psi_c' (X2'X2)^-1`` with
    ``psi_c = sum_c X2 e2 - sum_{c, untreated} (X10 A) e1`` and
    ``A = (X10'X10)^-1 X1'X2``; clusters are units unless ``cluster`` is given.

    Returns
    -------
    rel_times, estimate, vcov, sample_log

    References
    ----------
    Gardner, J. (2021). Two-stage differences in differences. Working paper.
    Butts, K., & Gardner, J. (2022). did2s: Two-stage difference-in-differences. The R
    Journal, 14(3), 162–173.
    """
    fs = _first_stage(
        data,
        y=y,
        unit=unit,
        time=time,
        cohort=cohort,
        anticipation=anticipation,
        never_treated=never_treated,
        extra=[cluster] if cluster else [],
    )
    ucode, tcode, n_u, n_t, period, g = fs.ucode, fs.tcode, fs.n_u, fs.n_t, fs.period, fs.cohort
    u0, t0, alpha, lam, yv, ok, untreated = (
        fs.u0,
        fs.t0,
        fs.alpha,
        fs.lam,
        fs.y,
        fs.imputable,
        fs.untreated,
    )
    keep, log = fs.keep, fs.log
    idx = np.flatnonzero(ok)
    ytil = yv[idx] - alpha[ucode[idx]] - lam[tcode[idx]]
    rel = period[idx] - g[idx]
    dummy = ~np.isnan(rel) & (rel != reference)
    rel_times = np.unique(rel[dummy]).astype(int)
    col = np.full(len(idx), -1)
    col[dummy] = np.searchsorted(rel_times, rel[dummy])
    k = len(rel_times)
    counts = np.bincount(col[dummy], minlength=k).astype(float)
    beta = np.bincount(col[dummy], weights=ytil[dummy], minlength=k) / counts
    e2 = ytil - np.where(dummy, beta[np.maximum(col, 0)], 0.0)
    X2 = np.zeros((len(idx), k))
    X2[np.flatnonzero(dummy), col[dummy]] = 1.0
    # A = (X10'X10)^-1 X1'X2, one two-way solve per second-stage column
    u_all, t_all = ucode[idx], tcode[idx]
    is0 = untreated[idx]
    corr = np.empty((int(is0.sum()), k))
    for j in range(k):
        a_j, l_j = _two_way_solve(
            u0, t0, n_u, n_t, group_sums(u_all, n_u, X2[:, j]), group_sums(t_all, n_t, X2[:, j])
        )
        corr[:, j] = a_j[u0] + l_j[t0]
    e1 = fs.resid0
    if cluster:
        cl_all = pd.factorize(data[cluster].to_numpy()[keep], sort=True)[0]
        c = cl_all[idx]
    else:
        c = u_all
    n_c = int(c.max()) + 1
    psi = group_sums(c, n_c, X2 * e2[:, None]) - group_sums(c[is0], n_c, corr * e1[:, None])
    bread = np.diag(1.0 / counts)
    V = bread @ (psi.T @ psi) @ bread
    return rel_times, beta, V, log
