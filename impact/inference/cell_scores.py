"""Row scores of a regression whose regressors are constant within cells.

When every regressor is a function of a row's cell (ETWFE's cohort x period cells), the
score of row ``i`` is ``e_i x_c(i)``. The cross-products the sandwich needs then follow
from cell-level sums of the residuals: ``sum_i e_i^2 x x' = X' diag(sum_c e^2) X`` and the
cluster sums ``s_g = sum_c (sum_{i in g, c} e_i) x_c``, so the ``rows x k`` score matrix
is never formed (SCALE.md §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from impact._typing import FloatArray, IntArray

__all__ = ["DENSE_CLUSTER_CELLS", "CellScores"]

#: Cluster-by-cell residual sums are accumulated in a dense array up to this many entries
#: (160 MB), else as a sparse matrix.
DENSE_CLUSTER_CELLS = 20_000_000


@dataclass(frozen=True)
class CellScores:
    """Scores ``resid_i * X[code_i]``.

    Attributes
    ----------
    X : ndarray (cells, k)
        Regressors of each cell.
    code : ndarray of int (rows,)
        Each row's cell.
    resid : ndarray (rows,)
        Each row's (score-weighted) residual.
    """

    X: FloatArray
    code: IntArray
    resid: FloatArray

    def cross(self) -> FloatArray:
        """``S'S`` of the row scores (the heteroskedasticity-robust meat)."""
        e2 = np.bincount(self.code, weights=self.resid**2, minlength=len(self.X))
        return (self.X * e2[:, None]).T @ self.X

    def cluster_sums(self, clusters: IntArray, n_clusters: int) -> FloatArray:
        """``(n_clusters, k)`` sums of the row scores within each cluster."""
        n_cells = len(self.X)
        if n_clusters * n_cells <= DENSE_CLUSTER_CELLS:
            key = clusters.astype(np.int64) * n_cells + self.code
            sums = np.bincount(key, weights=self.resid, minlength=n_clusters * n_cells)
            return sums.reshape(n_clusters, n_cells) @ self.X
        by = sparse.csr_array((self.resid, (clusters, self.code)), shape=(n_clusters, n_cells))
        return np.asarray(by @ self.X)
