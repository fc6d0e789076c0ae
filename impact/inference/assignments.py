"""Re-assignments of a cell-level programme for randomization inference (pure functions).

An assignment gives every cell a launch value (a year, or "no programme"). Under the
assignment model of the test, the programme's launch values were assigned to cells at
random within strata: every arrangement of each stratum's launch values (the multiset:
how many cells launched each year, and how many never) was equally likely. The
re-assignments are these arrangements, enumerated when few, drawn otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from math import factorial, prod

import numpy as np

from impact._typing import IntArray

__all__ = ["count_assignments", "draw_assignments", "enumerate_assignments"]


def _multinomial(codes: IntArray) -> int:
    counts = np.bincount(codes)
    return factorial(len(codes)) // prod(factorial(int(c)) for c in counts)


def count_assignments(codes: IntArray, strata: IntArray) -> int:
    """Number of distinct assignments: the product over strata of the multinomial
    coefficient of the stratum's launch values (exact integer)."""
    return prod(_multinomial(codes[strata == s]) for s in np.unique(strata))


def _multiset_permutations(values: list[int]) -> Iterator[tuple[int, ...]]:
    """Distinct orderings of ``values`` (a multiset), each once."""
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    keys = sorted(counts)
    n = len(values)
    out: list[int] = []

    def rec() -> Iterator[tuple[int, ...]]:
        if len(out) == n:
            yield tuple(out)
            return
        for k in keys:
            if counts[k]:
                counts[k] -= 1
                out.append(k)
                yield from rec()
                out.pop()
                counts[k] += 1

    yield from rec()


def enumerate_assignments(codes: IntArray, strata: IntArray) -> np.ndarray:
    """Every distinct assignment, ``(count_assignments, n_cells)`` launch codes; the
    observed assignment is among them."""
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    per = [list(_multiset_permutations([int(c) for c in codes[g]])) for g in groups]
    out = np.empty((prod(len(p) for p in per), len(codes)), dtype=np.intp)
    for row, combo in enumerate(product(*per)):
        for g, values in zip(groups, combo, strict=True):
            out[row, g] = values
    return out


def draw_assignments(
    codes: IntArray, strata: IntArray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``draws`` random assignments (independent uniform permutations within strata)."""
    out = np.empty((draws, len(codes)), dtype=np.intp)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for b in range(draws):
        for g in groups:
            out[b, g] = codes[g][rng.permutation(len(g))]
    return out
