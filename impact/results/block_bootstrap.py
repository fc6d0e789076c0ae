"""Bootstrap draws of a coefficient vector (the firm-block bootstrap's result)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray

__all__ = ["BlockBootstrap"]


@dataclass(frozen=True, eq=False)
class BlockBootstrap:
    """Bootstrap draws of a coefficient vector.

    Attributes
    ----------
    draws : ndarray (n_ok, p)
        Estimates of the draws that converged.
    n_failed : int
        Draws whose estimation raised (not converged / not identified); excluded.
    seed : int
    """

    draws: FloatArray
    n_failed: int
    seed: int

    @property
    def se(self) -> FloatArray:
        """Standard deviation of the draws (ddof = 1)."""
        return self.draws.std(axis=0, ddof=1)

    def percentile_ci(self, level: float = 0.95) -> FloatArray:
        """Percentile interval, ``(p, 2)``."""
        a = (1 - level) / 2
        return np.quantile(self.draws, [a, 1 - a], axis=0).T
