"""``att_gt``: group-time average treatment effects of Callaway & Sant'Anna (2021)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact._typing import VcovSpec
from impact.design.staggered import staggered_design
from impact.design.wide import wide_arrays
from impact.engine.base import Engine
from impact.engine.choose import choose_engine
from impact.errors import (
    EmptyCellWarning,
    ImpactError,
    ImpactWarning,
    InvalidOptionError,
    SeparationWarning,
)
from impact.estimators.att_gt_cells import estimate_cells, gt_cells
from impact.estimators.att_gt_engine import att_gt_in_engine
from impact.estimators.att_gt_rcs import estimate_rcs
from impact.inference.clusters import check_cluster_count
from impact.inference.vcov import one_cluster
from impact.options import check_alpha, check_choice, check_seed, whole_number
from impact.results.att_gt import ATTgtResult

__all__ = ["EmptyCellWarning", "att_gt"]


def _warn_empty(empty: list, min_cell_units: int, grid) -> None:
    if empty:
        shown = ", ".join(f"({grid.label(g)}, {grid.label(t)})" for g, t in empty[:10])
        warnings.warn(
            f"{len(empty)} ATT(g,t) cells have fewer than {min_cell_units} treated or control "
            f"units and are NaN: {shown}",
            EmptyCellWarning,
            stacklevel=3,
        )


def _warn_separated(cells: list, grid) -> None:
    if cells:
        shown = ", ".join(f"({grid.label(g)}, {grid.label(t)})" for g, t in cells[:10])
        warnings.warn(
            f"in {len(cells)} ATT(g,t) cells the propensity score leaves the comparison units "
            "almost no weight (below 1e-6 of the treated units'): the covariates (nearly) "
            "separate treated from comparison units, so overlap fails and those cells' "
            "estimates and standard errors rest on a few near-zero scores, that is on where "
            f"the logit's iterations stopped. Cells: {shown}. Coarsen or drop the covariate, "
            "or use method='reg'.",
            SeparationWarning,
            stacklevel=3,
        )


#: A standard error at or below this is zero (R ``did`` treats 10 sqrt(eps) so).
ZERO_SE = 10 * np.sqrt(np.finfo(float).eps)


def warn_zero_se(table: pd.DataFrame, cells: str, why: str) -> None:
    """Warn when estimated cells of ``table`` have a standard error of zero.

    R ``did`` turns such SEs into NA silently; a zero SE makes a t-statistic infinite and
    an interval a point, so the user is told which cells and why it happens.
    """
    se = table["std_error"].to_numpy(dtype=float)
    estimated = np.isfinite(table["estimate"].to_numpy(dtype=float))
    if "base_period" in table:  # a universal base period's own cell is 0 by construction
        estimated &= (table["time"] != table["base_period"]).to_numpy()
    zero = np.flatnonzero(estimated & (se <= ZERO_SE))
    if len(zero):
        warnings.warn(
            f"{len(zero)} {cells} cells have a standard error of zero ({why}): their "
            "intervals and tests are not informative.",
            ImpactWarning,
            stacklevel=3,
        )


def _checked(res: ATTgtResult) -> ATTgtResult:
    warn_zero_se(
        res.table, "ATT(g,t)", "an outcome that does not vary within the cell's groups, "
        "one unit per group, or clusters that nest the cohorts"
    )  # fmt: skip
    return res


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
    freq: str | None = None,
    alpha: float = 0.05,
    min_cell_units: int = 1,
    bootstrap: int | None = None,
    seed: int | None = None,
    bootstrap_weights: str = "rademacher",
    engine: str | Engine | None = None,
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
    panel : {"pairwise", "balanced", "rcs"}
        "pairwise": each ATT(g,t) uses the units observed in its base period and in t;
        "balanced": keep only units observed in every period (R ``did``'s default);
        "rcs": repeated cross-sections (e.g. innovation surveys) — each row is its own
        observation, covariates are taken from the row itself (R ``did`` with
        ``panel=FALSE``; ``unit`` is then not used).
    weights : str, optional
        Time-invariant sampling weights.
    vcov : None or {"cluster": col}
        None: unit-level influence functions; a cluster variable (constant within units)
        sums influence functions within clusters. Normal critical values.
    never_treated : float, optional
        Explicit code for never-treated units in ``cohort``.
    freq : str, optional
        Period frequency of a Period or datetime time column (inferred from a regular
        calendar grid when not given).
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
    engine : {None, "numpy", "duckdb", "pandas"} or Engine
        Where the fit runs (as :func:`impact.feols`): ``None`` keeps a pandas frame in
        memory and runs anything else (a Parquet path or glob, a DuckDB relation, Arrow or
        polars) in DuckDB. The engine path validates the panel in the engine (the same
        typed errors and sample log), estimates unconditional ATT(g,t) from cell sums
        and computes every standard error, aggregation included, from sums over unit types
        or clusters: equal to the in-memory fit, without the rows in Python. With
        covariates (every method) the nuisance fits, cells and influence
        functions are sums in the engine too. It takes integer periods, and a bootstrap
        only with clusters.

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

    Examples
    --------
    R did's vignette ("Introduction to did") on its minimum-wage county panel prints ATT(2004, t)
    = -0.0105, -0.0704, -0.1373 and -0.1008 for t = 2004-2007, a simple aggregation of -0.0400
    and a dynamic one of -0.0772.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> res = impact.att_gt(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat")
    >>> res.table.loc[res.table["cohort"] == 2004, "estimate"].round(4).tolist()
    [-0.0105, -0.0704, -0.1373, -0.1008]
    >>> [f"{res.aggregate(kind).estimate:.4f}" for kind in ("simple", "dynamic")]
    ['-0.0400', '-0.0772']
    """
    check_alpha(alpha)
    whole_number("min_cell_units", min_cell_units, 1)
    whole_number("bootstrap", bootstrap, 2, optional=True)
    check_seed(seed, optional=True)
    check_choice("bootstrap_weights", bootstrap_weights, ("rademacher", "mammen"))
    if control not in ("never", "notyet"):
        raise InvalidOptionError(f"control must be 'never' or 'notyet', got {control!r}.")
    if base_period not in ("varying", "universal"):
        raise InvalidOptionError(
            f"base_period must be 'varying' or 'universal', got {base_period!r}."
        )
    if panel not in ("pairwise", "balanced", "rcs"):
        raise InvalidOptionError(f"panel must be 'pairwise', 'balanced' or 'rcs', got {panel!r}.")
    if method not in ("dr", "ipw", "reg", "dr_improved"):
        raise InvalidOptionError(
            f"method must be 'dr', 'dr_improved', 'ipw' or 'reg', got {method!r}."
        )
    cluster = one_cluster(vcov, "att_gt")
    covariates = list(covariates or [])
    chosen = choose_engine(data, engine)
    call = dict(
        y=y, unit=unit, time=time, cohort=cohort, control=control, control_pool=control_pool,
        method=method, covariates=covariates, anticipation=anticipation,
        base_period=base_period, panel=panel, weights=weights, vcov=vcov,
        never_treated=never_treated, freq=freq, alpha=alpha, min_cell_units=min_cell_units,
    )  # fmt: skip
    settings = {
        "y": y,
        "control": control,
        "method": method,
        "covariates": covariates,
        "base_period": base_period,
        "panel": panel,
        "anticipation": anticipation,
        "vcov": "unit" if cluster is None else f"cluster ({cluster})",
        "cluster": cluster,
    }
    if chosen is not None:
        start = chosen.meter.mark()
        with chosen.scope():  # the fit's tables and views are dropped once it returns
            pan, cells, cs, rows, codes, labels = att_gt_in_engine(
                chosen, data, y=y, unit=unit, time=time, cohort=cohort, control=control,
                control_pool=control_pool, method=method, covariates=covariates,
                anticipation=anticipation, base_period=base_period, panel=panel,
                weights=weights, never_treated=never_treated, freq=freq,
                # clusters of one unit: the unit-level rows (one per unit type, not per unit)
                cluster=None if cluster == unit and not bootstrap else cluster,
                min_cell_units=min_cell_units, bootstrap=bootstrap,
            )  # fmt: skip
        _warn_empty(cs.empty, min_cell_units, pan.grid)
        _warn_separated(cs.separated, pan.grid)
        pan.log.announce("att_gt")
        settings["anticipation"] = pan.anticipation
        res = ATTgtResult.build(
            cells=cells, att=cs.att, inf=rows.inf, n_treated=cs.n_treat,
            n_control=cs.n_ctrl, wide_cohort=None, wide_weights=None, observed=None,
            periods=pan.periods, cluster=codes, cluster_labels=labels,
            anticipation=pan.anticipation, alpha=alpha, sample_log=pan.log,
            notes=list(pan.notes), bootstrap=bootstrap, seed=seed,
            bootstrap_weights=bootstrap_weights, settings=settings, grid=pan.grid, rows=rows,
        )  # fmt: skip
        one = {"n_clusters": rows.n} if cluster == unit and codes is None else {}
        res = dataclasses.replace(res, engine_use=chosen.meter.since(chosen.name, start), **one)
        return _checked(res)
    design = staggered_design(
        data,
        unit=None if panel == "rcs" else unit,
        time=time,
        cohort=cohort,
        outcomes=[y],
        covariates=covariates,
        control_pool=control_pool,
        weights=weights,
        clusters=[cluster] if cluster else [],
        anticipation=anticipation,
        never_treated=never_treated,
        freq=freq,
        balanced=panel == "balanced",
    )
    anticipation = design.anticipation
    if panel == "rcs":
        r = estimate_rcs(
            design,
            data,
            y=y,
            covariates=covariates,
            control=control,
            cluster=cluster,
            method=method,
            min_cell_units=min_cell_units,
            cells_fn=gt_cells,
            base_period=base_period,
        )
        if cluster:
            check_cluster_count(int(r["cluster"].max()) + 1, cluster, "att_gt")
        _warn_empty(r["empty"], min_cell_units, design.grid)
        r["log"].announce("att_gt")
        return _checked(
            ATTgtResult.build(
                cells=r["cells"],
                att=r["att"],
                inf=r["inf"],
                n_treated=r["n_treat"],
                n_control=r["n_ctrl"],
                wide_cohort=r["cohort"],
                wide_weights=r["weights"],
                observed=r["observed"],
                periods=r["periods"],
                cluster=r["cluster"],
                cluster_labels=r["cluster_labels"],
                anticipation=anticipation,
                alpha=alpha,
                sample_log=r["log"],
                notes=r["notes"],
                bootstrap=bootstrap,
                seed=seed,
                bootstrap_weights=bootstrap_weights,
                settings=settings,
                grid=design.grid,
                call=call,
            )
        )
    wide = wide_arrays(design, data, y=y, covariates=covariates, cluster=cluster)
    if cluster:
        check_cluster_count(int(wide.cluster.max()) + 1, cluster, "att_gt")
    log, notes = design.sample_log, list(design.notes)
    g_all = wide.cohort
    never = np.isnan(g_all)
    if control == "never" and not (never & wide.pool).any():
        raise ImpactError(
            "control='never' but there are no never-treated units in the control pool; use "
            "control='notyet' or add never-treated units."
        )
    cohorts = np.unique(g_all[~never])
    periods = wide.periods
    cells = gt_cells(periods, cohorts, base_period, anticipation)
    att, inf, n_treat, n_ctrl, empty, separated, gram = estimate_cells(
        wide,
        cells,
        control=control,
        anticipation=anticipation,
        method=method,
        min_cell_units=min_cell_units,
        names=covariates,
    )
    _warn_empty(empty, min_cell_units, design.grid)
    _warn_separated(separated, design.grid)
    log.announce("att_gt")
    return _checked(
        ATTgtResult.build(
            cells=cells,
            att=att,
            inf=inf,
            gram=gram,
            n_treated=n_treat,
            n_control=n_ctrl,
            wide_cohort=g_all,
            wide_weights=wide.weights,
            units=pd.Index(wide.units, name=unit),
            observed=~np.isnan(wide.y),
            periods=periods,
            cluster=wide.cluster,
            cluster_labels=wide.cluster_labels,
            anticipation=anticipation,
            alpha=alpha,
            sample_log=log,
            notes=notes,
            bootstrap=bootstrap,
            seed=seed,
            bootstrap_weights=bootstrap_weights,
            settings=settings,
            grid=design.grid,
            call=call,
        )
    )
