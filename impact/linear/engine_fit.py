"""What an engine least-squares fit returns, and the sums-of-products helpers its passes
share (the Schur and the alternating-projection strategies)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import BoolArray, FloatArray
from impact.engine.base import Engine
from impact.linear.engine_sample import INTERNAL

__all__ = ["EngineFit", "gram_from", "literal", "pairs", "products", "scored_rows"]


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
    literal), from a Python or numpy scalar."""
    return f"({float(v)!r})"


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
