"""Sums over unit types in a query engine: the moments every engine estimator's
estimate and variance are built from (SCALE.md §2.2).

In a staggered panel held as one row per unit (:class:`~impact.design.engine_panel.EnginePanel`)
the estimators this package runs in an engine — ATT(g,t), the saturated and binned event
studies, imputation — have, for every unit ``i``, a score (influence function, or the
cluster score of a regression) of the form ``Z_i = w_i (P_k y_i + q_k)``: ``y_i`` the
unit's outcomes by period, and ``P_k``, ``q_k`` fixed by the unit's *type* ``k`` (cohort,
control-pool flag, periods observed). Their estimates are linear in the types' sums of
``y_i``. So one engine pass of per-type (or per cluster and type) sums gives every number.

The outcomes are summed less each unit's own mean and less the mean of those over its
type in each period: the maps ``P_k`` ignore a unit's level (``P_k 1 = 0`` on the periods
it is observed in), and the type means are added back exactly, on the driver; what is
summed then holds neither the units' levels nor what their type shares (the trend, large
treatment effects), so the second moments keep their digits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.engine_panel import EnginePanel, P
from impact.engine.base import Engine
from impact.engine.expressions import expression
from impact.errors import ColumnTypeError, InvalidOptionError
from impact.linear.engine_sample import LONG_EXPRESSION

__all__ = [
    "MAX_CLUSTER_TYPES",
    "NULL_MEAN",
    "NULL_SPREAD",
    "ScoreSums",
    "TypeMoments",
    "cluster_codes",
    "score_sums",
    "type_moments",
]

#: Most (cluster, unit type) rows a clustered fit collects.
MAX_CLUSTER_TYPES = 5_000_000
#: A score's sum of squares below this share of its within-type sums of squares is
#: rounding (their cross terms cancel to it).
NULL_SPREAD = 1e-12
#: The squared relative rounding (1e-14: a hundred times one sum's 1e-16) of a type's
#: mean score, whose terms (outcome means and fitted cell effects) cancel: a zero score
#: reads zero, while effects or trends 1e10 times the noise, with weights from 1e-6 to
#: 1e6, keep their variance (1e-20 zeroed real ones at 1e8 x the noise).
NULL_MEAN = 1e-28


@dataclass(frozen=True)
class TypeMoments:
    """Per row (a unit type, or a cluster and type when clustered): the type, its units
    and the sums of their centred outcomes.

    Attributes
    ----------
    g, pool, pat : ndarray
        Cohort (grid position, ``NEVER`` for never-treated), control-pool flag, and the
        observed period slots as a bit mask.
    count : ndarray
        Units of the row.
    seen : ndarray of bool (rows, T)
        Period slots observed by the row's units.
    f0, f1 : ndarray
        Sums of ``w`` and of ``w y_c`` (``y_c`` the centred outcomes, 0 when unobserved).
    m0, m1, m2 : ndarray or None
        Sums of ``w^2``, ``w^2 y_c`` and ``w^2 y_c y_c'`` (unit-level rows only).
    shift : ndarray (rows, T)
        What was taken out of ``y_c`` besides the units' own means: the mean of those
        over the row's type in each period.
    cluster, labels : ndarray or None
        Cluster code of each row and the cluster labels (clustered rows only).
    """

    g: FloatArray
    pool: np.ndarray
    pat: np.ndarray
    count: FloatArray
    seen: np.ndarray
    f0: FloatArray
    f1: FloatArray
    m0: FloatArray | None
    m1: FloatArray | None
    m2: FloatArray | None
    shift: FloatArray
    cluster: np.ndarray | None
    labels: np.ndarray | None

    def ysum(self) -> FloatArray:
        """Per row, the sums of ``w y`` less the units' own means (rows, T)."""
        return self.f1 + self.f0[:, None] * self.seen * self.shift


KEYS = [f"{P}g", f"{P}pool", f"{P}pat"]


def _centred(engine: Engine, units: Any, T: int) -> tuple[Any, list[str], pd.DataFrame]:
    """The units with each observed outcome less the unit's own mean and less the mean of
    those over its type's units in that period (the table of these shifts, by type, is
    returned): what is summed then holds neither the units' levels nor anything common
    to a type, such as the trend or large treatment effects."""
    y, o = [f"{P}y{a}" for a in range(T)], [f"{P}o{a}" for a in range(T)]
    w = f"{P}w"
    mean = f"({' + '.join(y)}) / ({' + '.join(o)})"
    made = {f"{P}u{a}": f"{y[a]} - {o[a]} * {mean}" for a in range(T)}
    exprs = {k: expression(v, max_length=LONG_EXPRESSION) for k, v in made.items()}
    units = engine.with_columns(units, exprs)
    sums = {f"{P}s{a}": f"{w} * {P}u{a}" for a in range(T)}
    sums |= {f"{P}n{a}": f"{w} * {o[a]}" for a in range(T)}
    types = engine.group_sums(units, KEYS, sums, count=None)
    shift = types[KEYS].copy()
    for a in range(T):
        n = types[f"{P}n{a}"].to_numpy(dtype=float)
        total = types[f"{P}s{a}"].to_numpy(dtype=float)
        shift[f"{P}h{a}"] = np.where(n > 0, total / np.where(n > 0, n, 1.0), 0.0)
    units = engine.join_small(units, shift, KEYS)
    twice = {f"{P}c{a}": f"{P}u{a} - {o[a]} * {P}h{a}" for a in range(T)}
    return engine.with_columns(units, twice), list(twice), shift


def _moment_names(y: list[str]) -> dict[str, str]:
    w = f"{P}w"
    sums = {f"{P}m0": f"{w} * {w}", f"{P}f0": w}
    sums |= {f"{P}m1_{a}": f"{w} * {w} * {c}" for a, c in enumerate(y)}
    sums |= {f"{P}f1_{a}": f"{w} * {c}" for a, c in enumerate(y)}
    sums |= {
        f"{P}m2_{a}_{b}": f"{w} * {w} * {y[a]} * {y[b]}"
        for a, b in itertools.combinations_with_replacement(range(len(y)), 2)
    }
    return sums


def cluster_codes(values: pd.Series, cluster: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the collected cluster ids and their sorted labels.

    Raises
    ------
    ColumnTypeError
        The ids are structs or lists.
    """
    try:
        codes, labels = pd.factorize(values, sort=True)
    except TypeError:
        raise ColumnTypeError(
            f"cluster column {cluster!r} holds values that are not ids (structs or "
            "lists); cast it to text or integers."
        ) from None
    return codes, np.asarray(labels)


def type_moments(
    engine: Engine, panel: EnginePanel, cluster: str | None, *, second: bool = True
) -> TypeMoments:
    """One pass of sums over the unit types (``cluster`` None) or over (cluster, type);
    ``second=False`` skips the second moments (estimates only). The output columns carry
    the reserved prefix, so no column of the user's (a cluster key) can collide."""
    T = len(panel.slots)
    units, yc, shift = _centred(engine, panel.units, T)
    names = _moment_names(yc)
    if cluster is None:
        if not second:
            names = {k: v for k, v in names.items() if k.startswith(f"{P}f")}
        sums = {k: expression(v, max_length=LONG_EXPRESSION) for k, v in names.items()}
        rows = engine.group_sums(units, KEYS, sums, count=f"{P}units")
    else:
        first = {k: v for k, v in names.items() if k.startswith(f"{P}f")}
        rows = engine.group_sums(units, [cluster, *KEYS], first, count=f"{P}units")
        if len(rows) > MAX_CLUSTER_TYPES:
            raise InvalidOptionError(
                f"clustering by {cluster!r} gives {len(rows):,} (cluster, unit type) groups; "
                "the engine path collects at most 5,000,000. Cluster at a coarser level."
            )
    pat = rows[f"{P}pat"].to_numpy().astype(np.int64)
    m0 = m1 = m2 = None
    if cluster is None and second:
        m0 = rows[f"{P}m0"].to_numpy(dtype=float)
        m1 = rows[[f"{P}m1_{a}" for a in range(T)]].to_numpy(dtype=float)
        m2 = np.zeros((len(rows), T, T))
        for a, b in itertools.combinations_with_replacement(range(T), 2):
            m2[:, a, b] = m2[:, b, a] = rows[f"{P}m2_{a}_{b}"].to_numpy(dtype=float)
    codes = labels = None
    if cluster is not None:
        codes, labels = cluster_codes(rows[cluster], cluster)
    per_row = rows[KEYS].merge(shift, on=KEYS, how="left")
    return TypeMoments(
        g=rows[f"{P}g"].to_numpy(dtype=float),
        pool=rows[f"{P}pool"].to_numpy(dtype=float) != 0,
        pat=pat,
        count=rows[f"{P}units"].to_numpy(dtype=float),
        seen=np.column_stack([(pat >> j) & 1 for j in range(T)]).astype(bool),
        f0=rows[f"{P}f0"].to_numpy(dtype=float),
        f1=rows[[f"{P}f1_{a}" for a in range(T)]].to_numpy(dtype=float),
        m0=m0,
        m1=m1,
        m2=m2,
        shift=per_row[[f"{P}h{a}" for a in range(T)]].to_numpy(dtype=float),
        cluster=codes,
        labels=labels,
    )


@dataclass(frozen=True)
class ScoreSums:
    """Sums of the units' scores ``Z_i = w_i (P_k y_i + q_k)``.

    Attributes
    ----------
    zsum : ndarray (rows, K)
        Per row of the moments, the sum of its units' scores.
    gram : ndarray (K, K) or None
        ``sum_i Z_i Z_i'`` (unit-level moments only).
    rounding : ndarray (K,) or None
        The scale below which a diagonal entry of ``gram`` is rounding: a share
        (:data:`NULL_SPREAD`) of its within-type sums of squares plus the squared rounding
        (:data:`NULL_MEAN`) of the type mean scores, whose terms cancel.
    """

    zsum: FloatArray
    gram: FloatArray | None
    rounding: FloatArray | None

    def by_cluster(self, tm: TypeMoments) -> FloatArray:
        """The clusters' sums of the scores (G, K) (clustered moments only)."""
        assert tm.cluster is not None and tm.labels is not None
        S = np.zeros((len(tm.labels), self.zsum.shape[1]))
        np.add.at(S, tm.cluster, self.zsum)
        return S


def score_sums(tm: TypeMoments, Pm: FloatArray, q: FloatArray) -> ScoreSums:
    """Sums of the scores with maps ``Pm`` (rows, K, T) and ``q`` (rows, K) of the
    uncentred outcomes; every ``Pm[r]`` must vanish on a constant over the row's
    observed periods."""
    shifted = np.einsum("rkj,rj->rk", Pm, tm.seen * tm.shift)
    size = np.abs(q) + np.abs(shifted)  # what cancels in a type's mean score
    q = q + shifted
    zsum = np.einsum("rkj,rj->rk", Pm, tm.f1) + tm.f0[:, None] * q
    if tm.m2 is None:
        return ScoreSums(zsum, None, None)
    PM = np.einsum("rkj,rjl->rkl", Pm, tm.m2)
    Pm1 = np.einsum("rkj,rj->rk", Pm, tm.m1)
    gram = (
        np.einsum("rkl,rml->km", PM, Pm)
        + np.einsum("rk,rm->km", Pm1, q)
        + np.einsum("rk,rm->km", q, Pm1)
        + np.einsum("r,rk,rm->km", tm.m0, q, q)
    )
    spread = np.einsum("rkl,rkl->k", PM, Pm)  # the within-type part (sums of squares)
    rounding = NULL_SPREAD * spread + NULL_MEAN * np.einsum("r,rk->k", tm.m0, size * size)
    return ScoreSums(zsum, gram, rounding)
