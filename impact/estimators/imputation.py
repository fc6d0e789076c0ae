"""Imputation estimator of Borusyak, Jaravel & Spiess (2024) with its Theorem 3 variance.

Unit and period effects are fitted on untreated observations only; the treated
observations' counterfactuals are imputed from them, and effects are averaged by horizon.
The conservative variance clusters by unit (or any coarser cluster): each observation's
weight on the estimate (treated: the aggregation weight; untreated: minus the projection of
those weights on the fixed-effect design) times its residual (untreated: the fitted
residual; treated: the imputed effect net of its cohort-horizon mean).

References
----------
Borusyak, K., Jaravel, X., & Spiess, J. (2024). Revisiting event-study designs: robust and
efficient estimation. Review of Economic Studies, 91(6), 3253–3285.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.staggered import category_by_time, staggered_design
from impact.engine.kernels import group_sums, group_weights
from impact.errors import ImpactError, InvalidOptionError
from impact.inference.clusters import check_cluster_count, cluster_codes
from impact.linear.formula import parse_fixed_effects

__all__ = [
    "NOTHING_IMPUTABLE",
    "NOT_IMPUTABLE",
    "FirstStage",
    "FirstStageSpec",
    "ImputationFit",
    "cell_block",
    "dummy_sums",
    "first_stage",
    "imputation_fit",
    "weighted_effects",
]

#: The sample log's reason of the observations that cannot be imputed.
NOT_IMPUTABLE = (
    "observations whose unit or period has no untreated observation, or whose unit and "
    "period are not connected through untreated observations"
)
#: The error when no treated observation can be imputed.
NOTHING_IMPUTABLE = (
    "no treated observation can be imputed: no unit is untreated in the periods where "
    "the treated units are treated (no never-treated or not-yet-treated comparison "
    "units). Add never-treated units or restrict the periods."
)


@dataclass(frozen=True)
class FirstStageSpec:
    """What the imputation first stage reads (shared by imputation and did2s).

    ``fixed_effects="category^time"`` replaces the period effects by category-by-period
    effects; ``absorb`` replaces the unit effects by effects of a coarser group (did2s
    only). The other fields are those of :func:`impact.design.staggered.staggered_design`.
    """

    y: str
    unit: str
    time: str
    cohort: str
    anticipation: int = 0
    never_treated: float | None = None
    fixed_effects: str | None = None
    absorb: str | None = None
    control_pool: str | None = None
    freq: str | None = None


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
    n_clusters: int = 0  # clusters of the variance (units unless a cluster was given)
    #: treated observations (weighted) imputed at each horizon
    counts: FloatArray | None = None
    #: cluster sums of every observation's term (clusters x (horizons + overall)): the
    #: variance is ``scores' scores``; linear in the outcome given the design
    scores: FloatArray | None = field(default=None, repr=False)
    #: root sum of the squared terms of single observations (per column): the scale
    #: below which a clustered standard error is rounding noise
    score_scale: FloatArray | None = field(default=None, repr=False)
    #: positions of the user's rows in the sample, and their cluster codes (rows of scores)
    rows: np.ndarray | None = field(default=None, repr=False)
    row_cluster: np.ndarray | None = field(default=None, repr=False)
    #: per sample row: event time (NaN: never treated), untreated, imputable
    row_rel: FloatArray | None = field(default=None, repr=False)
    row_untreated: np.ndarray | None = field(default=None, repr=False)
    row_imputable: np.ndarray | None = field(default=None, repr=False)


def cell_block(
    n_cell: FloatArray, CtC: FloatArray
) -> tuple[np.ndarray, np.ndarray, tuple[FloatArray, bool]]:
    """The cell block ``diag(n_cell) - C' D^-1 C`` of a unit + cell system (the unit
    effects partialled out), factorised with one cell per connected component set to
    zero: the component of every cell (-1: no observation), the free cells, the
    Cholesky factor of their block."""
    present = np.flatnonzero(n_cell > 0)
    _, comp = connected_components(sp.csr_matrix(CtC[np.ix_(present, present)] != 0))
    first = np.unique(comp, return_index=True)[1]
    cell_comp = np.full(len(n_cell), -1)
    cell_comp[present] = comp
    free = np.setdiff1d(present, present[first])
    A = np.diag(n_cell) - CtC
    return cell_comp, free, sla.cho_factor(A[np.ix_(free, free)], check_finite=False)


class _UnitCellSystem:
    """Normal equations of unit + cell effects on the untreated observations, factorised once.

    The cell is the period, or an interaction of the period with a unit-level category
    (``sector^year``). ``solve`` takes per-unit and per-cell right-hand sides (one column
    each) and returns the effects with one cell per connected component set to zero.
    """

    def __init__(self, u: np.ndarray, t: np.ndarray, n_u: int, n_t: int) -> None:
        self.counts_u = np.maximum(group_weights(u, n_u, None), 1.0)
        self.C = sp.csr_matrix((np.ones(len(u)), (u, t)), shape=(n_u, n_t))
        CtC = (self.C.T @ sp.diags(1.0 / self.counts_u) @ self.C).toarray()
        #: connected component of every cell and unit (-1: no untreated observation);
        #: a counterfactual is identified only within one component
        self.cell_comp, self.free, self.factor = cell_block(group_weights(t, n_t, None), CtC)
        self.unit_comp = np.full(n_u, -1)
        self.unit_comp[u] = self.cell_comp[t]
        self.n_t = n_t

    def solve(self, b_u: FloatArray, b_t: FloatArray) -> tuple[FloatArray, FloatArray]:
        b_u = b_u.reshape(len(b_u), -1)
        b_t = b_t.reshape(len(b_t), -1)
        rhs = b_t - self.C.T @ (b_u / self.counts_u[:, None])
        lam = np.zeros((self.n_t, b_u.shape[1]))
        lam[self.free] = sla.cho_solve(self.factor, rhs[self.free], check_finite=False)
        alpha = (b_u - self.C @ lam) / self.counts_u[:, None]
        return alpha, lam


def dummy_sums(
    group: np.ndarray, col: np.ndarray, n_groups: int, k: int, values: FloatArray | None = None
) -> FloatArray:
    """Per-group sums of ``values`` (default 1) placed in column ``col``: (n_groups, k)."""
    return np.bincount(group * k + col, weights=values, minlength=n_groups * k).reshape(n_groups, k)


def _cell_codes(data, keep, period, fixed_effects, time):
    """Codes of the small fixed-effect dimension: periods, or ``category^time`` cells."""
    other = category_by_time(fixed_effects, time, "imputation/did2s")
    if other is None:
        periods = np.unique(period)
        return np.searchsorted(periods, period)
    cat = data[other].to_numpy()[keep]
    if pd.isna(cat).any():
        raise ImpactError(f"fixed-effect column {other!r} has missing values.")
    return pd.factorize(pd.MultiIndex.from_arrays([cat, period]), sort=True)[0]


@dataclass(frozen=True)
class FirstStage:
    """Observations coded for the two-way fit on untreated observations, and that fit."""

    keep: np.ndarray  # positions of the user's rows used (the design's sample)
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
    system: _UnitCellSystem
    uid: np.ndarray  # unit codes (differ from ucode when a coarser group is absorbed)
    anticipation: int  # validated

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


def first_stage(
    data: pd.DataFrame, spec: FirstStageSpec, clusters: tuple[str, ...] = ()
) -> FirstStage:
    """Validate, code units and periods, and fit y = alpha_unit + lambda_cell on the
    untreated observations (never-treated, and treated units before g - anticipation);
    the cell is the period, or ``spec.fixed_effects`` (``category^time``). ``clusters``
    are further columns that must be complete (a variance's cluster ids)."""
    fixed_effects, absorb, time = spec.fixed_effects, spec.absorb, spec.time
    fe_cols = [c for dim in parse_fixed_effects(fixed_effects or "") for c in dim]
    fe_cols += [absorb] if absorb else []
    design = staggered_design(
        data,
        unit=spec.unit,
        time=time,
        cohort=spec.cohort,
        outcomes=[spec.y],
        control_pool=spec.control_pool,
        clusters=list(clusters),
        columns=[c for c in fe_cols if c != time],
        anticipation=spec.anticipation,
        never_treated=spec.never_treated,
        freq=spec.freq,
    )
    anticipation = design.anticipation
    log = design.sample_log
    keep = design.rows
    period = design.t
    uid = design.unit_code
    if absorb is None:
        ucode = uid
    else:  # a coarser group than the unit absorbs the level (e.g. state)
        if data[absorb].isna().to_numpy()[keep].any():
            raise ImpactError(f"fixed-effect column {absorb!r} has missing values.")
        ucode = pd.factorize(data[absorb].to_numpy()[keep], sort=True)[0]
    yv = data[spec.y].to_numpy(dtype=float)[keep]
    g = design.g
    untreated = ~(~np.isnan(g) & (period >= g - anticipation))
    tcode = _cell_codes(data, keep, period, fixed_effects, time)
    n_u, n_t = int(ucode.max()) + 1, int(tcode.max()) + 1
    u0, t0, y0 = ucode[untreated], tcode[untreated], yv[untreated]
    system = _UnitCellSystem(u0, t0, n_u, n_t)
    cu, ct = system.unit_comp[ucode], system.cell_comp[tcode]
    imputable = (cu >= 0) & (ct >= 0) & (cu == ct)
    log = log.with_drop("not_imputable", NOT_IMPUTABLE, int((~imputable).sum()))
    if not (imputable & ~untreated).any():
        raise ImpactError(NOTHING_IMPUTABLE)
    alpha, lam = system.solve(group_sums(u0, n_u, y0), group_sums(t0, n_t, y0))
    return FirstStage(
        keep,
        period,
        g,
        ucode,
        tcode,
        yv,
        untreated,
        imputable,
        n_u,
        n_t,
        alpha[:, 0],
        lam[:, 0],
        log,
        system,
        uid,
        anticipation,
    )


def weighted_effects(
    fs: FirstStage,
    idx1: np.ndarray,
    tau: FloatArray,
    W1: FloatArray,
    groups: tuple[np.ndarray, ...],
    c_row: np.ndarray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted averages of imputed effects and their Theorem 3 cluster scores.

    Parameters
    ----------
    fs : FirstStage
        The fitted first stage.
    idx1 : ndarray of int
        Sample rows of the imputed (treated, imputable) observations.
    tau : ndarray
        Their imputed effects.
    W1 : ndarray, shape (len(idx1), k)
        One column of weights per estimand (``tau @ W1``).
    groups : tuple of ndarray
        Keys (aligned with ``idx1``) of the groups within which effects are taken as
        homogeneous: each treated residual is the effect net of its group mean, which
        makes the variance conservative (BJS 2024, Theorem 3); finer groups (e.g.
        cohort, horizon and membership) make it less so.
    c_row : ndarray of int
        Cluster code of every sample row (clusters must contain whole units).

    Returns
    -------
    estimate : ndarray (k,)
    scores : ndarray (clusters, k)
        Cluster sums of every observation's term: the variance is ``scores' scores``.
    scale2 : ndarray (k,)
        Sum of the squared terms of single observations.
    """
    n_c = int(c_row.max()) + 1
    est = tau @ W1
    # untreated weights: minus the projection of the treated weights on the FE design
    a_w, l_w = fs.system.solve(
        group_sums(fs.ucode[idx1], fs.n_u, W1), group_sums(fs.tcode[idx1], fs.n_t, W1)
    )
    key = pd.factorize(pd.MultiIndex.from_arrays(list(groups)))[0]
    eps1 = tau - (np.bincount(key, weights=tau) / np.bincount(key))[key]
    S = group_sums(c_row[idx1], n_c, W1 * eps1[:, None])
    scale2 = np.sum((W1 * eps1[:, None]) ** 2, axis=0)
    c0, u0, t0, resid0 = c_row[fs.untreated], fs.u0, fs.t0, fs.resid0
    for j in range(W1.shape[1]):  # untreated weights -(a_w + l_w), column by column
        term0 = (a_w[u0, j] + l_w[t0, j]) * resid0
        S[:, j] -= np.bincount(c0, weights=term0, minlength=n_c)
        scale2[j] += term0 @ term0
    return est, S, scale2


def imputation_fit(
    data: pd.DataFrame,
    spec: FirstStageSpec,
    *,
    horizons: tuple[int, int] | None = None,
    cluster: str | None = None,
) -> ImputationFit:
    """Imputation estimates of the average effect at each horizon h = t - g >= 0.

    Parameters
    ----------
    spec : FirstStageSpec
        Columns and options; with ``fixed_effects="category^time"`` (e.g.
        ``"sector^year"``) a treated observation whose cell has no untreated observation
        cannot be imputed and is dropped (counted).
    horizons : (int, int), optional
        Smallest and largest horizon reported (post-treatment horizons only).
    cluster : str, optional
        Cluster variable of the variance (default: the unit). Borusyak, Jaravel & Spiess
        (2024) allow any level at which the errors are independent, e.g. a cell containing
        the firms; the Theorem 3 variance then sums each observation's term by cluster.
    """
    if spec.absorb is not None:
        raise InvalidOptionError(
            "imputation absorbs unit effects; 'absorb' (a coarser group) is did2s's option."
        )
    fs = first_stage(data, spec, (cluster,) if cluster else ())
    ucode, tcode, n_u, period, g_row = fs.ucode, fs.tcode, fs.n_u, fs.period, fs.cohort
    alpha, lam, yv = fs.alpha, fs.lam, fs.y
    imputable = fs.imputable & ~fs.untreated
    idx1 = np.flatnonzero(imputable)
    tau = yv[idx1] - alpha[ucode[idx1]] - lam[tcode[idx1]]
    h = (period[idx1] - g_row[idx1]).astype(int)
    hs = np.unique(h[h >= -fs.anticipation])
    if horizons is not None:
        hs = hs[(hs >= horizons[0]) & (hs <= horizons[1])]
    # aggregation weights: one column per horizon, plus the overall average of post effects
    W1 = np.column_stack(
        [(h == k) / max((h == k).sum(), 1) for k in hs] + [(h >= 0) / max((h >= 0).sum(), 1)]
    )
    if cluster:
        c_row = cluster_codes(data[cluster].to_numpy()[fs.keep], cluster)[0]
    else:
        c_row = fs.uid
    n_c = int(c_row.max()) + 1
    if cluster and (pd.Series(c_row).groupby(fs.uid).nunique() > 1).any():
        raise InvalidOptionError(
            f"cluster column {cluster!r} changes within units: the imputation variance "
            "needs clusters that contain whole units (the unit or coarser)."
        )
    check_cluster_count(n_c, cluster or spec.unit, "imputation")
    est, S, scale2 = weighted_effects(fs, idx1, tau, W1, (g_row[idx1], h), c_row)
    V = S.T @ S
    return ImputationFit(
        horizons=hs,
        estimate=est[:-1],
        vcov=V[:-1, :-1],
        overall=float(est[-1]),
        overall_se=float(np.sqrt(V[-1, -1])),
        n_obs=len(fs.keep),
        n_units=n_u,
        sample_log=fs.log,
        n_clusters=n_c,
        counts=np.array([float((h == k).sum()) for k in hs]),
        scores=S,
        score_scale=np.sqrt(scale2),
        rows=fs.keep,
        row_cluster=c_row,
        row_rel=period - g_row,
        row_untreated=fs.untreated,
        row_imputable=fs.imputable,
    )
