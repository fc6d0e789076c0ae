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
from impact.data.columns import check_columns, missing_mask
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.design.cohorts import normalize_cohorts
from impact.design.staggered import unit_constant
from impact.errors import EmptySampleError, ImpactWarning, InvalidOptionError
from impact.estimators.fepois import _check_outcome
from impact.inference.linear_vcov import cluster_codes, compute_vcov
from impact.inference.ssc import SSC
from impact.inference.vcov import parse_vcov
from impact.linear.core import fit_absorbed
from impact.linear.poisson import poisson_irls, relu_separation
from impact.results.etwfe import ETWFEResult

__all__ = ["etwfe"]


def _design(g: np.ndarray, t: np.ndarray, cells: list[tuple[float, int]]):
    """Intercept, one indicator per cell, cohort dummies (never = base), period dummies."""
    cohorts = np.unique(g[~np.isnan(g)])
    periods = np.unique(t)
    cols, names = [np.ones(len(t))], ["(Intercept)"]
    for cg, ct in cells:
        cols.append(((g == cg) & (t == ct)).astype(float))
        names.append(f"cell::{int(cg)}:{int(ct)}")
    for cg in cohorts:  # the never-treated cohort is the base level
        cols.append((g == cg).astype(float))
        names.append(f"cohort::{int(cg)}")
    for p in periods[1:]:
        cols.append((t == p).astype(float))
        names.append(f"period::{int(p)}")
    return np.column_stack(cols), names


def _fe_category(fixed_effects: str | None, time: str) -> str | None:
    if not fixed_effects:
        return None
    parts = [p.strip() for p in fixed_effects.split("^")]
    if "+" in fixed_effects or len(parts) != 2 or time not in parts:
        raise InvalidOptionError(
            f"fixed_effects={fixed_effects!r}: etwfe takes one interaction of the time column "
            f"with a category, e.g. 'sector^{time}'."
        )
    return parts[0] if parts[1] == time else parts[1]


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
    alpha : float
        1 - confidence level.

    Returns
    -------
    ETWFEResult
        ``cells`` (ATT(g,t) in levels and as ratio - 1 with SEs), ``aggregate(...)``.
    """
    if family not in ("poisson", "linear"):
        raise InvalidOptionError(f"family must be 'poisson' or 'linear', got {family!r}.")
    if control not in ("notyet", "never"):
        raise InvalidOptionError(f"control must be 'notyet' or 'never', got {control!r}.")
    request = parse_vcov(vcov if vcov is not None else {"cluster": unit})
    fe_col = _fe_category(fixed_effects, time)
    extra = [c for c in (control_pool, fe_col) if c]
    check_columns(data, [y, unit, time, cohort, *request.clusters, *extra])
    panel = Panel(data, unit=unit, time=time)
    log = SampleLog(n_initial=len(data))
    keep, log = missing_mask(data[[y]], [y], log)
    periods_all = np.unique(panel.period)
    g_all = normalize_cohorts(data[cohort], periods=periods_all, never_treated=never_treated)
    unit_constant(pd.DataFrame({cohort: g_all}), panel.unit_codes, cohort, "cohort")
    g_all = np.where(g_all > periods_all.max(), np.nan, g_all)
    always = ~np.isnan(g_all) & (g_all <= periods_all.min())
    log = log.with_drop(
        "always_treated", "rows of units treated in the first period", int((keep & always).sum())
    )
    keep &= ~always
    if control_pool:
        pool = unit_constant(data, panel.unit_codes, control_pool, "control_pool").astype(bool)
        outside = np.isnan(g_all) & ~pool[panel.unit_codes]
        log = log.with_drop(
            "control_pool",
            "rows of never-treated units outside the control pool",
            int((keep & outside).sum()),
        )
        keep &= ~outside
    frame = data.loc[keep, list(dict.fromkeys([y, *request.clusters]))]
    g, t = g_all[keep], panel.period[keep]
    yv = frame[y].to_numpy(dtype=float)
    if family == "poisson":
        _check_outcome(yv, y)
    cells = sorted(
        {
            (float(cg), int(ct))
            for cg, ct in zip(g[~np.isnan(g)], t[~np.isnan(g)], strict=True)
            if (ct >= cg) or (control == "never" and ct != cg - 1)
        }
    )
    if not cells:
        raise EmptySampleError("no treated cohort-period cell: nothing to estimate.")
    X, names = _design(g, t, cells)
    if fe_col:
        cat = data[fe_col].to_numpy()[keep]
        if pd.isna(cat).any():
            raise EmptySampleError(f"fixed-effect column {fe_col!r} has missing values.")
        codes = pd.factorize(pd.MultiIndex.from_arrays([cat, t]), sort=True)[0]
        dummies = np.zeros((len(t), int(codes.max()) + 1))
        dummies[np.arange(len(t)), codes] = 1.0
        # the period dummies are kept first; one category-period dummy per period is
        # then collinear and dropped by the collinearity check
        X = np.column_stack([X, dummies[:, 1:]])
        names = names + [f"{fe_col}^{time}::{j}" for j in range(1, dummies.shape[1])]
    n_cells = len(cells)
    if family == "poisson":
        sep = relu_separation(yv, X, None)
        if sep.any():
            log = log.with_drop(
                "separation_relu",
                "rows separated by the cell indicators or dummies (outcome zero throughout)",
                int(sep.sum()),
            )
            ok = ~sep
            frame, g, t, yv, X = frame.loc[ok], g[ok], t[ok], yv[ok], X[ok]
        fit = poisson_irls(yv, X, None, None, None)
        keep_cols, core, mu = fit.keep, fit.core, fit.mu
        scores = core.Xd * (yv - mu)[:, None]
        ssr_over_n = (len(yv) - 1) / len(yv)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            core = fit_absorbed(yv, X, None)
        keep_cols = core.keep
        scores = core.Xd * core.resid[:, None]
        ssr_over_n = float(core.resid @ core.resid) / len(yv)
    kept = [n for n, k in zip(names, keep_cols, strict=True) if k]
    lost = [cells[j] for j in range(n_cells) if not keep_cols[1 + j]]
    if lost:
        shown = ", ".join(f"({int(a)}, {b})" for a, b in lost[:5])
        warnings.warn(
            f"{len(lost)} cohort-period effects are not identified and are left out: {shown}",
            ImpactWarning,
            stacklevel=2,
        )
    vres = compute_vcov(
        request,
        SSC.fixest(),
        bread=core.bread,
        scores=scores,
        ssr_over_n=ssr_over_n,
        N=len(yv),
        k=len(kept),
        fe=None,
        clusters=cluster_codes(frame, request.clusters),
    )
    log.announce("etwfe")
    return ETWFEResult.build(
        family=family,
        control=control,
        cells=[c for j, c in enumerate(cells) if keep_cols[1 + j]],
        X=X[:, keep_cols],
        names=kept,
        beta=core.beta if family == "linear" else fit.beta,
        vcov=vres.V,
        cohort=g,
        period=t,
        alpha=alpha,
        n_units=int(pd.Series(panel.unit_codes[keep]).nunique()),
        sample_log=log,
        vcov_label=request.label,
    )
