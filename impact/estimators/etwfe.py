"""``etwfe``: Wooldridge's extended two-way fixed effects, linear or Poisson.

Pooled regression of the outcome on an intercept, cohort dummies, period dummies and one
indicator per treated (cohort, period) cell — Wooldridge (2021) for the linear model,
Wooldridge (2023) for the Poisson (exponential mean) model, where parallel trends hold
on the log of the mean, so effects are proportional. ATT(g,t) is the average partial
effect on the treated in levels, ``mean_i [exp(x_i'b) - exp(x_i'b - tau_gt)]`` over the
cell's observations (the ``tau`` itself for the linear model), and the proportional
effect ``sum exp(x'b) / sum exp(x'b - tau) - 1`` (``exp(tau) - 1`` here); aggregations
average cells with their observation counts; standard errors by the delta method with
the full coefficient covariance (cohort and period effects included), clustered by unit
by default. The conventions of Stata ``jwdid`` / diff-diff's ``ETWFE``.

Every regressor is a function of a row's (cohort, period[, category]) cell, so the fit
runs on the cells' counts and outcome means (:mod:`impact.estimators.etwfe_cells`) and
the variance on cell regressors and row residuals
(:class:`impact.inference.cell_scores.CellScores`): memory grows with the rows only
through a few vectors, not the ``rows x k`` design.

References
----------
Wooldridge, J. M. (2023). Simple approaches to nonlinear difference-in-differences with
panel data. The Econometrics Journal, 26(3), C31–C66.
Wooldridge, J. M. (2021). Two-way fixed effects, the two-way Mundlak regression, and
difference-in-differences estimators. Working paper.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact._typing import VcovSpec
from impact.design.staggered import category_by_time, staggered_design
from impact.errors import EmptySampleError, ImpactWarning, InvalidOptionError
from impact.estimators.etwfe_cells import design_cells, treated_cells
from impact.estimators.fepois import _check_outcome
from impact.inference.cell_scores import CellScores
from impact.inference.linear_vcov import compute_vcov, frame_cluster_codes
from impact.inference.ssc import SSC
from impact.inference.vcov import parse_vcov
from impact.linear.core import fit_absorbed
from impact.linear.poisson import poisson_irls
from impact.linear.separation_lp import lp_separation
from impact.results.etwfe import ETWFEResult

__all__ = ["etwfe"]


def _design(g: np.ndarray, t: np.ndarray, cells: list[tuple[float, int]], lab, fe_dummies=None):
    """Intercept, cohort dummies (never = base), period dummies, optional category-period
    dummies, then one indicator per cell — last, so that a cell collinear with the
    nuisance dummies is the column the collinearity check drops (and reports)."""
    cohorts = np.unique(g[~np.isnan(g)])
    periods = np.unique(t)
    cols, names = [np.ones(len(t))], ["(Intercept)"]
    for cg in cohorts:
        cols.append((g == cg).astype(float))
        names.append(f"cohort::{lab(cg)}")
    for p in periods[1:]:
        cols.append((t == p).astype(float))
        names.append(f"period::{lab(p)}")
    if fe_dummies is not None:
        block, fe_names = fe_dummies
        cols.extend(block.T)
        names.extend(fe_names)
    first_cell = len(cols)
    for cg, ct in cells:
        cols.append(((g == cg) & (t == ct)).astype(float))
        names.append(f"cell::{lab(cg)}:{lab(ct)}")
    return np.column_stack(cols), names, first_cell


def _comparable(g: np.ndarray, t: np.ndarray, control: str) -> np.ndarray:
    """Rows (or cells) whose cohort has a comparison period and whose period has
    comparison rows.

    Comparison rows: never-treated rows and, for ``"notyet"``, treated rows before g; for
    ``"never"``, each cohort's g - 1 row. A cohort without one, or a period without
    any, is not identified; its rows are dropped (repeated until nothing changes).
    """
    ok = np.ones(len(t), dtype=bool)
    never = np.isnan(g)
    gz = np.where(never, np.inf, g)
    base = never | ((t < gz) if control == "notyet" else (t == gz - 1))
    while True:
        b = base & ok
        good_t = np.isin(t, np.unique(t[b]))
        good_g = never | np.isin(gz, np.unique(gz[b & ~never]))
        new = ok & good_t & good_g
        if (new == ok).all():
            return ok
        ok = new


def _fe_dummies(cat, t, fe_col, time):
    """Category-by-period dummies (first level dropped; one per period is collinear with
    the period dummies and is dropped by the collinearity check)."""
    if cat is None:
        return None
    codes = pd.factorize(pd.MultiIndex.from_arrays([cat, t]), sort=True)[0]
    dummies = np.zeros((len(t), int(codes.max()) + 1))
    dummies[np.arange(len(t)), codes] = 1.0
    return dummies[:, 1:], [f"{fe_col}^{time}::{j}" for j in range(1, dummies.shape[1])]


def etwfe(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    family: str = "poisson",
    control: str = "notyet",
    control_pool: str | None = None,
    fixed_effects: str | None = None,
    vcov: VcovSpec = None,
    never_treated: float | None = None,
    freq: str | None = None,
    alpha: float = 0.05,
) -> ETWFEResult:
    """Extended two-way fixed effects (Wooldridge 2021, 2023) with levels and ratios.

    Parameters
    ----------
    data : DataFrame
        Long panel; never modified.
    y, unit, time, cohort : str
        Outcome (>= 0 for Poisson), unit, integer period, cohort (first treated period;
        NaN — or 0/inf when 0 is not a period — for never-treated).
    family : {"poisson", "linear"}
        Exponential mean by Poisson PML (counts, values with zeros) or linear.
    control : {"notyet", "never"}
        ``"notyet"``: indicators for treated cells t >= g only, so not-yet-treated
        observations join the comparison (Wooldridge's default). ``"never"``: indicators
        for every cohort period except g - 1, so only never-treated units and each
        cohort's g - 1 form the comparison (pre-period cells are placebo effects).
    control_pool : str, optional
        Boolean unit-level column: never-treated units outside it are dropped (counted),
        e.g. to keep spillover-exposed firms out of the comparison.
    fixed_effects : str, optional
        ``"category^time"`` (e.g. ``"sector^year"``): category-by-period dummies replace
        the period dummies, so trends may differ by category.
    vcov : None or dict
        Default ``{"cluster": unit}``; ``"hetero"`` or another cluster column.
    never_treated : float, optional
        Explicit never-treated code in ``cohort``.
    freq : str, optional
        Period frequency of a Period or datetime time column (inferred when regular).
    alpha : float
        1 - confidence level.

    Returns
    -------
    ETWFEResult
        ``cells`` (ATT(g,t) in levels and as ratio - 1 with SEs), ``aggregate(...)``.

    Examples
    --------
    R did's minimum-wage county panel. Linear ETWFE with not-yet-treated controls gives the
    imputation estimator's event-time effects (diff-diff's imputation estimator: -0.0311,
    -0.0522, -0.1361, -0.1047); the Poisson default gives ratios.

    >>> import numpy as np, impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> kw = dict(unit="countyreal", time="year", cohort="first.treat")
    >>> linear = impact.etwfe(mpdta, y="lemp", family="linear", **kw)
    >>> linear.aggregate("dynamic").table["estimate"].round(4).tolist()
    [-0.0311, -0.0522, -0.1361, -0.1047]
    >>> poisson = impact.etwfe(mpdta.assign(emp=np.exp(mpdta["lemp"])), y="emp", **kw)
    >>> ratio = poisson.aggregate("simple").table.loc[0, "ratio"]  # exp(effect) - 1
    >>> f"{ratio:.2f}"  # employment about 2% lower
    '-0.02'
    """
    if family not in ("poisson", "linear"):
        raise InvalidOptionError(f"family must be 'poisson' or 'linear', got {family!r}.")
    if control not in ("notyet", "never"):
        raise InvalidOptionError(f"control must be 'notyet' or 'never', got {control!r}.")
    request = parse_vcov(vcov if vcov is not None else {"cluster": unit})
    if request.kind == "CRV3":
        raise InvalidOptionError(
            "etwfe supports vcov 'iid', 'hetero' and {'cluster': col} (CRV1), not CRV3."
        )
    fe_col = category_by_time(fixed_effects, time, "etwfe")
    design = staggered_design(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        outcomes=[y],
        control_pool=control_pool,
        clusters=request.clusters,
        columns=[fe_col] if fe_col else [],
        never_treated=never_treated,
        freq=freq,
    )
    log, grid = design.sample_log, design.grid
    rows = np.asarray(design.rows, dtype=np.intp)  # positions of the sample rows in ``data``
    yv = data[y].to_numpy(dtype=float)[rows]
    cat = None
    if fe_col:
        cat = data[fe_col].to_numpy()[rows]
        if pd.isna(cat).any():
            raise EmptySampleError(f"fixed-effect column {fe_col!r} has missing values.")
    g, t = design.g, design.t
    if control == "never" and not np.isnan(g).any():
        raise EmptySampleError(
            "control='never' needs never-treated units (none in the sample); use control='notyet'."
        )
    dc = design_cells(g, t, cat, yv)
    alive = _comparable(dc.g, dc.t, control)
    log = log.with_drop(
        "no_comparison",
        "rows of cohorts without a comparison period, or of periods without comparison rows",
        int(dc.n[~alive].sum()),
    )
    if family == "poisson":
        _check_outcome(yv[alive[dc.code]], y)
    lost_all: list[tuple[float, int]] = []
    boundary: list[tuple[float, int]] = []
    # rows removed over the passes, logged once each after them
    n_separated, n_unidentified = 0, 0
    # refit without the rows of separated cells and of cells that turn out unidentified;
    # every pass that does not finish removes at least one cell
    for _ in range(len(alive) + 1):
        idx = np.flatnonzero(alive)
        gc, tc, nc = dc.g[idx], dc.t[idx], dc.n[idx].astype(float)
        cells = treated_cells(gc, tc, control)
        if not cells:
            raise EmptySampleError("no treated cohort-period cell: nothing to estimate.")
        catc = dc.cat[idx] if dc.cat is not None else None
        dummies = _fe_dummies(catc, tc, fe_col, time)
        X, names, first_cell = _design(gc, tc, cells, grid.label, dummies)
        ybar = dc.ysum[idx] / nc
        if family == "poisson":
            # a treated cell whose outcomes are all zero stays: its effect is at the
            # boundary (treated mean 0, ratio -1), and dropping it would leave its
            # firm-years out of the aggregates; separated comparison cells are dropped
            treated = X[:, first_cell:].any(axis=1)
            separated = lp_separation(ybar, X)
            boundary = sorted({(float(a), int(b)) for a, b in zip(gc[separated & treated],
                                                                  tc[separated & treated],
                                                                  strict=True)})  # fmt: skip
            sep = separated & ~treated
            if sep.any():
                n_separated += int(nc[sep].sum())
                alive[idx[sep]] = False
                continue
            fit = poisson_irls(ybar, X, None, nc, None)
            keep_cols, core, beta, fitted = fit.keep, fit.core, fit.beta, fit.mu
        else:
            # collinear columns (the category-by-period dummies repeat the period dummies by
            # construction) are dropped by fit_absorbed without a warning; a dropped cell
            # indicator is reported below by etwfe's own warning listing the cells
            core = fit_absorbed(ybar, X, None, nc)
            keep_cols, beta, fitted = core.keep, core.beta, ybar - core.resid
        lost = [c for j, c in enumerate(cells) if not keep_cols[first_cell + j]]
        if not lost:
            break
        # an unidentified cell's treated rows must not join the comparison: drop them
        lost_all += lost
        bad = np.zeros(len(idx), dtype=bool)
        for cg, ct in lost:
            bad |= (gc == cg) & (tc == ct)
        n_unidentified += int(nc[bad].sum())
        alive[idx[bad]] = False
    else:
        raise EmptySampleError("etwfe: cohort-period effects remain unidentified after refits.")
    log = log.with_drop(
        "separation_relu",
        "comparison rows separated by the dummies (outcome zero throughout)",
        n_separated,
    ).with_drop(
        "unidentified_cells",
        f"rows of unidentified cohort-period cells ({len(lost_all)} cells)",
        n_unidentified,
    )
    if family == "poisson" and boundary:
        shown = ", ".join(f"({grid.label(a)}, {grid.label(b)})" for a, b in boundary[:5])
        warnings.warn(
            f"{len(boundary)} treated cohort-period cells have outcomes of zero throughout (or "
            "in the categories that separate them): their effects are at the boundary (treated "
            f"mean 0, proportional effect -1): {shown}",
            ImpactWarning,
            stacklevel=2,
        )
    if lost_all:
        shown = ", ".join(f"({grid.label(a)}, {grid.label(b)})" for a, b in lost_all[:5])
        warnings.warn(
            f"{len(lost_all)} cohort-period effects are not identified; their rows are left "
            f"out: {shown}",
            ImpactWarning,
            stacklevel=2,
        )
    kept = [n for n, k in zip(names, keep_cols, strict=True) if k]
    in_sample = alive[dc.code]
    codes = (np.cumsum(alive) - 1)[dc.code[in_sample]]
    resid = yv[in_sample] - fitted[codes]
    n_obs = len(resid)
    pos = rows[in_sample]
    cl_cols = list(request.clusters)
    clusters = frame_cluster_codes(data[cl_cols].iloc[pos], request.clusters) if cl_cols else []
    vres = compute_vcov(
        request,
        SSC.fixest(),
        bread=core.bread,
        scores=CellScores(core.Xd, codes, resid),
        ssr_over_n=float(resid @ resid) / n_obs if family == "linear" else (n_obs - 1) / n_obs,
        N=n_obs,
        k=len(kept),
        fe=None,
        clusters=clusters,
    )
    log.announce("etwfe")
    return ETWFEResult.build(
        family=family,
        control=control,
        cells=cells,
        X=X[:, keep_cols],
        names=kept,
        beta=beta,
        vcov=vres.V,
        cohort=gc,
        period=tc,
        counts=nc,
        alpha=alpha,
        n_units=design.n_units,
        grid=grid,
        sample_log=log,
        vcov_label=request.label,
        depvar=y,
        clusters=dict(vres.n_clusters),
        fixef=(cohort, time),
        linear_design=(codes, pos, vres.small) if family == "linear" else None,
    )
