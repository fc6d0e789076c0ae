"""``att_gt``: group-time average treatment effects of Callaway & Sant'Anna (2021)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, VcovSpec
from impact.data.columns import check_columns, missing_mask, validate_weights
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.design.cohorts import normalize_cohorts
from impact.errors import ImpactError, ImpactWarning, InvalidOptionError
from impact.estimators.drdid import did_panel
from impact.inference.vcov import parse_vcov
from impact.results.att_gt import ATTgtResult

__all__ = ["EmptyCellWarning", "att_gt"]


class EmptyCellWarning(ImpactWarning):
    """Some ATT(g,t) cells have too few treated or control units and are NaN."""


@dataclass(frozen=True)
class _Wide:
    """Unit-by-period arrays of the estimation sample."""

    y: FloatArray  # (n_units, n_periods), NaN where unobserved
    x: FloatArray  # (n_units, n_periods, k) covariates, NaN where unobserved
    cohort: FloatArray  # (n_units,), NaN = never treated
    pool: np.ndarray  # (n_units,) bool: may serve as control
    weights: FloatArray  # (n_units,)
    cluster: np.ndarray | None  # (n_units,) codes
    periods: np.ndarray  # (n_periods,) period numbers
    units: pd.Index


def _unit_constant(frame: pd.DataFrame, unit_codes: np.ndarray, col: str, what: str) -> np.ndarray:
    s = pd.Series(frame[col].to_numpy(), index=unit_codes)
    nun = s.groupby(level=0).nunique(dropna=False)
    if (nun > 1).any():
        bad = nun[nun > 1].index[0]
        raise ImpactError(
            f"{what} column {col!r} varies within a unit (unit code {bad}); it must be constant "
            "over time for every unit."
        )
    return s.groupby(level=0).first().to_numpy()


def _prepare(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str],
    control_pool: str | None,
    weights: str | None,
    cluster: str | None,
    anticipation: int,
    panel_mode: str,
    never_treated: float | None,
) -> tuple[_Wide, SampleLog, list[str]]:
    cols = [y, unit, time, cohort, *covariates]
    cols += [c for c in (control_pool, weights, cluster) if c]
    check_columns(data, list(dict.fromkeys(cols)))
    notes: list[str] = []
    p0 = Panel(data, unit=unit, time=time)
    log = SampleLog(n_initial=len(data))
    frame = data[list(dict.fromkeys(cols))]
    keep, log = missing_mask(frame, [y, *covariates], log)
    frame, unit_codes_all = frame.loc[keep], p0.unit_codes[keep]
    period = p0.period[keep]
    if weights:
        validate_weights(frame, weights)
    codes, labels = pd.factorize(unit_codes_all, sort=True)
    units = p0.unit_labels[labels]
    periods = np.unique(period)
    g = normalize_cohorts(
        pd.Series(_unit_constant(frame, codes, cohort, "cohort"), name=cohort),
        periods=periods,
        never_treated=never_treated,
    )
    late = g > periods.max()
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period are treated as "
            "never-treated."
        )
        g[late] = np.nan
    always = g <= periods.min() + anticipation
    pool = (
        _unit_constant(frame, codes, control_pool, "control_pool").astype(bool)
        if control_pool
        else np.ones(len(units), dtype=bool)
    )
    drop_unit = always.copy()
    n_always_rows = int(np.isin(codes, np.flatnonzero(always)).sum())
    log = log.with_drop(
        "always_treated",
        "rows of units treated in the first period (always-treated)",
        n_always_rows,
        {"units": int(always.sum())},
    )
    useless = np.isnan(g) & ~pool & ~drop_unit
    log = log.with_drop(
        "control_pool",
        "rows of never-treated units outside the control pool",
        int(np.isin(codes, np.flatnonzero(useless)).sum()),
        {"units": int(useless.sum())},
    )
    drop_unit |= useless
    T = len(periods)
    tpos = np.searchsorted(periods, period)
    if panel_mode == "balanced":
        counts = np.bincount(codes, minlength=len(units))
        unbal = (counts < T) & ~drop_unit
        log = log.with_drop(
            "unbalanced",
            "rows of units not observed in every period (panel='balanced')",
            int(np.isin(codes, np.flatnonzero(unbal)).sum()),
            {"units": int(unbal.sum())},
        )
        drop_unit |= unbal
    keep_u = ~drop_unit
    new_code = np.cumsum(keep_u) - 1
    row_ok = keep_u[codes]
    n = int(keep_u.sum())
    Y = np.full((n, T), np.nan)
    Y[new_code[codes[row_ok]], tpos[row_ok]] = frame[y].to_numpy(dtype=float)[row_ok]
    X = np.full((n, T, len(covariates)), np.nan)
    for j, c in enumerate(covariates):
        X[new_code[codes[row_ok]], tpos[row_ok], j] = frame[c].to_numpy(dtype=float)[row_ok]
    w = (
        _unit_constant(frame, codes, weights, "weights").astype(float)[keep_u]
        if weights
        else np.ones(n)
    )
    cl = None
    if cluster:
        raw = _unit_constant(frame, codes, cluster, "cluster")
        if pd.isna(raw).any():
            raise ImpactError(f"cluster variable {cluster!r} has missing values.")
        cl = pd.factorize(raw[keep_u], sort=True)[0]
    wide = _Wide(
        y=Y,
        x=X,
        cohort=g[keep_u],
        pool=pool[keep_u],
        weights=w,
        cluster=cl,
        periods=periods,
        units=units[keep_u],
    )
    return wide, log, notes


def _cells(periods: np.ndarray, cohorts: np.ndarray, base_period: str, anticipation: int):
    """(g, t, base) triples in R did's order: cohorts, then periods."""
    out = []
    for g in cohorts:
        pre = periods[periods + anticipation < g]
        if not len(pre):
            continue
        universal = pre[-1]
        for i, t in enumerate(periods):
            if base_period == "universal":
                out.append((g, t, universal))
            else:
                if i == 0:
                    continue
                base = periods[i - 1] if t < g else universal
                out.append((g, t, base))
    return out


def att_gt(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    control: str = "never",
    control_pool: str | None = None,
    method: str = "dr",
    covariates: Sequence[str] | None = None,
    anticipation: int = 0,
    base_period: str = "varying",
    panel: str = "pairwise",
    weights: str | None = None,
    vcov: VcovSpec = None,
    never_treated: float | None = None,
    alpha: float = 0.05,
    min_cell_units: int = 1,
    bootstrap: int | None = None,
    seed: int | None = None,
    bootstrap_weights: str = "rademacher",
) -> ATTgtResult:
    """Group-time average treatment effects ATT(g, t) of Callaway & Sant'Anna (2021).

    Parameters
    ----------
    data : DataFrame
        Long panel; never modified.
    y, unit, time, cohort : str
        Outcome, unit id, period (integer periods such as years) and cohort column (the
        first treated period; NaN — or 0/inf when 0 is not a period — for never-treated).
    control : {"never", "notyet"}
        Comparison units: never-treated only, or never- and not-yet-treated units
        (cohort > max(t, base) + anticipation).
    control_pool : str, optional
        Boolean unit-level column: only units where it is True may serve as controls
        (e.g. firms outside cluster cells). Never-treated units outside the pool are
        dropped and counted.
    method : {"dr", "dr_improved", "ipw", "reg"}
        Traditional doubly robust (R ``did``'s default), improved doubly robust (Sant'Anna
        & Zhao 2020), normalised IPW, or outcome regression. Identical without covariates.
    covariates : list of str, optional
        Covariates, taken at each cell's base period.
    anticipation : int
        Periods of anticipation.
    base_period : {"varying", "universal"}
        Pre-treatment cells compare t with t-1 ("varying") or with g-1-anticipation.
    panel : {"pairwise", "balanced"}
        "pairwise": each ATT(g,t) uses the units observed in its base period and in t;
        "balanced": keep only units observed in every period (R ``did``'s default).
    weights : str, optional
        Time-invariant sampling weights.
    vcov : None or {"cluster": col}
        None: unit-level influence functions; a cluster variable (constant within units)
        sums influence functions within clusters. Normal critical values.
    never_treated : float, optional
        Explicit code for never-treated units in ``cohort``.
    alpha : float
        1 - confidence level.
    min_cell_units : int
        A cell with fewer treated or control units is NaN (one warning lists the cells).
    bootstrap : int, optional
        Number of multiplier-bootstrap draws. Then standard errors are the bootstrap's
        (interquartile range, as R ``did``) and ``band_low``/``band_high`` give
        simultaneous (sup-t) bands over all cells; aggregations get the same.
    seed : int, optional
        Seed of the bootstrap (``numpy.random.SeedSequence``); stored in the result.
    bootstrap_weights : {"rademacher", "mammen"}

    Returns
    -------
    ATTgtResult
        ``table``, ``aggregate(...)``, ``pretrend_test()``.

    Notes
    -----
    Standard errors: ``sqrt(sum_i psi_i^2) / n`` with ``psi`` the unit influence
    functions (R ``did``'s analytic standard errors); with clusters, influence functions
    are summed within clusters first (no small-sample factor).

    References
    ----------
    Callaway, B., & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple
    time periods. Journal of Econometrics, 225(2), 200–230.
    """
    if control not in ("never", "notyet"):
        raise InvalidOptionError(f"control must be 'never' or 'notyet', got {control!r}.")
    if base_period not in ("varying", "universal"):
        raise InvalidOptionError(
            f"base_period must be 'varying' or 'universal', got {base_period!r}."
        )
    if panel not in ("pairwise", "balanced"):
        raise InvalidOptionError(f"panel must be 'pairwise' or 'balanced', got {panel!r}.")
    if method not in ("dr", "ipw", "reg", "dr_improved"):
        raise InvalidOptionError(
            f"method must be 'dr', 'dr_improved', 'ipw' or 'reg', got {method!r}."
        )
    req = parse_vcov(vcov) if vcov is not None else None
    cluster = None
    if req is not None:
        if req.kind != "CRV1" or len(req.clusters) != 1:
            raise InvalidOptionError("att_gt supports vcov=None or {'cluster': col} (one column).")
        cluster = req.clusters[0]
    covariates = list(covariates or [])
    wide, log, notes = _prepare(
        data,
        y=y,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        control_pool=control_pool,
        weights=weights,
        cluster=cluster,
        anticipation=anticipation,
        panel_mode=panel,
        never_treated=never_treated,
    )
    g_all = wide.cohort
    never = np.isnan(g_all)
    if control == "never" and not (never & wide.pool).any():
        raise ImpactError(
            "control='never' but there are no never-treated units in the control pool; use "
            "control='notyet' or add never-treated units."
        )
    cohorts = np.unique(g_all[~never])
    if not len(cohorts):
        raise ImpactError("no treated cohort: every unit is never-treated.")
    periods = wide.periods
    n = len(g_all)
    cells = _cells(periods, cohorts, base_period, anticipation)
    tindex = {p: i for i, p in enumerate(periods)}
    att = np.full(len(cells), np.nan)
    inf = np.zeros((n, len(cells)))
    n_treat = np.zeros(len(cells), dtype=int)
    n_ctrl = np.zeros(len(cells), dtype=int)
    empty = []
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # universal base period: the reference cell is 0 by construction
            att[c] = 0.0
            continue
        yt, ys = wide.y[:, tindex[t]], wide.y[:, tindex[s]]
        seen = ~np.isnan(yt) & ~np.isnan(ys)
        treated = (g_all == g) & seen
        if control == "never":
            ctrl = never & wide.pool & seen
        else:
            ctrl = (never | (g_all > max(t, s) + anticipation)) & (g_all != g) & wide.pool & seen
        n_treat[c], n_ctrl[c] = int(treated.sum()), int(ctrl.sum())
        if n_treat[c] < min_cell_units or n_ctrl[c] < min_cell_units:
            empty.append((g, t))
            continue
        idx = np.flatnonzero(treated | ctrl)
        Xc = np.column_stack([np.ones(len(idx)), wide.x[idx, tindex[s], :]])
        est = did_panel(
            yt[idx] - ys[idx], treated[idx].astype(float), Xc, wide.weights[idx], method
        )
        att[c] = est.att
        inf[idx, c] = est.inf * (n / len(idx))
    if empty:
        shown = ", ".join(f"({int(g)}, {int(t)})" for g, t in empty[:10])
        warnings.warn(
            f"{len(empty)} ATT(g,t) cells have fewer than {min_cell_units} treated or control "
            f"units and are NaN: {shown}",
            EmptyCellWarning,
            stacklevel=2,
        )
    log.announce("att_gt")
    return ATTgtResult.build(
        cells=cells,
        att=att,
        inf=inf,
        n_treated=n_treat,
        n_control=n_ctrl,
        wide_cohort=g_all,
        wide_weights=wide.weights,
        observed=~np.isnan(wide.y),
        periods=periods,
        cluster=wide.cluster,
        anticipation=anticipation,
        alpha=alpha,
        sample_log=log,
        notes=notes,
        bootstrap=bootstrap,
        seed=seed,
        bootstrap_weights=bootstrap_weights,
        settings={
            "y": y,
            "control": control,
            "method": method,
            "covariates": covariates,
            "base_period": base_period,
            "panel": panel,
            "anticipation": anticipation,
            "vcov": "unit" if cluster is None else f"cluster ({cluster})",
        },
    )
