"""Aggregation of ATT(g,t) into overall, cohort, calendar and event-time effects (R did's
``aggte``), as pure functions on the cell estimates and their influence functions.

Cohort weights are cohort sizes (sampling-weighted counts of the cohort's units observed
in its base period); their estimation error enters the influence functions (R did's
``wif``). Standard errors come from the influence functions or, when the fit was
bootstrapped, from the multiplier bootstrap with the fit's weight distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.grid import PeriodGrid
from impact.errors import EmptySampleError, InvalidOptionError
from impact.inference.bootstrap import multiplier_bootstrap
from impact.inference.clusters import influence_vcov
from impact.inference.intervals import interval

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "EngineRows",
    "GTCells",
    "aggregate_cells",
    "aggregation_inference",
]

#: The aggregation types, in the order of their bootstrap streams.
AGGREGATIONS = ("simple", "group", "calendar", "dynamic")


@dataclass(frozen=True)
class GTCells:
    """What aggregation reads from an ATT(g,t) fit.

    Attributes
    ----------
    att : ndarray (cells,)
        Cell estimates (NaN: not estimable).
    g, t : ndarray (cells,)
        Cohort and period of each cell (grid positions).
    is_base : ndarray of bool (cells,)
        The cell is its cohort's base period (the reference; no SE).
    inf : ndarray (rows, cells)
        Influence functions: one row per unit, or rows that stand for the units (cluster
        sums, or a square root of their cross-products from a query engine).
    pg_units : ndarray (rows, cohorts)
        ``w_i 1{G_i = g, seen at base}`` (summed as ``inf``).
    cohorts : ndarray
        Cohort positions, sorted.
    last_period : float
    cluster : ndarray of int or None
    grid : PeriodGrid
    """

    att: FloatArray
    g: FloatArray
    t: FloatArray
    is_base: np.ndarray
    inf: FloatArray
    pg_units: FloatArray
    cohorts: FloatArray
    last_period: float
    cluster: np.ndarray | None
    grid: PeriodGrid
    #: units, cohort shares (``mean_i pg_units``) and units per row, when the rows are
    #: not units (None: rows are units)
    n: int | None = None
    pg_mean: FloatArray | None = None
    row_units: FloatArray | None = None

    def shares(self) -> FloatArray:
        """``mean_i w_i 1{G_i = g, seen at base}`` per cohort."""
        return self.pg_units.mean(axis=0) if self.pg_mean is None else self.pg_mean

    def centred(self, j: np.ndarray, pg: FloatArray) -> FloatArray:
        """``pg_units - pg`` summed as the rows are (each row holds ``row_units`` units)."""
        units = 1.0 if self.row_units is None else self.row_units[:, None]
        return self.pg_units[:, j] - units * pg[None, :]


@dataclass(frozen=True)
class EngineRows:
    """Rows that stand for the units in every variance an ATT(g,t) fit computes.

    With ``Z_i = [psi_i, pg_i, 1]`` (influence functions, cohort indicators, one), every
    aggregation's influence function is ``Z_i b`` for some ``b``, so its variance needs
    only ``sum_i Z_i Z_i'`` (or, clustered, the clusters' sums of ``Z``). A query engine
    computes those; these rows ``R`` satisfy ``R'R = sum_i Z_i Z_i'`` (unit level) or are
    the cluster sums (clustered).

    Attributes
    ----------
    inf : ndarray (rows, cells)
    pg : ndarray (rows, cohorts)
    row_units : ndarray (rows,)
        The ``1`` column of ``Z`` (units per row for cluster sums).
    pg_mean : ndarray (cohorts,)
        ``mean_i pg_i``.
    n : int
        Units.
    n_clusters : int or None
    """

    inf: FloatArray
    pg: FloatArray
    row_units: FloatArray
    pg_mean: FloatArray
    n: int
    n_clusters: int | None


@dataclass(frozen=True)
class Aggregation:
    """An aggregation before its inference: estimate, influence functions, rows."""

    kind: str
    estimate: float
    influence: FloatArray
    table: pd.DataFrame
    table_influence: FloatArray | None


def _pg(c: GTCells, keep: np.ndarray) -> tuple[FloatArray, np.ndarray]:
    j = np.searchsorted(c.cohorts, c.g[keep])
    return c.shares()[j], j


def _combine(
    c: GTCells, keep: np.ndarray, weights: FloatArray, with_wif: bool
) -> tuple[float, FloatArray]:
    att = c.att[keep]
    inf = c.inf[:, keep] @ weights
    if with_wif:
        pg, j = _pg(c, keep)
        total = pg.sum()
        dev = c.centred(j, pg)
        wif = dev / total - dev.sum(axis=1, keepdims=True) * (pg / total**2)[None, :]
        inf = inf + wif @ att
    return float(att @ weights), inf


def _se(c: GTCells, inf: FloatArray) -> float:
    return float(np.sqrt(influence_vcov(inf[:, None], c.cluster, c.n)[0, 0]))


def _require_rows(rows: list, kind: str) -> None:
    if not rows:
        raise EmptySampleError(
            f"no finite ATT(g,t) cell falls in the {kind} aggregation's window; widen "
            "min_e/max_e or check the cells' table."
        )


def _size_weighted(c: GTCells, keep: np.ndarray) -> tuple[float, FloatArray]:
    pg, _ = _pg(c, keep)
    return _combine(c, keep, pg / pg.sum(), with_wif=True)


def _group(c: GTCells, finite: np.ndarray, max_e: float) -> Aggregation:
    g, t = c.g, c.t
    rows, infs, sizes, keep_g = [], [], [], []
    for j, cohort in enumerate(c.cohorts):
        keep = np.flatnonzero((g == cohort) & (g <= t) & (t <= g + max_e) & finite)
        if not len(keep):
            continue
        est, inf = _combine(c, keep, np.full(len(keep), 1 / len(keep)), with_wif=False)
        rows.append({"cohort": c.grid.label(cohort), "estimate": est, "std_error": _se(c, inf)})
        infs.append(inf)
        sizes.append(c.shares()[j])
        keep_g.append(j)
    _require_rows(rows, "group")
    theta = np.array([r["estimate"] for r in rows])
    pg = np.array(sizes)
    W = np.column_stack(infs)
    dev = c.centred(np.asarray(keep_g, dtype=np.intp), pg)
    wif = dev / pg.sum() - dev.sum(axis=1, keepdims=True) * (pg / pg.sum() ** 2)[None, :]
    inf = W @ (pg / pg.sum()) + wif @ theta
    return Aggregation("group", float(theta @ pg / pg.sum()), inf, pd.DataFrame(rows), W)


def _dynamic(
    c: GTCells, finite: np.ndarray, min_e: float, max_e: float, balance_e: int | None
) -> Aggregation:
    e = c.t - c.g
    ok = finite & (e >= min_e) & (e <= max_e)
    if balance_e is not None:
        ok &= (c.last_period - c.g >= balance_e) & (e <= balance_e)
    rows, infs, es = [], [], []
    for ev in np.unique(e[ok]):
        keep = np.flatnonzero(ok & (e == ev))
        est, inf = _size_weighted(c, keep)
        se_ev = float("nan") if c.is_base[keep].all() else _se(c, inf)  # the reference: no SE
        rows.append({"rel_time": int(ev), "estimate": est, "std_error": se_ev})
        infs.append(inf)
        es.append(ev)
    _require_rows(rows, "dynamic")
    post = np.array(es) >= 0
    W = np.column_stack(infs)
    est = float(np.mean([r["estimate"] for r, p in zip(rows, post, strict=True) if p]))
    return Aggregation("dynamic", est, W[:, post].mean(axis=1), pd.DataFrame(rows), W)


def _calendar(c: GTCells, finite: np.ndarray) -> Aggregation:
    g, t = c.g, c.t
    rows, infs = [], []
    for period in np.unique(t[(g <= t) & finite]):
        keep = np.flatnonzero((t == period) & (g <= t) & finite)
        est, inf = _size_weighted(c, keep)
        rows.append({"time": c.grid.label(period), "estimate": est, "std_error": _se(c, inf)})
        infs.append(inf)
    _require_rows(rows, "calendar")
    W = np.column_stack(infs)
    est = float(np.mean([r["estimate"] for r in rows]))
    return Aggregation("calendar", est, W.mean(axis=1), pd.DataFrame(rows), W)


def aggregate_cells(
    c: GTCells,
    kind: str,
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
) -> Aggregation:
    """The ``kind`` aggregation of the cells (see :meth:`ATTgtResult.aggregate`).

    Raises
    ------
    EmptySampleError
        No finite cell (or none in the window).
    InvalidOptionError
        Unknown ``kind``.
    """
    if kind not in AGGREGATIONS:
        raise InvalidOptionError(
            f"type must be 'simple', 'group', 'calendar' or 'dynamic', got {kind!r}."
        )
    finite = np.isfinite(c.att)
    if not finite.any():
        raise EmptySampleError(
            "every ATT(g,t) cell is NaN (too few treated or control units); nothing to "
            "aggregate. Lower min_cell_units or check the sample log."
        )
    g, t = c.g, c.t
    if kind == "simple":
        keep = np.flatnonzero((g <= t) & (t <= g + max_e) & finite)
        est, inf = _size_weighted(c, keep)
        return Aggregation("simple", est, inf, pd.DataFrame({"estimate": [est]}), None)
    if kind == "group":
        return _group(c, finite, max_e)
    if kind == "dynamic":
        return _dynamic(c, finite, min_e, max_e, balance_e)
    return _calendar(c, finite)


def aggregation_inference(
    agg: Aggregation,
    c: GTCells,
    *,
    alpha: float,
    bootstrap: int | None,
    seed: int | None,
    weights: str,
) -> tuple[float, float, float, pd.DataFrame, float | None]:
    """Standard error, interval and per-row inference of an aggregation.

    Influence-function SEs, or the multiplier bootstrap (``bootstrap`` draws with the
    fit's ``weights`` distribution, streams spawned from ``seed``), which also gives the
    simultaneous band of the rows.

    Returns
    -------
    std_error, conf_low, conf_high : float
    table : DataFrame
        With ``std_error``, ``conf_low``, ``conf_high`` (and ``band_low``/``band_high``).
    critical_value : float or None
        The sup-t critical value of the band (bootstrap only).
    """
    se = _se(c, agg.influence)
    table, crit = agg.table, None
    if bootstrap:
        key = AGGREGATIONS.index(agg.kind)
        streams = np.random.SeedSequence(seed).spawn(9)
        run = {"draws": bootstrap, "cluster": c.cluster, "alpha": alpha, "weights": weights,
               "n": c.n}  # fmt: skip
        overall = multiplier_bootstrap(
            agg.influence[:, None], rng=np.random.default_rng(streams[1 + key]), **run
        )
        se = float(overall.std_error[0])
        if agg.table_influence is not None:
            per = multiplier_bootstrap(
                agg.table_influence, rng=np.random.default_rng(streams[5 + key]), **run
            )
            table = table.assign(std_error=per.std_error)
            crit = per.critical_value
    lo, hi = interval(agg.estimate, se, alpha)
    if agg.kind == "simple":
        table = table.assign(std_error=se)
    est_t, se_t = table["estimate"].to_numpy(), table["std_error"].to_numpy()
    tl, th = interval(est_t, se_t, alpha)
    table = table.assign(conf_low=tl, conf_high=th)
    if crit is not None:
        table = table.assign(band_low=est_t - crit * se_t, band_high=est_t + crit * se_t)
    return se, float(lo), float(hi), table, crit
