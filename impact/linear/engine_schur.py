"""One large fixed effect plus small ones, inside a query engine (SCALE.md §2.3a).

The within Gram matrix of ``[y, X, D]`` (``D`` the small dimensions' dummies) is the
sum of products of the rows' deviations from their firm's means: one ``GROUP BY firm``
for the means, joined back, and one sum (SCALE.md's ``M - sum_i s_i s_i' / n_i`` is the
same matrix, but loses digits when firms' levels dwarf their changes). The
small dimensions are partialled out of it on the driver (their Schur complement), which
gives ``X~'X~`` and ``X~'y~`` exactly as the in-memory projection on all fixed effects,
on unbalanced panels, without iteration. A second pass builds the residuals and the
projected regressors row-wise (the small coefficient tables joined back, the firm means
from one more ``GROUP BY firm``) and sums the scores by cluster, so the driver receives
only tables the size of the small dimensions and k x k matrices.

Columns are centred at their global means first (SCALE.md §2.4): the fixed effects
absorb the constants, and the sums lose no precision to large levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.engine.base import Engine
from impact.engine.expressions import expression
from impact.errors import InvalidOptionError
from impact.linear.demean import DEMEAN_TOL
from impact.linear.engine_fit import (
    EngineFit,
    gram_from,
    literal,
    pairs,
    products,
    scored_rows,
    singular,
    solve_within,
)
from impact.linear.engine_map import MAP_MAXITER, engine_map_fit
from impact.linear.engine_rank import engine_fixef_rank
from impact.linear.engine_sample import INTERNAL, LONG_EXPRESSION, EngineSample
from impact.linear.schur import solve_psd

__all__ = [
    "MAX_SMALL_LEVELS",
    "EngineFit",
    "FixedEffectLayout",
    "engine_twfe",
    "fe_layout",
    "gram_from",
    "pairs",
    "products",
]

#: Prefix of the per-firm sums (apart from a user's key columns by the reserved prefix).
F = f"{INTERNAL}f_"
#: Dummies of the small dimensions the engine path builds (their products are summed
#: in one statement: about (k + L)^2 / 2 sums). Years, quarters or a few sectors fit.
MAX_SMALL_LEVELS = 120


@dataclass(frozen=True)
class FixedEffectLayout:
    """Which dimension is absorbed by its means and the small ones' levels.

    Attributes
    ----------
    levels : tuple of int
        Levels of each dimension.
    big : int
        The dimension with most levels (absorbed by group means).
    small : tuple of int
        The others (absorbed as dummies).
    tables : dict of int to DataFrame
        Each small dimension's levels (sorted).
    strategy : {"schur", "map"}
        ``"map"``: the dimensions beside the largest have too many levels for dummies,
        all are demeaned by alternating projections (then ``small`` and ``tables`` are
        empty).
    rank : int
        Identified fixed-effect coefficients (``"map"``; the Schur fit finds its own).
    """

    levels: tuple[int, ...]
    big: int
    small: tuple[int, ...]
    tables: dict[int, pd.DataFrame]
    strategy: str = "schur"
    rank: int = 0


def fe_layout(engine: Engine, src: Any, fixef: Sequence[tuple[str, ...]]) -> FixedEffectLayout:
    """Count each dimension's levels and collect the small ones (one pass per dimension,
    one per small dimension); the layout serves every fit on the same rows.

    Raises
    ------
    InvalidOptionError
        No fixed effect, or the exact rank of large fixed effects would collect too much
        (:func:`~impact.linear.engine_rank.engine_fixef_rank`).
    """
    if not fixef:
        raise InvalidOptionError(
            "the engine path absorbs fixed effects ('y ~ x | firm + year'); a model without "
            "them is not supported there yet: fit an in-memory pandas frame."
        )
    levels = tuple(engine.count(engine.group_relation(src, f, {}, count=None)) for f in fixef)
    big = int(np.argmax(levels))
    small = tuple(q for q in range(len(fixef)) if q != big)
    n_dummies = sum(levels[q] - 1 for q in small)
    if n_dummies > MAX_SMALL_LEVELS:
        rank = engine_fixef_rank(engine, src, fixef, levels)
        return FixedEffectLayout(levels, big, (), {}, "map", rank)
    tables = {q: engine.group_sums(src, fixef[q], {}, count=None) for q in small}
    return FixedEffectLayout(levels, big, small, tables)


def engine_twfe(
    engine: Engine,
    sample: EngineSample,
    *,
    layout: FixedEffectLayout | None = None,
    detect_collinear: bool = True,
    score: str | None = None,
    statistics: bool = True,
    fixef_tol: float = DEMEAN_TOL,
    fixef_maxiter: int = MAP_MAXITER,
    least_norm: bool = False,
) -> EngineFit:
    """Least squares of ``sample``'s outcome on its regressors and fixed effects.

    Passes: one per dimension to count levels and one per small dimension for its levels
    (unless ``layout`` is given), one for the means, one for the Gram matrix (firm means
    joined back), one for the residual statistics.

    Parameters
    ----------
    layout : FixedEffectLayout, optional
        :func:`fe_layout` of the sample's rows (repeated fits on the same rows, as IRLS,
        count the levels once).
    detect_collinear : bool
        Drop regressors collinear with the fixed effects and earlier regressors; False
        keeps every regressor (IRLS after its first step).
    score : str, optional
        Expression of the factor that multiplies each projected regressor in the scores
        (residual columns of the sample may be named); default the weighted residual
        ``w * e``.
    statistics : bool
        Sum the residuals' squares and the scores' cross-products (one pass); without
        them ``ssr`` is NaN and ``meat_hetero`` empty (steps that need only ``scored``).
    least_norm : bool
        Least squares of minimum norm, no collinearity test and no bread (the separation
        check's regressions, as in memory).
    fixef_tol, fixef_maxiter : float, int
        Convergence of the alternating projections (a ``"map"`` layout: fixed effects
        too large for dummies; :func:`~impact.linear.engine_map.engine_map_fit`).

    Raises
    ------
    InvalidOptionError
        No fixed effect.
    EmptySampleError
        Every regressor is collinear with the fixed effects.
    """
    src, fixef = sample.source, sample.fixef
    layout = fe_layout(engine, src, fixef) if layout is None else layout
    if layout.strategy == "map":
        return engine_map_fit(
            engine, sample, layout.levels, layout.rank, tol=fixef_tol, maxiter=fixef_maxiter,
            detect_collinear=detect_collinear, score=score, statistics=statistics,
            least_norm=least_norm,
        )  # fmt: skip
    levels, big, small, tables = layout.levels, layout.big, list(layout.small), layout.tables
    w = f"{sample.weights} * " if sample.weights else ""
    sw = sample.weights if sample.weights else "1"
    zs = [sample.y, *sample.x]
    means = engine.group_sums(
        src, [], {f"m{a}": f"{w}{z}" for a, z in enumerate(zs)} | {"sw": sw}, count=None
    )
    total_w = float(means["sw"].iloc[0])
    mu = np.array([float(means[f"m{a}"].iloc[0]) for a in range(len(zs))]) / total_w
    cs = [f"{INTERNAL}c{a}" for a in range(len(zs))]
    centred = engine.with_columns(
        src, {c: f"{z} - {literal(m)}" for c, z, m in zip(cs, zs, mu, strict=True)}
    )
    # pass 1: the small dimensions' dummies joined on, then per-firm sums and products
    dummies: list[str] = []
    one_hot = centred
    for q in small:
        t = tables[q].copy()
        names = [f"{INTERNAL}d{q}_{j}" for j in range(1, len(t))]
        for j, name in enumerate(names, start=1):
            t[name] = (np.arange(len(t)) == j).astype(float)
        one_hot = engine.join_small(one_hot, t, fixef[q])
        dummies += names
    G, M = _within_gram(engine, one_hot, fixef[big], cs, dummies, w, sw)
    p = len(zs)
    if dummies:
        try:
            sol, rank_small = solve_psd(G[p:, p:], G[p:, :p])
        except (np.linalg.LinAlgError, ValueError):
            raise singular("the small fixed effects' block") from None
    else:
        sol, rank_small = np.zeros((0, p)), 0
    Gt = G[:p, :p] - G[p:, :p].T @ sol
    raw = np.diag(M)[1:p] + total_w * mu[1:] ** 2
    scale = np.where(np.diag(M)[1:p] > 0, np.diag(M)[1:p], raw)
    beta, bread, keep, reasons = solve_within(
        Gt, scale, detect_collinear=detect_collinear, least_norm=least_norm
    )
    gamma = sol[:, 0] - sol[:, 1:][:, keep] @ beta
    Gamma = sol[:, 1:][:, keep]
    # pass 2: residuals and projected regressors, firm means joined back, scores
    kept = [c for c, k in zip(cs[1:], keep, strict=True) if k]
    resid_src, offset = centred, 0
    g_cols: list[str] = []
    h_cols: list[list[str]] = [[] for _ in kept]
    for q in small:
        t = tables[q].copy()
        n_q = len(t) - 1
        t[f"{INTERNAL}gam{q}"] = np.r_[0.0, gamma[offset : offset + n_q]]
        g_cols.append(f"{INTERNAL}gam{q}")
        for j in range(len(kept)):
            t[f"{INTERNAL}Gam{q}_{j}"] = np.r_[0.0, Gamma[offset : offset + n_q, j]]
            h_cols[j].append(f"{INTERNAL}Gam{q}_{j}")
        resid_src = engine.join_small(resid_src, t, fixef[q])
        offset += n_q
    r = " - ".join(
        [cs[0], *(f"{literal(b)} * {c}" for b, c in zip(beta, kept, strict=True)), *g_cols]
    )
    proj = {f"{INTERNAL}p{j}": " - ".join([c, *h_cols[j]]) for j, c in enumerate(kept)}
    resid_src = engine.with_columns(
        resid_src,
        {
            k: expression(v, max_length=LONG_EXPRESSION)
            for k, v in ({f"{INTERNAL}r": r} | proj).items()
        },
    )
    firm_means = engine.group_relation(
        resid_src,
        fixef[big],
        {f"{INTERNAL}sr": f"{w}{INTERNAL}r", f"{INTERNAL}sw": sw}
        | {f"{INTERNAL}sp{j}": f"{w}{INTERNAL}p{j}" for j in range(len(kept))},
        count=None,
    )
    joined = engine.join_groups(resid_src, firm_means, fixef[big])
    e = f"{INTERNAL}e"
    with_e = engine.with_columns(joined, {e: f"{INTERNAL}r - {INTERNAL}sr / {INTERNAL}sw"})
    projected = [f"{INTERNAL}p{j} - {INTERNAL}sp{j} / {INTERNAL}sw" for j in range(len(kept))]
    scored, ssr, meat = scored_rows(engine, with_e, projected, e, w, score, statistics)
    return EngineFit(
        beta=beta,
        bread=bread,
        keep=keep,
        reasons=reasons,
        fe_levels=levels,
        fe_rank=levels[big] + rank_small,
        ssr=ssr,
        tss=float(M[0, 0]),
        tss_within=float(Gt[0, 0]),
        scored=scored,
        meat_hetero=meat,
    )


def _within_gram(
    engine: Engine,
    rows: Any,
    firm: Sequence[str],
    cs: list[str],
    dummies: list[str],
    w: str,
    sw: str,
) -> tuple[FloatArray, FloatArray]:
    """The Gram matrix of ``[cs, dummies]`` within firms, and the diagonal of the raw one.

    The variables' firm means are joined back and their deviations multiplied (as the
    in-memory demeaning: ``M - sum_i s_i s_i'/n_i`` loses digits when firms' levels dwarf
    their changes); a deviation times a dummy is already a within product. The dummies'
    own block is counts, ``sum d d' - sum_i c_i c_i'/n_i``, from a per-firm table that is
    summed but never joined (the joined table stays ``k + 2`` columns wide).
    """
    p, cols = len(cs), [*cs, *dummies]
    means = {f"{F}s{a}": f"{w}{c}" for a, c in enumerate(cs)} | {f"{F}w": sw}
    firms = engine.group_relation(rows, firm, means, count=None)
    dev = [f"({c} - {F}s{a} / {F}w)" for a, c in enumerate(cs)]
    sums = products(dev, w, "g") | {f"m{a}": f"{w}{c} * {c}" for a, c in enumerate(cols)}
    sums |= {f"x{a}_{j}": f"{w}{dev[a]} * {d}" for a in range(p) for j, d in enumerate(dummies)}
    sums |= {f"d{j}_{k}": f"{w}{dummies[j]} * {dummies[k]}" for j, k in pairs(len(dummies))}
    moments = engine.group_sums(
        engine.join_groups(rows, firms, firm),
        [],
        {k: expression(v, max_length=LONG_EXPRESSION) for k, v in sums.items()},
        count=None,
    )
    G = np.zeros((len(cols), len(cols)))
    G[:p, :p] = gram_from(moments, cs, "g")
    if dummies:
        counts = {f"{F}t{j}": f"{w}{d}" for j, d in enumerate(dummies)} | {f"{F}w": sw}
        per_firm = engine.group_relation(rows, firm, counts, count=None)
        outer = {f"k{j}_{k}": f"{F}t{j} * {F}t{k} / {F}w" for j, k in pairs(len(dummies))}
        K = gram_from(engine.group_sums(per_firm, [], outer, count=None), dummies, "k")
        G[p:, p:] = gram_from(moments, dummies, "d") - K
        X = np.array(
            [[float(moments[f"x{a}_{j}"].iloc[0]) for j in range(len(dummies))] for a in range(p)]
        )
        G[:p, p:], G[p:, :p] = X, X.T
    M = np.diag([float(moments[f"m{a}"].iloc[0]) for a in range(len(cols))])
    return G, M
