"""The rank of several fixed-effect dimensions' dummies, from small tables an engine collects.

The degrees of freedom of a fit with fixed effects count the identified fixed-effect
coefficients: the rank of ``[D_1 ... D_K]``. In memory the exact strategy (one large
dimension, the others with at most
:data:`~impact.linear.demean.SCHUR_MAX_SMALL_LEVELS` levels together) finds it while it
solves; two dimensions of any size give it as levels less the connected components of
their bipartite graph; beyond that the count follows fixest's convention (every further
dimension loses one level). The engine path reproduces each case without the rows.

Exact count. Let ``B`` be the largest dimension and a *tuple* the levels of all the
others on one row. A vector ``(a_B, a_s)`` is in the dummies' null space when
``a_B[b] = -s(t)`` on every row, ``s(t)`` the sum of the small coefficients of the row's
tuple ``t``: so ``s`` must be equal on all tuples of a level of ``B``. Linking each level's
first tuple to its other tuples (the distinct pairs, a table the size of the tuples'
links, not of the rows), ``s`` is constant on each connected component of the tuple
graph, and the rank is the levels of ``B`` plus the rank of the rows
``ind(t) - ind(r)`` (``r`` the first tuple of ``t``'s component). With one small
dimension a tuple is a level and the rank is the levels less the components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from impact._typing import IntArray
from impact.engine.base import Engine
from impact.errors import InvalidOptionError
from impact.linear.demean import schur_fits
from impact.linear.engine_sample import INTERNAL
from impact.linear.fixed_effects import convention_rank

__all__ = ["MAX_RANK_LINKS", "engine_fixef_rank", "tuple_rank"]

#: Most tuples, or links between tuples, the exact count collects (two integer codes
#: each: 80 MB). A design beyond it (small dimensions whose combinations are nearly as
#: many as the rows) is a typed error: its degrees of freedom need the in-memory path.
MAX_RANK_LINKS = 5_000_000
_CODE, _FIRST = f"{INTERNAL}kc", f"{INTERNAL}kf"


def tuple_rank(levels: IntArray, first: IntArray, other: IntArray) -> int:
    """Rank of the small dimensions' part of the null-space conditions (module notes).

    Parameters
    ----------
    levels : ndarray of int (T, K-1)
        Each tuple's level code in each small dimension (codes from 0, every level present).
    first, other : ndarray of int
        Links between tuples: a level of the large dimension's first tuple and another of
        its tuples.

    Returns
    -------
    int
        The rank of the rows ``ind(t) - ind(r)`` over tuples ``t`` not first of their
        component ``r``.
    """
    n_tuples, n_small = levels.shape
    graph = sp.coo_matrix((np.ones(len(first)), (first, other)), shape=(n_tuples, n_tuples))
    n_comp, comp = connected_components(graph.tocsr(), directed=False)
    if n_small == 1:
        return n_tuples - n_comp
    offsets = np.r_[0, np.cumsum(levels.max(axis=0) + 1)[:-1]]
    cols = levels + offsets
    rep = np.full(n_comp, -1, dtype=np.int64)
    rep[comp[::-1]] = np.arange(n_tuples)[::-1]  # first tuple of each component
    rows = np.flatnonzero(rep[comp] != np.arange(n_tuples))
    if len(rows) == 0:
        return 0
    width = int((levels.max(axis=0) + 1).sum())
    r = np.arange(len(rows))
    ind = sp.coo_matrix(
        (np.r_[np.ones(rows.size * n_small), -np.ones(rows.size * n_small)],
         (np.r_[np.repeat(r, n_small), np.repeat(r, n_small)],
          np.r_[cols[rows].ravel(), cols[rep[comp[rows]]].ravel()])),
        shape=(len(rows), width),
    ).tocsr()  # fmt: skip
    gram = (ind.T @ ind).toarray()
    return int(np.linalg.matrix_rank(gram, hermitian=True))


def engine_fixef_rank(
    engine: Engine, src: Any, fixef: Sequence[tuple[str, ...]], levels: Sequence[int]
) -> int:
    """Identified coefficients of ``fixef``'s dummies on ``src``'s rows, as the in-memory
    fit counts them (module notes): exact for two dimensions and when
    :func:`~impact.linear.demean.schur_fits`, fixest's convention beyond.

    Raises
    ------
    InvalidOptionError
        The exact count would collect more than :data:`MAX_RANK_LINKS` tuples or links.
    """
    if len(fixef) > 2 and not schur_fits(list(levels)):  # memory's alternating projections
        return convention_rank(list(levels))
    big = int(np.argmax(levels))
    small = [q for q in range(len(fixef)) if q != big]
    keys = list(dict.fromkeys(k for q in small for k in fixef[q]))
    bounded = len(fixef) > 2  # two dimensions: the smaller one's levels (as before)
    if bounded:
        _bounded(engine.count(engine.group_relation(src, keys, {}, count=None)), "tuples", fixef)
    table = engine.group_sums(src, keys, {}, count=None)
    table[_CODE] = np.arange(len(table), dtype=float)
    coded = engine.join_small(src, table, keys)
    first = engine.group_min(coded, fixef[big], _CODE, _FIRST)
    linked = engine.join_groups(coded, first, fixef[big])
    if bounded:
        links = engine.group_relation(linked, [_FIRST, _CODE], {}, count=None)
        _bounded(engine.count(links), "links between tuples", fixef)
    pairs = engine.group_sums(linked, [_FIRST, _CODE], {}, count=None)
    codes = np.column_stack([_level_codes(table, fixef[q]) for q in small])
    rank = tuple_rank(codes, pairs[_FIRST].to_numpy(np.int64), pairs[_CODE].to_numpy(np.int64))
    return int(levels[big]) + rank


def _level_codes(table: pd.DataFrame, keys: tuple[str, ...]) -> IntArray:
    """Each tuple's level code in the dimension of ``keys`` (a group number)."""
    return table.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy(np.int64)


def _bounded(count: int, what: str, fixef: Sequence[tuple[str, ...]]) -> None:
    if count > MAX_RANK_LINKS:
        dims = " + ".join("^".join(f) for f in fixef)
        raise InvalidOptionError(
            f"counting the identified coefficients of the fixed effects {dims} in the engine "
            f"needs {count:,} {what} (at most {MAX_RANK_LINKS:,}): the smaller dimensions "
            "combine into nearly as many tuples as rows. Fit an in-memory pandas frame, or "
            "absorb fewer or coarser fixed effects."
        )
