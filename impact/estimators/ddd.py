"""``ddd``: staggered triple differences of Ortiz-Villavicencio & Sant'Anna (2025)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact._typing import VcovSpec
from impact.design.checks import unit_constant
from impact.design.staggered import staggered_design
from impact.design.wide import wide_arrays
from impact.errors import (
    EmptySampleError,
    ImpactError,
    ImpactWarning,
    InvalidOptionError,
    SeparationWarning,
)
from impact.estimators.att_gt import EmptyCellWarning, warn_zero_se
from impact.estimators.att_gt_cells import gt_cells
from impact.estimators.ddd_cells import estimate_ddd_cells
from impact.inference.clusters import check_cluster_count
from impact.inference.vcov import one_cluster
from impact.options import (
    check_alpha,
    check_choice,
    check_frame_and_names,
    check_seed,
    whole_number,
)
from impact.results.ddd import DDDResult

__all__ = ["ddd"]

_CHOICES = {
    "control": ("never", "notyet"),
    "base_period": ("universal", "varying"),
    "method": ("dr", "reg", "ipw"),
    "panel": ("pairwise", "balanced"),
    "covariates_at": ("base", "period"),
}


def _check_options(data, names: dict, options: dict, alpha) -> None:
    check_frame_and_names(data, "ddd", names, optional=("weights",))
    for name, value in options.items():
        check_choice(name, value, _CHOICES[name])
    check_alpha(alpha)


def _partition(data: pd.DataFrame, design, col: str) -> np.ndarray:
    """The 0/1 eligibility of every unit of the design (typed errors otherwise)."""
    raw = data[col].to_numpy()[design.rows]
    if isinstance(data[col].dtype, pd.CategoricalDtype):
        raw = np.asarray(raw, dtype=object)
    missing = pd.isna(raw)
    if missing.any():
        first = data.index[design.rows[np.flatnonzero(missing)[0]]]
        raise ImpactError(
            f"partition column {col!r} is missing on {int(missing.sum())} rows of the sample "
            f"(first at row {first!r}): every unit needs its eligibility."
        )
    per_unit = unit_constant(raw, design.unit_code, col, "partition", design.units)
    values = pd.unique(np.asarray(per_unit, dtype=object))
    numbers = all(isinstance(v, bool | int | float | np.number) for v in values)
    if not numbers or not {float(v) for v in values} <= {0.0, 1.0}:
        shown = ", ".join(str(v) if numbers else repr(v) for v in values[:5])
        raise InvalidOptionError(
            f"partition column {col!r} must hold 0/1 or booleans (1 = eligible for the "
            f"treatment), got {shown} (dtype {data[col].dtype})."
        )
    q = np.array([float(v) == 1.0 for v in per_unit], dtype=bool)
    if q.all() or not q.any():
        raise ImpactError(
            f"partition column {col!r} does not vary: every unit is "
            f"{'eligible' if q.all() else 'ineligible'}, so there is no third difference; "
            "use att_gt for a difference-in-differences."
        )
    return q


def ddd(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    partition: str,
    covariates: Sequence[str] | None = None,
    control: str = "never",
    base_period: str = "universal",
    method: str = "dr",
    covariates_at: str = "base",
    panel: str = "pairwise",
    weights: str | None = None,
    vcov: VcovSpec = None,
    anticipation: int = 0,
    never_treated: float | None = None,
    freq: str | None = None,
    alpha: float = 0.05,
    min_cell_units: int = 1,
    bootstrap: int | None = None,
    seed: int | None = None,
    bootstrap_weights: str = "rademacher",
) -> DDDResult:
    """Staggered triple differences: ATT(g, t) of the eligible units of each cohort.

    A unit's cohort is the period its group (a region, a cluster cell) enabled the
    treatment; within an enabled group only eligible units (``partition`` = 1, e.g.
    member firms or the targeted sector) can be treated. DDD(g, t) compares the eligible
    and ineligible units of cohort ``g`` with the same two subgroups of a comparison
    cohort, so trends that differ between eligible and ineligible units, or between
    groups, are differenced out (Ortiz-Villavicencio & Sant'Anna 2025): it is
    DiD(eligible vs ineligible of g) + DiD(eligible of g vs eligible of c) − DiD(eligible
    of g vs ineligible of c), each two-group DiD doubly robust (or regression, or IPW)
    with its own nuisance fits. With ``control="notyet"`` each not-yet-treated cohort
    gives one DDD and the cell combines them with efficient (GMM) weights.

    Parameters
    ----------
    data : DataFrame
        Long panel; never modified.
    y, unit, time, cohort : str
        Outcome, unit id, period and enabling cohort (first enabled period; NaN — or
        0/inf when 0 is not a period — for never-enabled units).
    partition : str
        Unit-level 0/1 (or boolean) eligibility; it must not vary within units.
    covariates : list of str, optional
        Covariates of the propensity scores and outcome regressions.
    control : {"never", "notyet"}
        Comparison cohorts: never-enabled only, or also cohorts not yet enabled by
        ``max(t, base) + anticipation``.
    base_period : {"universal", "varying"}
        Every cell against period g−1−anticipation (the authors' default), or
        pre-treatment cells against t−1.
    method : {"dr", "reg", "ipw"}
        Doubly robust (traditional, R ``DRDID::drdid_panel``), outcome regression or
        normalised IPW for each two-group DiD.
    covariates_at : {"base", "period"}
        Covariates taken in the cell's base period (pre-treatment; R ``triplediff``) or
        in its target period ``t`` (moderndid's ``ddd``). Equal for time-invariant
        covariates.
    panel : {"pairwise", "balanced"}
        Each cell uses the units observed in its base and target periods, or only units
        observed in every period.
    weights : str, optional
        Time-invariant sampling weights.
    vcov : None or {"cluster": col}
        Unit-level influence functions, or summed within clusters (constant within
        units).
    anticipation, never_treated, freq, alpha, min_cell_units
        As :func:`impact.att_gt`; a comparison cohort with a subgroup of fewer than
        ``min_cell_units`` units is left out of its cell, and a cell without any is NaN.
    bootstrap, seed, bootstrap_weights
        Multiplier bootstrap with simultaneous bands, as :func:`impact.att_gt`.

    Returns
    -------
    DDDResult
        ``table`` (one row per cell; ``comparisons`` = comparison cohorts combined),
        ``aggregate("simple" | "group" | "calendar" | "dynamic")`` weighted by enabling
        cohort sizes as R ``did``, ``pretrend_test()``, ``tidy()``, ``plot()``.

    Notes
    -----
    Standard errors come from the unit influence functions, ``sqrt(sum psi_i^2) / n``
    (summed within clusters first). A GMM cell's influence function is the weighted
    combination of its comparisons', so its standard error is
    ``1 / sqrt(n 1' Omega^-1 1)`` with ``Omega`` their second-moment matrix.

    References
    ----------
    Ortiz-Villavicencio, M., & Sant'Anna, P. H. C. (2025). Better understanding triple
    differences estimators. arXiv:2505.09942.

    Examples
    --------
    moderndid's triple-differences example on Cai (2016): doubly robust with household size and
    age, its published dynamic aggregation is 0.0548 overall and -0.0545, -0.0321, 0, 0.0070,
    0.0317, 0.0484, 0.0422, 0.0684, 0.1309 at event times -3 to 5.

    >>> import impact
    >>> cai = impact.datasets.load("cai2016")
    >>> cai["g"] = cai["treatment"].map({1: 2003, 0: 0})
    >>> res = impact.ddd(cai, y="checksaving_ratio", unit="hhno", time="year",
    ...     cohort="g", partition="sector", covariates=["hhsize", "age"],
    ...     covariates_at="period")
    >>> dynamic = res.aggregate("dynamic")
    >>> round(dynamic.estimate, 4)
    0.0548
    >>> dynamic.table["estimate"].round(4).tolist()
    [-0.0545, -0.0321, 0.0, 0.007, 0.0317, 0.0484, 0.0422, 0.0684, 0.1309]
    """
    _check_options(
        data,
        {"y": y, "unit": unit, "time": time, "cohort": cohort, "partition": partition,
         "weights": weights},
        {"control": control, "base_period": base_period, "method": method,
         "panel": panel, "covariates_at": covariates_at},
        alpha,
    )  # fmt: skip
    whole_number("min_cell_units", min_cell_units, 1)
    whole_number("bootstrap", bootstrap, 2, optional=True)
    check_seed(seed, optional=True)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if not all(isinstance(c, str) for c in covariates):
        raise InvalidOptionError(f"covariates must be column names, got {covariates!r}.")
    cluster = one_cluster(vcov, "ddd")
    design = staggered_design(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        outcomes=[y],
        covariates=covariates,
        weights=weights,
        clusters=[cluster] if cluster else [],
        columns=[partition],
        anticipation=anticipation,
        never_treated=never_treated,
        freq=freq,
        balanced=panel == "balanced",
    )
    q = _partition(data, design, partition)
    wide = wide_arrays(design, data, y=y, covariates=covariates, cluster=cluster)
    if cluster:
        check_cluster_count(int(wide.cluster.max()) + 1, cluster, "ddd")
    never = np.isnan(wide.cohort)
    if control == "never" and not (never & wide.pool).any():
        raise ImpactError(
            "control='never' but no unit is never enabled; use control='notyet' or add "
            "never-enabled units."
        )
    cells = gt_cells(wide.periods, np.unique(wide.cohort[~never]), base_period, design.anticipation)
    est = estimate_ddd_cells(
        wide, q, cells, control=control, anticipation=design.anticipation, method=method,
        min_cell_units=min_cell_units, covariates_at=covariates_at, names=covariates,
        label=design.grid.label,
    )  # fmt: skip
    reference = np.array([t == s for _, t, s in cells], dtype=bool)
    if np.isnan(est.att[~reference]).all():
        raise EmptySampleError(
            "no DDD(g,t) cell can be estimated: every cell misses a subgroup (eligible or "
            "ineligible units of the enabling cohort or of its comparison cohorts)."
        )
    _warn_cells(est, design.grid, min_cell_units)
    design.sample_log.announce("ddd")
    settings = {
        "y": y, "partition": partition, "control": control, "method": method,
        "covariates": covariates, "covariates_at": covariates_at,
        "base_period": base_period, "panel": panel, "anticipation": design.anticipation,
        "vcov": "unit" if cluster is None else f"cluster ({cluster})", "cluster": cluster,
    }  # fmt: skip
    res = DDDResult.build(
        cells=cells, att=est.att, inf=est.inf, n_treated=est.n_treated,
        n_control=est.n_control, wide_cohort=wide.cohort, wide_weights=wide.weights,
        units=pd.Index(wide.units, name=unit), observed=~np.isnan(wide.y),
        periods=wide.periods, cluster=wide.cluster, cluster_labels=wide.cluster_labels,
        anticipation=design.anticipation, alpha=alpha, sample_log=design.sample_log,
        notes=list(design.notes), bootstrap=bootstrap, seed=seed,
        bootstrap_weights=bootstrap_weights, settings=settings, grid=design.grid,
    )  # fmt: skip
    warn_zero_se(
        res.table, "DDD(g,t)", "subgroups of one unit, or clusters that nest the cohorts "
        "or the partition"
    )  # fmt: skip
    return dataclasses.replace(res, table=res.table.assign(comparisons=est.n_comparisons))


def _cells(cells: list, grid) -> str:
    return ", ".join(f"({grid.label(g)}, {grid.label(t)})" for g, t in cells[:10])


def _warn_cells(est, grid, min_cell_units: int) -> None:
    """One warning per kind of cell problem, listing the cells."""
    if est.empty:
        warnings.warn(
            f"{len(est.empty)} DDD(g,t) cells are NaN: no comparison cohort has at least "
            f"{min_cell_units} units in each of the four subgroups (eligible and "
            f"ineligible of the enabling and of the comparison cohort): "
            f"{_cells(est.empty, grid)}",
            EmptyCellWarning,
            stacklevel=3,
        )
    if est.dropped:
        warnings.warn(
            f"{est.dropped} comparison cohorts were left out of their DDD(g,t) cells: a "
            f"subgroup has fewer than {min_cell_units} units (table column 'comparisons' "
            "counts the cohorts each cell combines).",
            EmptyCellWarning,
            stacklevel=3,
        )
    if est.separated:
        warnings.warn(
            f"in {len(est.separated)} DDD(g,t) cells a propensity score leaves a comparison "
            "subgroup almost no weight (below 1e-6 of the eligible treated units'): the "
            "covariates (nearly) separate the subgroups, so overlap fails and those cells' "
            f"estimates rest on a few near-zero scores. Cells: {_cells(est.separated, grid)}. "
            "Coarsen or drop the covariate, or use method='reg'.",
            SeparationWarning,
            stacklevel=3,
        )
    if est.singletons:
        warnings.warn(
            f"in {len(est.singletons)} DDD(g,t) cells a subgroup has a single unit: its "
            "outcome change carries no variance estimate, so those standard errors reflect "
            f"only the other subgroups. Cells: {_cells(est.singletons, grid)}.",
            ImpactWarning,
            stacklevel=3,
        )
