"""Large fixed effects inside a query engine: alternating projections as engine passes.

When the dimensions beside the largest have too many levels to be absorbed as dummies
(firm + worker, firm + region x year with thousands of cells), the outcome and
regressors are demeaned by the method of alternating projections, as in memory
(:mod:`impact.linear.demean`): each projection is one statement that computes the group
means of the current columns, joins them back and subtracts them, kept by the engine
(:meth:`~impact.engine.base.Engine.materialize`); pairs of sweeps are accelerated by
Irons and Tuck's step, whose inner products are one sum. The driver receives only sums.

Any number of dimensions is swept in turn; the rank of their dummies (the degrees of
freedom) comes from :mod:`impact.linear.engine_rank`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from impact.engine.base import Engine
from impact.errors import ConvergenceError
from impact.linear.demean import DEMEAN_TOL
from impact.linear.engine_fit import (
    EngineFit,
    gram_from,
    literal,
    products,
    scored_rows,
    solve_within,
)
from impact.linear.engine_sample import INTERNAL, EngineSample

__all__ = ["MAP_MAXITER", "engine_map_fit"]

#: Largest number of sweeps (as the in-memory demeaning's default).
MAP_MAXITER = 100_000
_A, _B, _C, _G, _GW = (f"{INTERNAL}m{s}" for s in ("a", "b", "c", "g", "w"))
_DIFF, _OVER = f"{INTERNAL}md", f"{INTERNAL}mo"


def _sweep(
    engine: Engine,
    rows: Any,
    fixef: Sequence[tuple[str, ...]],
    source: list[str],
    target: list[str],
    w: str,
    sw: str,
) -> Any:
    """``target`` = ``source`` with each dimension's weighted group means subtracted in
    turn (one statement per dimension, each kept by the engine)."""
    cols = engine.columns(rows)
    keep = cols + [t for t in target if t not in cols]
    current = source
    for keys in fixef:
        groups = engine.group_relation(
            rows, keys, {f"{_G}{j}": f"{w}{c}" for j, c in enumerate(current)} | {_GW: sw},
            count=None,
        )  # fmt: skip
        joined = engine.join_groups(rows, groups, keys)
        pairs = enumerate(zip(current, target, strict=True))
        new = {t: f"{c} - {_G}{j} / {_GW}" for j, (c, t) in pairs}
        made = engine.materialize(engine.select(engine.with_columns(joined, new), keep))
        if current is target:  # a table of this sweep, not the caller's
            engine.release(rows)
        rows, current = made, target
    return rows


def engine_map_fit(
    engine: Engine,
    sample: EngineSample,
    fe_levels: tuple[int, ...],
    fe_rank: int,
    *,
    tol: float = DEMEAN_TOL,
    maxiter: int = MAP_MAXITER,
    detect_collinear: bool = True,
    score: str | None = None,
    statistics: bool = True,
    least_norm: bool = False,
) -> EngineFit:
    """Least squares of ``sample``'s outcome on its regressors with its fixed effects
    projected out by alternating projections (see the module notes).

    Convergence: no element changes by more than ``tol`` times its column's (unweighted)
    root mean square over two sweeps (at least as strict as the in-memory rule, which
    scales by the largest absolute value).

    Raises
    ------
    ConvergenceError
        Not converged after ``maxiter`` sweeps.
    EmptySampleError
        Every regressor is collinear with the fixed effects.
    """
    src, fixef = sample.source, sample.fixef
    w = f"{sample.weights} * " if sample.weights else ""
    sw = sample.weights if sample.weights else "1"
    zs = [sample.y, *sample.x]
    p = len(zs)
    a, b, c = ([f"{s}{j}" for j in range(p)] for s in (_A, _B, _C))
    means = engine.group_sums(
        src, [], {f"m{j}": f"{w}{z}" for j, z in enumerate(zs)} | {"sw": sw}, count=None
    )
    total_w = float(means["sw"].iloc[0])
    mu = [float(means[f"m{j}"].iloc[0]) / total_w for j in range(p)]
    rows = engine.materialize(
        engine.with_columns(src, {a[j]: f"{zs[j]} - {literal(mu[j])}" for j in range(p)})
    )
    squares = {f"s{j}": f"{w}{a[j]} * {a[j]}" for j in range(p)}
    squares |= {f"u{j}": f"{a[j]} * {a[j]}" for j in range(p)}
    ss = engine.group_sums(rows, [], squares, count="n")
    tss = np.array([float(ss[f"s{j}"].iloc[0]) for j in range(p)])
    # the convergence scale is unweighted, as in memory: weights as uneven as the ReLU
    # check's (1 against 1e15) would make a weighted one vanish
    scale = np.sqrt(np.array([float(ss[f"u{j}"].iloc[0]) for j in range(p)]) / int(ss["n"].iloc[0]))
    base = engine.columns(rows)
    sweeps = 0
    while True:
        once = _sweep(engine, rows, fixef, a, b, w, sw)
        engine.release(rows)
        rows = _sweep(engine, once, fixef, b, c, w, sw)
        engine.release(once)
        sweeps += 2
        checks = rows
        over: dict[str, str] = {}
        for j in range(p):
            if scale[j] == 0:
                continue
            d = f"{_DIFF}{j}"
            checks = engine.with_columns(
                checks, {d: f"abs({c[j]} - {b[j]}) - {literal(tol * scale[j])}"}
            )
            checks = engine.flag(checks, d, ">", 0.0, f"{_OVER}{j}")
            over[f"o{j}"] = f"{_OVER}{j}"
        d1 = [f"({c[j]} - {b[j]})" for j in range(p)]
        d2 = [f"({c[j]} - 2 * {b[j]} + {a[j]})" for j in range(p)]
        sums = over | {f"n{j}": f"{d1[j]} * {d2[j]}" for j in range(p)}
        sums |= {f"d{j}": f"{d2[j]} * {d2[j]}" for j in range(p)}
        out = engine.group_sums(checks, [], sums, count=None)
        if all(float(out[k].iloc[0]) == 0 for k in over):
            break
        if sweeps >= maxiter:
            raise ConvergenceError(
                f"fixed-effect demeaning in the engine did not converge in {maxiter} sweeps "
                f"(tolerance {tol:.1e}). The fixed effects may be nearly collinear or poorly "
                "connected; raise fixef_maxiter, or simplify the fixed-effect structure."
            )
        step = {}
        for j in range(p):
            den = float(out[f"d{j}"].iloc[0])
            coef = float(out[f"n{j}"].iloc[0]) / den if den > 0 else 0.0
            step[a[j]] = f"{c[j]} - {literal(coef)} * {d1[j]}"
        stepped = engine.materialize(engine.select(engine.with_columns(rows, step), base))
        engine.release(rows)
        rows = stepped
    G = gram_from(engine.group_sums(rows, [], products(c, w, "g"), count=None), c, "g")
    beta, bread, keep, reasons = solve_within(
        G, tss[1:], detect_collinear=detect_collinear, least_norm=least_norm
    )
    idx = np.r_[0, 1 + np.flatnonzero(keep)]
    kept = [c[i] for i in idx[1:]]
    e = f"{INTERNAL}e"
    resid = " - ".join(
        [c[0], *(f"{literal(bj)} * {cj}" for bj, cj in zip(beta, kept, strict=True))]
    )
    with_e = engine.with_columns(rows, {e: resid})
    scored, ssr, meat = scored_rows(engine, with_e, kept, e, w, score, statistics)
    return EngineFit(
        beta=beta, bread=bread, keep=keep, reasons=reasons, fe_levels=fe_levels,
        fe_rank=fe_rank, ssr=ssr, tss=float(tss[0]), tss_within=float(G[0, 0]),
        scored=scored, meat_hetero=meat, tables=(rows,), strategy="map",
    )  # fmt: skip
