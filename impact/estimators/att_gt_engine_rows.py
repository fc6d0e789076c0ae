"""The rows that stand for the units in every variance of an engine ``att_gt`` fit
(:class:`~impact.results.aggregation.EngineRows`): a square root of the cross-products of
``Z_i = [psi_i, pg_i, 1]`` (influence functions, cohort indicators, one), or the
clusters' sums of ``Z``."""

from __future__ import annotations

import numpy as np

from impact.design.engine_panel import EnginePanel, P
from impact.engine.base import Engine
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.att_gt_engine_cov import CovariateCells
from impact.estimators.att_gt_engine_terms import WEIGHT, long_expressions, product
from impact.estimators.engine_types import cluster_codes
from impact.inference.clusters import check_cluster_count
from impact.linear.engine_fit import literal as _lit
from impact.results.aggregation import EngineRows

__all__ = ["GRAM_CHUNK", "MAX_CLUSTER_SUMS", "covariate_rows", "gram_rows"]


def gram_rows(Q: np.ndarray, null: np.ndarray, K: int, pg_mean: np.ndarray, n: int) -> EngineRows:
    """Unit-level rows ``R`` with ``R'R = Q``, the cross-products of ``Z_i = [psi_i, pg_i,
    1]`` (``K`` cells); the ``null`` columns (zero up to rounding) are set to zero and the
    rest scaled to a unit diagonal first, so that no column drowns the others.

    Raises
    ------
    ImpactError
        ``Q`` lost its positive semi-definiteness to rounding.
    """
    Q = Q.copy()
    Q[null, :] = Q[:, null] = 0.0
    diag = np.clip(np.diag(Q), 0.0, None)
    d = np.where(~null & (diag > 0), np.sqrt(diag), 1.0)
    vals, vecs = np.linalg.eigh((Q + Q.T) / 2 / np.outer(d, d))
    if vals.min(initial=0.0) < -1e-6 * max(vals.max(initial=0.0), 1.0):
        raise ImpactError(
            "the influence functions' cross-products lost their positive semi-definiteness "
            "to rounding (outcomes many orders of magnitude apart?); rescale the outcome or "
            "fit an in-memory pandas frame."
        )
    R = np.sqrt(np.clip(vals, 0.0, None))[:, None] * vecs.T * d[None, :]
    C = len(Q) - K - 1
    return EngineRows(R[:, :K], R[:, K : K + C], R[:, -1], pg_mean, n, None)


#: Cluster sums (clusters x influence columns) the clustered variance may collect: the
#: driver receives them, so their number is bounded (400 MB of doubles).
MAX_CLUSTER_SUMS = 50_000_000
#: Sums of products per engine statement when the cross-products are summed in chunks.
GRAM_CHUNK = 2000


def covariate_rows(
    engine: Engine, panel: EnginePanel, cells: list, cc: CovariateCells, cluster: str | None
) -> tuple[EngineRows, np.ndarray | None, np.ndarray | None]:
    """Rows standing for the units' ``Z_i = [psi_i, pg_i, 1]`` (see
    :func:`impact.estimators.att_gt_engine.influence_rows`): the engine writes every
    unit's influence functions and cohort indicators, then sums their cross-products (or
    their cluster sums)."""
    K, C = len(cells), len(panel.cohorts)
    mw = cc.wall / panel.n_units
    periods = panel.periods
    slot = {int(p): j for j, p in enumerate(panel.slots)}
    z = {f"{P}z{c}": e for c, e in cc.psi.items()}
    for j, cohort in enumerate(panel.cohorts):
        base = slot[int(periods[periods + panel.anticipation < cohort][-1])]
        z[f"{P}pg{j}"] = product(WEIGHT, f"{P}tc{j}", f"{P}o{base}", _lit(1 / mw))
    keep = [*z, *([cluster] if cluster else [])]
    table = engine.materialize(
        engine.select(engine.with_columns(cc.table, long_expressions(z)), keep)
    )
    engine.release(cc.table)
    names = [f"{P}z{c}" if c in cc.psi else "0" for c in range(K)]
    names += [f"{P}pg{j}" for j in range(C)]
    try:
        if cluster is not None:
            G = engine.count(engine.group_relation(table, [cluster], {}, count=None))
            if G * len(names) > MAX_CLUSTER_SUMS:
                raise InvalidOptionError(
                    f"clustering by {cluster!r} gives {G:,} clusters, each with {len(names)} "
                    f"influence sums; the engine path collects at most {MAX_CLUSTER_SUMS:,} "
                    "sums. Cluster at a coarser level (or, clustered by unit, drop the "
                    "bootstrap: unit-level variances need no per-cluster sums)."
                )
            by = engine.group_sums(
                table, [cluster], {f"s{a}": v for a, v in enumerate(names) if v != "0"}, count="u"
            )
            codes, labels = cluster_codes(by[cluster], cluster)
            check_cluster_count(len(labels), cluster, "att_gt")
            S = np.zeros((len(labels), K + C))
            for a, v in enumerate(names):
                if v != "0":
                    S[codes, a] = by[f"s{a}"].to_numpy(dtype=float)
            units = np.zeros(len(labels))
            units[codes] = by["u"].to_numpy(dtype=float)
            pg_mean = S[:, K:].sum(axis=0) / panel.n_units
            rows = EngineRows(S[:, :K], S[:, K:], units, pg_mean, panel.n_units, len(labels))
            return rows, np.arange(len(labels)), labels
        names.append("1")
        m = len(names)
        # every pair but (1, 1), which is the number of units
        todo = [
            (a, b) for a in range(m - 1) for b in range(a, m) if "0" not in (names[a], names[b])
        ]
        Q = np.zeros((m, m))
        Q[-1, -1] = panel.n_units
        for start in range(0, len(todo), GRAM_CHUNK):
            part = todo[start : start + GRAM_CHUNK]
            sums = {f"q{a}_{b}": product(names[a], names[b]) for a, b in part}
            row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
            for a, b in part:
                Q[a, b] = Q[b, a] = float(row[f"q{a}_{b}"])
    finally:
        engine.release(table)
    pg_mean = Q[K : K + C, -1] / panel.n_units
    return gram_rows(Q, np.zeros(m, dtype=bool), K, pg_mean, panel.n_units), None, None
