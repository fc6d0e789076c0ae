"""What an engine least-squares fit returns, and the sums-of-products helpers its passes
share (the Schur and the alternating-projection strategies)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import BoolArray, FloatArray
from impact.engine.base import Engine
from impact.errors import ConvergenceError, EmptySampleError
from impact.linear.collinear import find_collinear
from impact.linear.engine_sample import INTERNAL
from impact.linear.ols import least_norm_solve, solve_gram

__all__ = [
    "EngineFit",
    "gram_from",
    "literal",
    "pairs",
    "products",
    "scored_rows",
    "solve_within",
]


@dataclass(frozen=True)
class EngineFit:
    """A least-squares fit with fixed effects computed in an engine.

    Attributes
    ----------
    beta, bread : ndarray
        Kept regressors' coefficients and ``(X~'WX~)^{-1}``.
    keep : ndarray of bool
    reasons : list of str
        Why each dropped regressor was dropped.
    fe_levels : tuple of int
        Levels of each fixed-effect dimension.
    fe_rank : int
        Identified fixed-effect coefficients.
    ssr, tss, tss_within : float
        Weighted sums of squares: residuals, outcome about its mean, outcome with the
        fixed effects projected out.
    scored : engine source
        The rows with the score columns (``_impact_s0..``), for cluster sums.
    meat_hetero : ndarray
        ``S'S`` of the row scores.
    strategy : {"schur", "map"}
        How the fixed effects were projected out (exact two-pass fit, or alternating
        projections).
    """

    beta: FloatArray
    bread: FloatArray
    keep: BoolArray
    reasons: list[str]
    fe_levels: tuple[int, ...]
    fe_rank: int
    ssr: float
    tss: float
    tss_within: float
    scored: Any
    meat_hetero: FloatArray
    #: tables the fit kept in the engine (``scored`` reads them): release them once the
    #: caller has materialised what it needs from ``scored``
    tables: tuple[Any, ...] = ()
    strategy: str = "schur"


def gram_from(out: pd.DataFrame, names: Sequence[str], prefix: str) -> FloatArray:
    """The symmetric matrix of the sums :func:`products` named (one collected row)."""
    m = len(names)
    G = np.empty((m, m))
    for a, b in pairs(m):
        G[a, b] = G[b, a] = float(out[f"{prefix}{a}_{b}"].iloc[0])
    return G


def pairs(m: int) -> list[tuple[int, int]]:
    """``(a, b)`` with ``a <= b < m``: the entries of a symmetric matrix."""
    return list(itertools.combinations_with_replacement(range(m), 2))


def products(cols: Sequence[str], w: str, prefix: str) -> dict[str, str]:
    """Named expressions ``w * a * b`` of every pair of ``cols`` (see :func:`pairs`)."""
    return {f"{prefix}{a}_{b}": f"{w}{cols[a]} * {cols[b]}" for a, b in pairs(len(cols))}


def literal(v: float) -> str:
    """A number written into an internal expression (parenthesised; read back as a bound
    literal), from a Python or numpy scalar.

    Raises
    ------
    ConvergenceError
        ``v`` is not finite (``nan`` or ``inf`` would read as column names): the numerics
        broke down.
    """
    x = float(v)
    if not math.isfinite(x):
        raise ConvergenceError(
            f"the fit broke down: a non-finite intermediate value ({x}) arose in the engine's "
            "arithmetic; the data may be separated, degenerate or on an extreme scale."
        )
    return f"({x!r})"


def scored_rows(
    engine: Engine,
    rows: Any,
    projected: Sequence[str],
    e: str,
    w: str,
    score: str | None,
    statistics: bool,
) -> tuple[Any, float, FloatArray]:
    """The rows with the score columns ``_impact_s0..`` (each projected regressor times
    ``score``, default the weighted residual ``w * e``), and, when ``statistics``, the
    weighted sum of squared residuals and the scores' cross-products (one pass; else NaN
    and an empty matrix).

    ``projected`` are expressions of the regressors with the fixed effects projected out;
    ``w`` is the weight prefix (``"col * "`` or ``""``).
    """
    factor = f"({score})" if score is not None else f"{w}{e}"
    scores = {f"{INTERNAL}s{j}": f"({p}) * {factor}" for j, p in enumerate(projected)}
    scored = engine.with_columns(rows, scores)
    if not statistics:
        return scored, float("nan"), np.zeros((0, 0))
    sc = list(scores)
    stats = engine.group_sums(
        scored, [], {"ssr": f"{w}{e} * {e}"} | products(sc, "", "h"), count=None
    )
    return scored, float(stats["ssr"].iloc[0]), gram_from(stats, sc, "h")


def singular(what: str) -> ConvergenceError:
    """The error for a linear system that is numerically singular or not finite."""
    return ConvergenceError(
        f"the fit broke down: {what} is numerically singular or not finite; the data may be "
        "separated, degenerate or on an extreme scale."
    )


def solve_within(
    Gt: FloatArray, scale: FloatArray, *, detect_collinear: bool, least_norm: bool
) -> tuple[FloatArray, FloatArray, BoolArray, list[str]]:
    """Coefficients from the within Gram matrix ``Gt`` of ``[y, X]``: the bread, the kept
    regressors and why the others were dropped.

    ``least_norm`` solves by least squares of minimum norm without a collinearity test
    (the separation check's regressions, as in memory: fitted values only, no bread);
    else collinear regressors are dropped when ``detect_collinear``.

    Raises
    ------
    EmptySampleError
        Every regressor is collinear with the fixed effects.
    ConvergenceError
        The system is numerically singular or not finite.
    """
    k = Gt.shape[0] - 1
    try:
        if least_norm:
            beta = least_norm_solve(Gt[1:, 1:], Gt[1:, 0])
            return beta, np.zeros((k, k)), np.ones(k, dtype=bool), []
        if detect_collinear:
            keep, reasons = find_collinear(Gt[1:, 1:], scale)
        else:
            keep, reasons = np.ones(k, dtype=bool), []
        if not keep.any():
            raise EmptySampleError("every regressor is collinear with the fixed effects.")
        idx = np.r_[0, 1 + np.flatnonzero(keep)]
        beta, bread = solve_gram(Gt[np.ix_(idx, idx)])
    except (np.linalg.LinAlgError, ValueError) as exc:
        if isinstance(exc, EmptySampleError):
            raise
        raise singular("the within regression's Gram matrix") from None
    return beta, bread, keep, reasons
