"""did_multiplegt's result: both directions combined, the average total effect, the
clustered covariance of effects and placebos, and the joint tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.switching import SwitchingDesign
from impact.errors import ClusterError, EmptySampleError, ImpactWarning
from impact.estimators.dcdh_effects import Horizon
from impact.inference.clusters import influence_vcov
from impact.inference.intervals import interval
from impact.inference.wald import wald
from impact.results.did_multiplegt import DidMultiplegtResult

__all__ = ["SIDES", "assemble"]

#: The directions of switch of each ``switchers=`` choice (1: in, 0: out).
SIDES = {"both": (1, 0), "in": (1,), "out": (0,)}


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


def _cluster_vcov(phi: FloatArray, cluster: np.ndarray) -> FloatArray:
    """``sum_c S_c S_c'`` of the cluster sums of the (G, K) influence functions (already
    divided by the number of groups); NaN rows and columns for estimates that are NaN."""
    V = influence_vcov(np.nan_to_num(phi), cluster, n=1)
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


def assemble(
    design: SwitchingDesign,
    eff: list[list[Horizon]],
    pls: list[list[Horizon]],
    normalized: bool,
    alpha: float,
    settings: dict[str, object],
    cluster: str | None,
) -> DidMultiplegtResult:
    sides = SIDES[str(settings["switchers"])]
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
    V = _cluster_vcov(phi, design.cluster)
    se = np.sqrt(np.diag(V))
    att, phi_att, att_switchers = _ate(eff, sides)
    V_att = _cluster_vcov(phi_att[:, None], design.cluster)
    att_se = float(np.sqrt(V_att[0, 0]))
    att_cells = np.maximum.reduce([r["_cells"] for r in rows if r["effect"] > 0])
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "_cells"} for r in rows])
    table["std_error"] = se
    table["conf_low"], table["conf_high"] = interval(table["estimate"].to_numpy(), se, alpha)
    rel = table["rel_time"].to_numpy()
    vcov = pd.DataFrame(V, index=rel, columns=rel)
    _warn_missing(table)
    _check_variance(table, sum(h.dropped for parts in eff + pls for h in parts))
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


def _check_variance(table: pd.DataFrame, dropped: int) -> None:
    """A typed error when an estimate's variance is zero because every one of its terms
    was left out (each comparison cell within one cluster, e.g. ``trends_nonparam``
    categories nested in the clusters); a warning when some terms were."""
    est, se = table["estimate"].to_numpy(float), table["std_error"].to_numpy(float)
    zero = np.isfinite(est) & (se == 0)
    if zero.any():
        raise ClusterError(
            "did_multiplegt: the standard errors are zero: every switcher's cohort and "
            "comparison cell lies in a single cluster, so the centred influence functions "
            "carry no variation (e.g. trends_nonparam categories nested in the clusters). "
            "Cluster more coarsely than the comparison classes, or drop trends_nonparam."
        )
    if dropped:
        warnings.warn(
            f"did_multiplegt: {dropped} terms are left out of the variance (switchers or "
            "comparisons whose cohort and comparison cell lie in one cluster, as in the "
            "authors' estimator); the standard errors may understate.",
            ImpactWarning, stacklevel=4,
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
