"""``did_multiplegt``: de Chaisemartin & D'Haultfoeuille's DID_l for treatments that switch.

For a treatment that may switch on and off, or take several values, effect ``l`` compares
the outcome change from ``F_g - 1`` to ``F_g - 1 + l`` of groups whose treatment first
changed at ``F_g`` with that of groups with the same baseline treatment that have not
changed yet (de Chaisemartin & D'Haultfoeuille 2024). Switchers in (treatment above the
baseline) and out (below) are estimated separately and combined with their weights, the
out-switchers' effect with its sign reversed, so that every effect is that of a
treatment increase. Placebo ``l`` repeats the comparison on ``Y_{F-1-l} - Y_{F-1}``.
``normalized=True`` divides effect ``l`` by the switchers' mean cumulated treatment change
(the effect per unit of treatment and period of exposure), and the average total effect
is the effects' sum per unit of treatment received. Standard errors come from the
group-level influence functions, centred within cohorts (the authors' conservative
variance) and clustered by group or by ``cluster=``; the joint tests are chi-square tests
on their covariance.

The numbers are those of the authors' ``did_multiplegt_dyn`` (Stata, R and Python): the
sample rules are in :mod:`impact.design.switching`, the influence functions in
:mod:`impact.estimators.dcdh_effects`.

References
----------
de Chaisemartin, C., & D'Haultfoeuille, X. (2024). Difference-in-differences estimators of
intertemporal treatment effects. Review of Economics and Statistics, 106(6), 1723-1736.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.switching import SwitchingDesign, switching_design
from impact.errors import ImpactWarning, InvalidOptionError
from impact.estimators.dcdh_assemble import SIDES, assemble
from impact.estimators.dcdh_controls import ControlFit, fit_controls, net_of_controls
from impact.estimators.dcdh_effects import (
    change,
    eligible,
    horizon_stats,
    lead_eligible,
)
from impact.inference.clusters import check_cluster_count
from impact.options import check_alpha, check_flag, check_frame_and_names, whole_number
from impact.results.did_multiplegt import DidMultiplegtResult

__all__ = ["did_multiplegt"]


def did_multiplegt(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    effects: int = 1,
    placebo: int = 0,
    cluster: str | None = None,
    weights: str | None = None,
    normalized: bool = False,
    same_switchers: bool = False,
    same_switchers_pl: bool = False,
    only_never_switchers: bool = False,
    switchers: str = "both",
    trends_nonparam: Sequence[str] | None = None,
    controls: Sequence[str] | None = None,
    freq: str | None = None,
    alpha: float = 0.05,
) -> DidMultiplegtResult:
    """Dynamic effects of a treatment that switches on or off (or changes level).

    Parameters
    ----------
    data : DataFrame
        One row per (unit, time); not modified.
    y, unit, time, treatment : str
        Outcome, group id, period and treatment columns. The treatment is numeric (0/1
        membership, or a level); it may switch on and off.
    effects : int
        Effects ``l = 1 .. effects`` (fewer when the panel is shorter: a warning says so).
    placebo : int
        Placebos ``l = 1 .. placebo`` (at most ``effects``).
    cluster : str, optional
        Cluster id constant within groups (default: each group).
    weights : str, optional
        Cell weights (e.g. group size).
    normalized : bool
        Divide effect ``l`` by the switchers' mean cumulated treatment change.
    same_switchers : bool
        Estimate every effect on the switchers for which all of them can be estimated.
    same_switchers_pl : bool
        With ``same_switchers``: also keep only the switchers whose placebos ``1 ..
        placebo`` are all available (outcome observed ``j`` periods before the one before
        the switch, and a comparison unchanged then; the authors' rule).
    only_never_switchers : bool
        Compare with groups that never switch only (not with not-yet-switchers).
    switchers : {"both", "in", "out"}
        Switchers whose treatment rises above (``"in"``) or falls below (``"out"``) its
        baseline, or both.
    trends_nonparam : sequence of str, optional
        Time-invariant categories (e.g. ``["sector"]``) within which switchers are
        compared: groups of other categories may trend differently.
    controls : sequence of str, optional
        Time-varying control variables. For each baseline treatment, the outcome's first
        differences are regressed on the controls' first differences and period effects
        among the groups not switched yet; every outcome change in the effects and
        placebos is then net of the controls' change times those coefficients, and the
        standard errors account for their estimation (the authors' ``controls``). Rows
        with a missing control are dropped (counted), treatment included, as the
        authors' command drops them: a switch date next to such a row can become
        uncertain (counted under ``uncertain_switch``).
    freq : str, optional
        Frequency of a datetime or Period time column (``"Y"``, ``"Q"``, ``"M"``), when
        it is not inferred. Periods are the ranks of the observed dates either way.
    alpha : float
        Level of the intervals.

    Returns
    -------
    DidMultiplegtResult

    Raises
    ------
    ColumnNotFoundError, ColumnTypeError, DuplicateRowsError, ClusterError
        Bad columns, a non-numeric treatment, duplicate (unit, time) rows, a cluster id
        missing or varying within a group.
    EmptySampleError
        No group switches while a comparison group of its baseline is unchanged.

    Examples
    --------
    The authors' example (Favara & Imbs 2015, bank-branching deregulation): their package prints
    an average total effect of 0.0550630 (standard error 0.0268082), each effect estimated on the
    same 773 switchers.

    >>> import impact
    >>> df = impact.datasets.load("favara_imbs")
    >>> res = impact.did_multiplegt(df, y="Dl_vloans_b", unit="county", time="year",
    ...     treatment="inter_bra", effects=8, placebo=3, cluster="state_n",
    ...     normalized=True, same_switchers=True)
    >>> round(res.att, 4), round(res.att_se, 4)
    (0.0551, 0.0268)
    >>> res.table.loc[res.table["effect"] > 0, "switchers"].unique().tolist()
    [773]
    """
    check_frame_and_names(
        data, "did_multiplegt",
        {"y": y, "unit": unit, "time": time, "treatment": treatment, "cluster": cluster,
         "weights": weights}, optional=("cluster", "weights"),
    )  # fmt: skip
    effects = whole_number("effects", effects, 1)
    placebo = whole_number("placebo", placebo, 0)
    flags = {
        name: check_flag(name, value)
        for name, value in (("normalized", normalized), ("same_switchers", same_switchers),
                            ("same_switchers_pl", same_switchers_pl),
                            ("only_never_switchers", only_never_switchers))
    }  # fmt: skip
    if not isinstance(switchers, str) or switchers not in SIDES:
        raise InvalidOptionError(f"switchers must be 'both', 'in' or 'out', got {switchers!r}.")
    if flags["same_switchers_pl"] and not flags["same_switchers"]:
        raise InvalidOptionError("same_switchers_pl=True applies with same_switchers=True.")
    check_alpha(alpha)
    trends = [trends_nonparam] if isinstance(trends_nonparam, str) else trends_nonparam
    if trends is not None and not all(isinstance(c, str) for c in trends):
        raise InvalidOptionError(f"trends_nonparam must be column names, got {trends_nonparam!r}.")
    xs = [controls] if isinstance(controls, str) else list(controls or [])
    if isinstance(controls, dict) or not all(isinstance(c, str) for c in xs):
        raise InvalidOptionError(f"controls must be column names, got {controls!r}.")
    design = switching_design(
        data,
        y=y,
        unit=unit,
        time=time,
        treatment=treatment,
        cluster=cluster,
        weights=weights,
        trends_nonparam=tuple(trends or ()),
        freq=freq,
        controls=tuple(xs),
    )
    check_cluster_count(design.n_clusters, cluster or unit, "did_multiplegt")
    sides = SIDES[switchers]
    n_eff, n_pl = _horizons(design, sides, effects, placebo)
    cfit = fit_controls(design) if xs else None
    never = flags["only_never_switchers"]
    changes = [_changes(design, h, 0, never, cfit) for h in range(n_eff + 1)]
    ok = [eligible(design, changes[h][0], changes[h][1], h) for h in range(1, n_eff + 1)]
    still = np.ones(design.n_groups, dtype=bool)
    if flags["same_switchers"]:
        still = np.logical_and.reduce(ok) & (design.F - 1 + n_eff <= design.T_g)
    eff = [
        [_stats(design, changes[h], ok[h - 1] & still, h, s, cfit) for s in sides]
        for h in range(1, n_eff + 1)
    ]
    pl_changes = [_changes(design, h, h, never, cfit) for h in range(n_pl + 1)]
    fill = still.copy()
    if flags["same_switchers"] and flags["same_switchers_pl"]:
        for h in range(1, n_pl + 1):
            fill &= lead_eligible(design, h, flags["only_never_switchers"])
    pls = [
        [_stats(design, pl_changes[h], ok[h - 1] & fill, h, s, cfit) for s in sides]
        for h in range(1, n_pl + 1)
    ]
    return assemble(design, eff, pls, flags["normalized"], alpha, {
        "y": y, "unit": unit, "time": time, "treatment": treatment, "effects": effects,
        "placebo": placebo, "cluster": cluster, "weights": weights, "switchers": switchers,
        "trends_nonparam": list(trends or []), "controls": xs,
        **flags,
    }, cluster)  # fmt: skip


def _horizons(
    design: SwitchingDesign, sides: tuple[int, ...], effects: int, placebo: int
) -> tuple[int, int]:
    """Effects and placebos the panel supports (a warning when fewer than asked)."""
    on = np.isin(design.side, sides)
    if not on.any():
        raise InvalidOptionError(
            f"no switcher of the direction asked ({'in' if sides == (1,) else 'out'}): "
            "use switchers='both' or check the treatment."
        )
    n_eff = min(int(design.L[on].max()), effects)
    L_pl = np.where(design.F >= 2, np.minimum(design.L, design.F - 1), 0)
    n_pl = min(int(L_pl[on].max()), placebo, effects)
    if n_eff < effects or n_pl < min(placebo, effects):
        warnings.warn(
            f"did_multiplegt: the panel supports {n_eff} effects and {n_pl} placebos "
            f"(asked {effects} and {placebo}).", ImpactWarning, stacklevel=3,
        )  # fmt: skip
    if placebo > effects:
        warnings.warn(
            f"did_multiplegt: placebo={placebo} > effects={effects}; {n_pl} placebos are "
            "estimated (a placebo l needs effect l's switchers).", ImpactWarning, stacklevel=3,
        )  # fmt: skip
    return n_eff, n_pl


def _stats(design, changes, switcher, h: int, side: int, cfit):
    dY, control, dX = changes
    return horizon_stats(design, dY, control, switcher, h, side, dX=dX, controls=cfit)


def _changes(
    design: SwitchingDesign, h: int, lead: int, only_never: bool, cfit: ControlFit | None
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """The change of horizon ``l`` (placebo when ``lead``; net of the controls' change
    with controls), the not-yet-switcher indicator (NaN where the change, or effect
    ``l``'s change, is missing) and the controls' change."""
    if h == 0:
        empty = np.full_like(design.Y, np.nan)
        return empty, empty, None
    T = design.n_periods
    t = np.arange(T)[None, :]
    effect_change = change(design.Y, 0, h)
    dY = effect_change if not lead else change(design.Y, 2 * h, h)
    dX = None
    if cfit is not None:
        dX = np.stack([change(x, 2 * h if lead else 0, h) for x in design.X])
        dY = net_of_controls(dY, dX, cfit)
    unchanged = design.F[:, None] > t
    if only_never:
        unchanged &= (design.F == T)[:, None]
    observed = np.isfinite(effect_change) & np.isfinite(dY)
    if lead:
        control = np.where(np.isfinite(effect_change), unchanged & np.isfinite(dY), np.nan)
    else:
        control = np.where(observed, unchanged, np.nan)
    return dY, control.astype(float), dX
