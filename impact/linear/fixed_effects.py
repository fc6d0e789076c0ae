"""Fixed-effect codes: factorisation, interactions, singleton removal, degrees of freedom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from impact._typing import BoolArray, IntArray
from impact.data.panel import compact_codes

__all__ = [
    "FixedEffects",
    "build_fixed_effects",
    "convention_rank",
    "count_fixef_rank",
    "find_singletons",
    "is_nested",
]


@dataclass(frozen=True)
class FixedEffects:
    """Integer codes of every fixed-effect dimension, aligned with the estimation rows.

    Attributes
    ----------
    codes : tuple of ndarray of intp
        One array per dimension with values ``0 .. n_levels[q]-1``; every level occurs.
    n_levels : tuple of int
        Number of levels per dimension.
    names : tuple of str
        Display name per dimension (``"a^b"`` for interactions).
    labels : tuple of Index
        The original level values per dimension (tuples for interactions).
    """

    codes: tuple[IntArray, ...]
    n_levels: tuple[int, ...]
    names: tuple[str, ...]
    labels: tuple[pd.Index, ...]

    @property
    def n_dims(self) -> int:
        """Number of fixed-effect dimensions."""
        return len(self.codes)

    @property
    def largest(self) -> int:
        """Index of the dimension with most levels (the first of equals)."""
        return int(np.argmax(self.n_levels))

    @cached_property
    def crosstab_keys(self) -> tuple[np.ndarray, ...]:
        """Each row's cell of the flattened (largest level x small level) table, one int64
        array per other dimension (small levels offset by the earlier dimensions' counts).

        Derived from the codes once and reused by every weighted projection on the same
        rows (the IRLS steps of ``fepois`` re-weight, the codes stay).
        """
        big = self.largest
        small = [q for q in range(self.n_dims) if q != big]
        offsets = np.cumsum([0] + [self.n_levels[q] for q in small])
        bkey = self.codes[big].astype(np.int64) * int(offsets[-1])
        return tuple(bkey + (self.codes[q] + offsets[i]) for i, q in enumerate(small))

    @cached_property
    def runs(self) -> tuple[IntArray | None, ...]:
        """Per dimension: the first row of every level when the rows are sorted by that
        dimension (each level one contiguous run, as in a panel sorted by firm), else
        None. Group sums over runs are contiguous reductions (``np.add.reduceat``)."""
        out: list[IntArray | None] = []
        for codes, n_lev in zip(self.codes, self.n_levels, strict=True):
            starts = None
            if len(codes) and np.all(codes[1:] >= codes[:-1]):
                starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
                if len(starts) != n_lev:  # a level without rows: not a run per level
                    starts = None
            out.append(starts)
        return tuple(out)

    def subset(self, keep: BoolArray) -> FixedEffects:
        """Restrict to rows ``keep`` and re-code so every level occurs."""
        codes, n_levels, labels = [], [], []
        for c, n, lab in zip(self.codes, self.n_levels, self.labels, strict=True):
            new, uniq = compact_codes(c[keep], n)
            codes.append(new)
            n_levels.append(len(uniq))
            labels.append(lab[uniq])
        return FixedEffects(tuple(codes), tuple(n_levels), self.names, tuple(labels))


def _codes_of(frame: pd.DataFrame, cols: Sequence[str]) -> tuple[IntArray, pd.Index]:
    if len(cols) == 1:
        codes, uniq = pd.factorize(frame[cols[0]], sort=True)
        return codes.astype(np.intp), pd.Index(uniq)
    parts = [pd.factorize(frame[c], sort=True) for c in cols]
    key = np.zeros(len(frame), dtype=np.int64)
    for codes, uniq in parts:
        key = key * len(uniq) + codes
    codes, uniq_key = pd.factorize(key, sort=True)
    # decode the combined key back into the original levels of each column
    rem = np.asarray(uniq_key, dtype=np.int64)
    arrays = []
    for _, uniq_q in reversed(parts):
        arrays.append(np.asarray(uniq_q)[rem % len(uniq_q)])
        rem = rem // len(uniq_q)
    labels = pd.MultiIndex.from_arrays(list(reversed(arrays)), names=list(cols))
    return codes.astype(np.intp), labels


def build_fixed_effects(frame: pd.DataFrame, fixef: Sequence[Sequence[str]]) -> FixedEffects:
    """Factorise each fixed-effect dimension of ``frame`` (rows must be complete)."""
    codes, n_levels, names, labels = [], [], [], []
    for cols in fixef:
        c, lab = _codes_of(frame, cols)
        codes.append(c)
        n_levels.append(len(lab))
        names.append("^".join(cols))
        labels.append(lab)
    return FixedEffects(tuple(codes), tuple(n_levels), tuple(names), tuple(labels))


def find_singletons(fe: FixedEffects) -> tuple[BoolArray, dict[str, int]]:
    """Rows to keep after iterative singleton removal across all dimensions (reghdfe rule).

    A row is a singleton if its level of some fixed effect occurs only once among the
    rows still kept; removing it can create new singletons in other dimensions, so the
    sweep repeats until nothing changes.

    Returns
    -------
    keep : ndarray of bool
    per_dim : dict
        Rows removed in each dimension's sweeps (sums to the total removed).
    """
    n = len(fe.codes[0]) if fe.codes else 0
    keep = np.ones(n, dtype=bool)
    per_dim = {name: 0 for name in fe.names}
    changed = True
    while changed:
        changed = False
        for codes, n_lev, name in zip(fe.codes, fe.n_levels, fe.names, strict=True):
            counts = np.bincount(codes[keep], minlength=n_lev)
            single = keep & (counts[codes] == 1)
            n_single = int(single.sum())
            if n_single:
                keep &= ~single
                per_dim[name] += n_single
                changed = True
    return keep, per_dim


def is_nested(fe_codes: IntArray, cluster_codes: IntArray, n_levels: int) -> bool:
    """True if every fixed-effect level lies within a single cluster."""
    first = np.full(n_levels, -1, dtype=np.int64)
    first[fe_codes[::-1]] = cluster_codes[::-1]
    return bool(np.all(first[fe_codes] == cluster_codes))


def count_fixef_rank(fe: FixedEffects) -> int:
    """Number of identified fixed-effect coefficients (rank of the dummy matrix).

    Exact for one and two dimensions (two dimensions: levels minus the connected
    components of the bipartite level graph). With three or more dimensions the count
    assumes every additional dimension loses exactly one level to the others, which is
    exact for regular designs; this is the convention of fixest and pyfixest.
    """
    if fe.n_dims == 0:
        return 0
    if fe.n_dims == 1:
        return fe.n_levels[0]
    if fe.n_dims == 2:
        n1, n2 = fe.n_levels
        a, b = fe.codes
        graph = sp.coo_matrix((np.ones(len(a)), (a, b + n1)), shape=(n1 + n2, n1 + n2)).tocsr()
        n_comp, _ = connected_components(graph, directed=False)
        return n1 + n2 - n_comp
    return convention_rank(fe.n_levels)


def convention_rank(n_levels: tuple[int, ...] | list[int]) -> int:
    """fixest's count of identified fixed-effect coefficients for three or more
    dimensions: every dimension after the first loses one level."""
    return int(sum(n_levels)) - (len(n_levels) - 1)
