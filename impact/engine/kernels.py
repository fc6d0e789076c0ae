"""The group-by primitive every heavy step reduces to (``GROUP BY key: SUM(w * v)``).

Kept behind this small interface so that an out-of-core or distributed engine can
later compute the same sufficient statistics (see SCALE.md §2.1).
"""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray, IntArray

__all__ = ["group_sums", "group_weights"]


def group_sums(
    codes: IntArray, n_groups: int, values: FloatArray, starts: IntArray | None = None
) -> FloatArray:
    """Sum the rows of ``values`` (n, p) within groups; returns (n_groups, p).

    ``starts``: when the rows are sorted by ``codes`` and every group occurs, the first
    row of each group; the sums are then contiguous reductions (about twice as fast as
    the scattered ``bincount``).
    """
    values = np.asarray(values, dtype=np.float64)
    if starts is not None and len(starts) != n_groups:
        raise ValueError(f"starts has {len(starts)} groups, expected {n_groups}.")
    if values.ndim == 1:
        if starts is not None:
            return np.add.reduceat(values, starts)
        return np.bincount(codes, weights=values, minlength=n_groups)
    values = np.asfortranarray(values)  # contiguous columns: bincount is ~3x faster
    out = np.empty((n_groups, values.shape[1]))
    for j in range(values.shape[1]):
        if starts is not None:
            out[:, j] = np.add.reduceat(values[:, j], starts)
        else:
            out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_groups)
    return out


def group_weights(codes: IntArray, n_groups: int, weights: FloatArray | None) -> FloatArray:
    """Number of rows (or sum of weights) per group, as float64."""
    if weights is None:
        return np.bincount(codes, minlength=n_groups).astype(np.float64)
    return np.bincount(codes, weights=weights, minlength=n_groups)
