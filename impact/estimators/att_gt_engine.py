"""``att_gt`` in a query engine: unconditional ATT(g,t) from cell sums, and every variance
from sums over unit types (SCALE.md §2.2, "CS ATT(g,t), no covariates").

Cell estimates are differences of weighted means of ``Y_t - Y_s``: one pass sums them by
cohort and control-pool flag. A unit's influence function in a cell is
``w_i (v_c' y_i - b_c)`` with ``v_c``, ``b_c`` fixed by its cohort and the periods it is
observed in, and its cohort-share indicators ``pg_i`` likewise; so the cross-products of
``Z_i = [psi_i, pg_i, 1]`` over the units need only, per unit type (cohort, pool,
observed periods), the sums of ``w^2``, ``w^2 y``, ``w^2 y y'``, ``w`` and ``w y`` — one
more pass whose result has a row per type. Clustered, the clusters' sums of ``Z`` need
``w`` and ``w y`` per (cluster, type). The result carries rows that stand for the units
(:class:`~impact.results.aggregation.EngineRows`), so every aggregation's estimate and
standard error equals the in-memory fit's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from impact.design.engine_panel import NEVER, EnginePanel, P, engine_panel
from impact.engine.base import Engine
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.att_gt_cells import gt_cells
from impact.estimators.att_gt_engine_cov import covariate_cells
from impact.estimators.att_gt_engine_improved import improved_cells
from impact.estimators.att_gt_engine_rows import covariate_rows, gram_rows
from impact.estimators.engine_types import score_sums, type_moments
from impact.inference.clusters import check_cluster_count
from impact.results.aggregation import EngineRows

__all__ = ["CellSums", "att_gt_in_engine", "cell_sums", "influence_rows"]


class CellSums:
    """Estimates, counts and influence-function coefficients of the cells."""

    def __init__(self, n_cells: int) -> None:
        self.att = np.full(n_cells, np.nan)
        self.n_treat = np.zeros(n_cells, dtype=int)
        self.n_ctrl = np.zeros(n_cells, dtype=int)
        self.empty: list[tuple] = []
        #: cells whose propensity logit is separated (with covariates)
        self.separated: list[tuple] = []
        #: per cell: (treated A, treated mu, control A, control mu) with psi = A w (dy - mu)
        self.coef = np.zeros((n_cells, 4))
        #: mean weight of the units (weights are normalised to mean 1)
        self.mw = 1.0


def _slot(panel: EnginePanel) -> dict[int, int]:
    return {int(p): j for j, p in enumerate(panel.slots) if p in set(panel.periods.tolist())}


def cell_sums(
    engine: Engine, panel: EnginePanel, cells: list, *, control: str, min_cell_units: int
) -> CellSums:
    """ATT(g,t) of every cell from one pass of sums by cohort and pool (unconditional)."""
    slot = _slot(panel)
    pairs = sorted({(t, s) for _, t, s in cells if t != s})
    sums: dict[str, Any] = {"w": f"{P}w"}
    for t, s in pairs:
        ot, os_ = f"{P}o{slot[t]}", f"{P}o{slot[s]}"
        dy = f"({P}y{slot[t]} - {P}y{slot[s]})"
        sums[f"n{t}_{s}"] = f"{ot} * {os_}"
        sums[f"w{t}_{s}"] = f"{P}w * {ot} * {os_}"
        sums[f"s{t}_{s}"] = f"{P}w * {ot} * {os_} * {dy}"
    by = engine.group_sums(panel.units, [f"{P}g", f"{P}pool"], sums, count="units")
    mw = float(by["w"].sum()) / panel.n_units  # weights are normalised to mean 1
    g = by[f"{P}g"].to_numpy(dtype=float)
    pool = by[f"{P}pool"].to_numpy(dtype=float) != 0
    never = g == NEVER
    out = CellSums(len(cells))
    n = panel.n_units
    for c, (gc, t, s) in enumerate(cells):
        if t == s:
            out.att[c] = 0.0
            continue
        treated = g == gc
        if control == "never":
            ctrl = never & pool
        else:
            ctrl = (never | (g > max(t, s) + panel.anticipation)) & (g != gc) & pool
        key = f"{t}_{s}"
        n1, n0 = int(by[f"n{key}"][treated].sum()), int(by[f"n{key}"][ctrl].sum())
        out.n_treat[c], out.n_ctrl[c] = n1, n0
        if n1 < min_cell_units or n0 < min_cell_units:
            out.empty.append((gc, t))
            continue
        W1, W0 = by[f"w{key}"][treated].sum() / mw, by[f"w{key}"][ctrl].sum() / mw
        mu1 = by[f"s{key}"][treated].sum() / mw / W1
        mu0 = by[f"s{key}"][ctrl].sum() / mw / W0
        out.att[c] = mu1 - mu0
        out.coef[c] = (n / (W1 * mw), mu1, -n / (W0 * mw), mu0)
    out.mw = mw
    return out


def _type_maps(
    panel: EnginePanel,
    cells: list,
    cs: CellSums,
    control: str,
    g: np.ndarray,
    pool: np.ndarray,
    pat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per type, ``Z/w = P y + q`` for its units: P (types, K + C, T) and q (types, K + C)."""
    slot = _slot(panel)
    T, K, C = len(panel.slots), len(cells), len(panel.cohorts)
    Pm = np.zeros((len(g), K + C, T))
    q = np.zeros((len(g), K + C))
    seen = [(pat.astype(np.int64) >> j) & 1 for j in range(T)]
    never = g == NEVER
    for c, (gc, t, s) in enumerate(cells):
        if not np.isfinite(cs.att[c]) or t == s:
            continue
        jt, js = slot[t], slot[s]
        both = (seen[jt] & seen[js]).astype(bool)
        if control == "never":
            ctrl = never & pool
        else:
            ctrl = (never | (g > max(t, s) + panel.anticipation)) & (g != gc) & pool
        a1, mu1, a0, mu0 = cs.coef[c]
        for rows, a, mu in ((both & (g == gc), a1, mu1), (both & ctrl, a0, mu0)):
            Pm[rows, c, jt] = a
            Pm[rows, c, js] = -a
            q[rows, c] = -a * mu
    periods = panel.periods
    for j, cohort in enumerate(panel.cohorts):
        base = periods[periods + panel.anticipation < cohort][-1]
        at_base = seen[slot[int(base)]].astype(bool)
        q[(g == cohort) & at_base, K + j] = 1.0 / cs.mw
    return Pm, q


def influence_rows(
    engine: Engine,
    panel: EnginePanel,
    cells: list,
    cs: CellSums,
    *,
    control: str,
    cluster: str | None,
) -> tuple[EngineRows, np.ndarray | None, np.ndarray | None]:
    """Rows standing for the units' ``Z_i = [psi_i, pg_i, 1]``: a square root of their
    cross-products (unit level) or the clusters' sums; with the cluster codes and labels."""
    K, C = len(cells), len(panel.cohorts)
    tm = type_moments(engine, panel, cluster)
    Pm, q = _type_maps(panel, cells, cs, control, tm.g, tm.pool, tm.pat)
    sc = score_sums(tm, Pm, q)
    pg_mean = sc.zsum[:, K:].sum(axis=0) / panel.n_units
    if cluster is not None:
        assert tm.labels is not None
        G = len(tm.labels)
        check_cluster_count(G, cluster, "att_gt")
        S = sc.by_cluster(tm)
        units = np.zeros(G)
        np.add.at(units, tm.cluster, tm.count)
        rows = EngineRows(S[:, :K], S[:, K:], units, pg_mean, panel.n_units, G)
        return rows, np.arange(G), tm.labels
    assert sc.gram is not None and sc.rounding is not None
    Q = np.zeros((K + C + 1, K + C + 1))
    Q[:-1, :-1] = sc.gram
    Q[:-1, -1] = Q[-1, :-1] = sc.zsum.sum(axis=0)
    Q[-1, -1] = tm.count.sum()
    # a cell whose influence function is zero up to rounding (everyone's outcome changes
    # alike) has a zero row and column (|Q_ij| <= sqrt(Q_ii Q_jj))
    null = np.zeros(len(Q), dtype=bool)
    null[:K] = np.clip(np.diag(Q)[:K], 0.0, None) <= sc.rounding[:K]
    return gram_rows(Q, null, K, pg_mean, panel.n_units), None, None


def att_gt_in_engine(
    engine: Engine,
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    control: str,
    control_pool: str | None,
    method: str,
    covariates: list[str],
    anticipation: int,
    base_period: str,
    panel: str,
    weights: str | None,
    cluster: str | None,
    never_treated: float | None,
    freq: str | None,
    min_cell_units: int,
    bootstrap: int | None,
) -> tuple[EnginePanel, list, CellSums, EngineRows, np.ndarray | None, np.ndarray | None]:
    """The pieces of :func:`impact.att_gt`'s result computed in ``engine`` (see there)."""
    limits = [
        (panel == "rcs", "panel='rcs'"),
        (freq is not None, "freq= (the engine path reads integer periods)"),
        (
            bool(bootstrap) and cluster is None,
            "a bootstrap without clusters (it needs every unit's influence function; cluster "
            "the bootstrap with vcov={'cluster': col})",
        ),
    ]
    for hit, what in limits:
        if hit:
            raise InvalidOptionError(
                f"att_gt in a query engine does not take {what}; fit an in-memory pandas "
                "frame for it."
            )
    pan = engine_panel(
        engine,
        engine.source(data),
        unit=unit,
        time=time,
        cohort=cohort,
        y=y,
        control_pool=control_pool,
        weights=weights,
        cluster=cluster,
        anticipation=anticipation,
        never_treated=never_treated,
        balanced=panel == "balanced",
        covariates=covariates,
    )
    if control == "never" and not pan.never_in_pool:
        raise ImpactError(
            "control='never' but there are no never-treated units in the control pool; use "
            "control='notyet' or add never-treated units."
        )
    cells = gt_cells(pan.periods, pan.cohorts, base_period, pan.anticipation)
    if covariates:
        common = dict(control=control, min_cell_units=min_cell_units, names=covariates)
        if method == "dr_improved":
            cov = improved_cells(engine, pan, cells, **common)
        else:
            cov = covariate_cells(engine, pan, cells, method=method, **common)
        cs = CellSums(len(cells))
        cs.att, cs.n_treat, cs.n_ctrl, cs.empty = cov.att, cov.n_treat, cov.n_ctrl, cov.empty
        cs.separated = cov.separated
        rows, codes, labels = covariate_rows(engine, pan, cells, cov, cluster)
        return pan, cells, cs, rows, codes, labels
    cs = cell_sums(engine, pan, cells, control=control, min_cell_units=min_cell_units)
    rows, codes, labels = influence_rows(engine, pan, cells, cs, control=control, cluster=cluster)
    return pan, cells, cs, rows, codes, labels
