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
from numbers import Integral

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.switching import SwitchingDesign, switching_design
from impact.errors import EmptySampleError, ImpactWarning, InvalidOptionError
from impact.estimators.dcdh_effects import (
    Horizon,
    change,
    eligible,
    horizon_stats,
    lead_eligible,
)
from impact.inference.clusters import check_cluster_count
from impact.inference.intervals import interval
from impact.inference.wald import wald
from impact.results.did_multiplegt import DidMultiplegtResult

__all__ = ["did_multiplegt"]

_SIDES = {"both": (1, 0), "in": (1,), "out": (0,)}


def _count(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < low:
        raise InvalidOptionError(f"{name} must be a whole number >= {low}, got {value!r}.")
    return int(value)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidOptionError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


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
    >>> import impact
    >>> df = impact.datasets.load("favara_imbs")  # doctest: +SKIP
    >>> res = impact.did_multiplegt(df, y="Dl_vloans_b", unit="county", time="year",
    ...     treatment="inter_bra", effects=8, placebo=3, cluster="state_n",
    ...     normalized=True, same_switchers=True)  # doctest: +SKIP
    >>> round(res.att, 6)  # doctest: +SKIP
    0.055063
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(
            f"did_multiplegt runs in memory on a pandas DataFrame, got {type(data).__name__} "
            "(polars: .to_pandas(); a DuckDB relation: .df())."
        )
    for name, value in (("y", y), ("unit", unit), ("time", time), ("treatment", treatment),
                        ("cluster", cluster), ("weights", weights)):  # fmt: skip
        if not (isinstance(value, str) or (value is None and name in ("cluster", "weights"))):
            raise InvalidOptionError(f"{name} must be a column name, got {value!r}.")
    effects = _count(effects, "effects", 1)
    placebo = _count(placebo, "placebo", 0)
    flags = {
        name: _flag(value, name)
        for name, value in (("normalized", normalized), ("same_switchers", same_switchers),
                            ("same_switchers_pl", same_switchers_pl),
                            ("only_never_switchers", only_never_switchers))
    }  # fmt: skip
    if not isinstance(switchers, str) or switchers not in _SIDES:
        raise InvalidOptionError(f"switchers must be 'both', 'in' or 'out', got {switchers!r}.")
    if flags["same_switchers_pl"] and not flags["same_switchers"]:
        raise InvalidOptionError("same_switchers_pl=True applies with same_switchers=True.")
    real = isinstance(alpha, float | int | np.floating) and not isinstance(alpha, bool)
    if not (real and 0 < alpha < 1):
        raise InvalidOptionError(f"alpha must be in (0, 1), got {alpha!r}.")
    trends = [trends_nonparam] if isinstance(trends_nonparam, str) else trends_nonparam
    if trends is not None and not all(isinstance(c, str) for c in trends):
        raise InvalidOptionError(f"trends_nonparam must be column names, got {trends_nonparam!r}.")
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
    )
    check_cluster_count(design.n_clusters, cluster or unit, "did_multiplegt")
    sides = _SIDES[switchers]
    n_eff, n_pl = _horizons(design, sides, effects, placebo)
    controls = [_controls(design, h, 0, flags["only_never_switchers"]) for h in range(n_eff + 1)]
    ok = [eligible(design, controls[h][0], controls[h][1], h) for h in range(1, n_eff + 1)]
    still = np.ones(design.n_groups, dtype=bool)
    if flags["same_switchers"]:
        still = np.logical_and.reduce(ok) & (design.F - 1 + n_eff <= design.T_g)
    eff = [
        [horizon_stats(design, *controls[h], ok[h - 1] & still, h, s) for s in sides]
        for h in range(1, n_eff + 1)
    ]
    pl_controls = [_controls(design, h, h, flags["only_never_switchers"]) for h in range(n_pl + 1)]
    fill = still.copy()
    if flags["same_switchers"] and flags["same_switchers_pl"]:
        for h in range(1, n_pl + 1):
            fill &= lead_eligible(design, h, flags["only_never_switchers"])
    pls = [
        [horizon_stats(design, *pl_controls[h], ok[h - 1] & fill, h, s) for s in sides]
        for h in range(1, n_pl + 1)
    ]
    return _result(design, eff, pls, flags["normalized"], alpha, {
        "y": y, "unit": unit, "time": time, "treatment": treatment, "effects": effects,
        "placebo": placebo, "cluster": cluster, "weights": weights, "switchers": switchers,
        "trends_nonparam": list(trends or []),
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


def _controls(
    design: SwitchingDesign, h: int, lead: int, only_never: bool
) -> tuple[FloatArray, FloatArray]:
    """The change of horizon ``l`` (placebo when ``lead``) and the not-yet-switcher
    indicator (NaN where the change, or effect ``l``'s change, is missing)."""
    if h == 0:
        empty = np.full_like(design.Y, np.nan)
        return empty, empty
    T = design.n_periods
    t = np.arange(T)[None, :]
    effect_change = change(design.Y, 0, h)
    dY = effect_change if not lead else change(design.Y, 2 * h, h)
    unchanged = design.F[:, None] > t
    if only_never:
        unchanged &= (design.F == T)[:, None]
    observed = np.isfinite(effect_change) & np.isfinite(dY)
    if lead:
        control = np.where(np.isfinite(effect_change), unchanged & np.isfinite(dY), np.nan)
    else:
        control = np.where(observed, unchanged, np.nan)
    return dY, control.astype(float)


def _combine(parts: list[Horizon], sides: tuple[int, ...]) -> dict[str, object]:
    """Both directions of one horizon: weights, estimate (out-switchers' sign reversed),
    influence functions and normalisation."""
    w = np.array([h.weight for h in parts])
    total = float(w.sum())
    sign = np.array([1.0 if s == 1 else -1.0 for s in sides])
    if total == 0:
        G = len(parts[0].phi)
        return {"weight": 0.0, "estimate": np.nan, "phi_var": np.full(G, np.nan),
                "delta": np.nan, "switchers": sum(h.switchers for h in parts)}  # fmt: skip
    share = sign * w / total
    live = [i for i, h in enumerate(parts) if h.weight > 0]
    return {
        "weight": total,
        "estimate": float(sum(share[i] * parts[i].estimate for i in live)),
        "phi_var": sum(share[i] * parts[i].phi_var for i in live),
        "delta": float(sum(w[i] * parts[i].delta for i in live)) / total,
        "switchers": sum(h.switchers for h in parts),
    }


def _cluster_vcov(phi: FloatArray, cluster: np.ndarray, n_clusters: int) -> FloatArray:
    """``sum_c S_c S_c'`` of the cluster sums of the (G, K) influence functions."""
    sums = np.zeros((n_clusters, phi.shape[1]))
    np.add.at(sums, cluster, np.nan_to_num(phi))
    V = sums.T @ sums
    bad = ~np.isfinite(phi).all(axis=0)
    V[bad, :] = np.nan
    V[:, bad] = np.nan
    return V


def _ate(eff: list[list[Horizon]], sides: tuple[int, ...]) -> tuple[float, FloatArray, int]:
    """Average total effect: the effects' weighted sum over the treatment received
    (each direction with its switchers' weights; out-switchers' sign reversed)."""
    sign = {1: 1.0, 0: -1.0}
    num = 0.0
    den = 0.0
    phi = np.zeros(len(eff[0][0].phi))
    for parts in eff:
        for s, h in zip(sides, parts, strict=True):
            if h.weight > 0:
                num += sign[s] * h.weight * h.estimate
                den += h.weight * h.delta_now
                phi = phi + sign[s] * h.weight * h.phi_var
    switchers = sum(h.switchers for parts in eff for h in parts)
    if den == 0:
        return np.nan, np.full_like(phi, np.nan), switchers
    return num / den, phi / den, switchers


def _test(est: FloatArray, V: FloatArray, R: FloatArray | None = None) -> dict[str, float]:
    """Chi-square test that ``R est = 0`` (generalized inverse; df its rank)."""
    if R is not None:
        est, V = R @ est, R @ V @ R.T
        V = (V + V.T) / 2
    w = wald(est, V, generalized=True)
    if w.df_num < len(est):
        warnings.warn(
            f"did_multiplegt: the covariance of the {len(est)} estimates tested has rank "
            f"{w.df_num} (e.g. fewer clusters than estimates); the chi-square test uses its "
            "generalized inverse and df = rank.", ImpactWarning, stacklevel=5,
        )  # fmt: skip
    return {"statistic": float(w.chi2), "df": float(w.df_num), "p_value": float(w.p_value)}


def _result(
    design: SwitchingDesign,
    eff: list[list[Horizon]],
    pls: list[list[Horizon]],
    normalized: bool,
    alpha: float,
    settings: dict[str, object],
    cluster: str | None,
) -> DidMultiplegtResult:
    sides = _SIDES[str(settings["switchers"])]
    rows = []
    phis = []
    for kind, horizons in (("effect", eff), ("placebo", pls)):
        for h, parts in enumerate(horizons, start=1):
            c = _combine(parts, sides)
            cells = np.maximum.reduce([h.cells for h in parts])
            scale = c["delta"] if normalized else 1.0
            rows.append({
                "effect": h if kind == "effect" else -h,
                "rel_time": h - 1 if kind == "effect" else -h - 1,
                "estimate": c["estimate"] / scale,
                "n": int((cells > 0).sum()), "switchers": int(c["switchers"]),
                "n_weighted": float(cells.sum()), "switchers_weighted": c["weight"],
                "delta": c["delta"], "_cells": cells,
            })  # fmt: skip
            phis.append(np.asarray(c["phi_var"]) / scale)
    phi = np.column_stack(phis)
    V = _cluster_vcov(phi, design.cluster, design.n_clusters)
    se = np.sqrt(np.diag(V))
    att, phi_att, att_switchers = _ate(eff, sides)
    V_att = _cluster_vcov(phi_att[:, None], design.cluster, design.n_clusters)
    att_se = float(np.sqrt(V_att[0, 0]))
    att_cells = np.maximum.reduce([r["_cells"] for r in rows if r["effect"] > 0])
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "_cells"} for r in rows])
    table["std_error"] = se
    table["conf_low"], table["conf_high"] = interval(table["estimate"].to_numpy(), se, alpha)
    rel = table["rel_time"].to_numpy()
    vcov = pd.DataFrame(V, index=rel, columns=rel)
    _warn_missing(table)
    tests = _tests(table, V)
    reference = {"effect": 0, "rel_time": -1, "estimate": 0.0, "n": 0, "switchers": 0}
    table = pd.concat([table, pd.DataFrame([reference])], ignore_index=True)
    table = table.sort_values("rel_time", ignore_index=True)
    columns = ["effect", "rel_time", "estimate", "std_error", "conf_low", "conf_high", "n",
               "switchers", "n_weighted", "switchers_weighted", "delta"]  # fmt: skip
    label = f"Clustered ({cluster})" if cluster else "Clustered (groups)"
    return DidMultiplegtResult(
        table=table[columns], att=att, att_se=att_se, att_n=int((att_cells > 0).sum()),
        att_switchers=att_switchers, tests=tests, vcov=vcov,
        n_obs=design.sample_log.n_final, n_units=design.n_groups,
        sample_log=design.sample_log, settings=settings,
        inference=f"{label}, cohort-centred influence functions", alpha=alpha,
        clusters={str(cluster or settings["unit"]): design.n_clusters},
    )  # fmt: skip


def _warn_missing(table: pd.DataFrame) -> None:
    """A typed error when nothing is estimated; a warning naming the effects and placebos
    that have no switcher with a comparison (NaN rows, left out of the joint tests)."""
    bad = table.loc[~np.isfinite(table["estimate"].to_numpy(float)), "effect"].tolist()
    if len(bad) == len(table) or not np.isfinite(table.loc[table["effect"] > 0, "estimate"]).any():
        raise EmptySampleError(
            "no effect can be estimated: no switcher has a comparison group of its baseline "
            "with the outcome observed (or every switcher has zero weight)."
        )
    if bad:
        names = [f"effect {k}" if k > 0 else f"placebo {-k}" for k in bad]
        warnings.warn(
            f"did_multiplegt: {', '.join(names)} cannot be estimated (no switcher with a "
            "comparison); they are NaN and left out of the joint tests.",
            ImpactWarning, stacklevel=4,
        )  # fmt: skip


def _tests(table: pd.DataFrame, V: FloatArray) -> dict[str, dict[str, float]]:
    """Joint chi-square tests on the estimated effects and placebos."""
    est = table["estimate"].to_numpy(dtype=float)
    out: dict[str, dict[str, float]] = {}
    is_eff = (table["effect"] > 0).to_numpy()
    for key, mask in (("effects", is_eff), ("placebos", ~is_eff)):
        idx = np.flatnonzero(mask)
        if len(idx) and np.isfinite(est[idx]).all() and np.isfinite(V[np.ix_(idx, idx)]).all():
            out[key] = _test(est[idx], V[np.ix_(idx, idx)])
    idx = np.flatnonzero(is_eff)
    if "effects" in out and len(idx) >= 2:
        k = len(idx)
        R = np.eye(k - 1, k) - np.full((k - 1, k), 1.0 / k)
        out["equal"] = _test(est[idx], V[np.ix_(idx, idx)], R)
    return out
