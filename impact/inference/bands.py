"""Simultaneous confidence bands: the sup-t critical value of a vector of estimates."""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray

__all__ = ["SUPT_DRAWS", "sup_t_critical_value"]

#: Gaussian draws used for the sup-t critical value of simultaneous bands.
SUPT_DRAWS = 20_000


def sup_t_critical_value(V: FloatArray, alpha: float, seed: int) -> float:
    """(1 - alpha) quantile of max_j |Z_j| / sd_j for Z ~ N(0, V) (Montiel Olea &
    Plagborg-Møller 2019): estimate ± c·se covers all coefficients jointly."""
    sd = np.sqrt(np.clip(np.diag(V), 0, None))
    ok = sd > 0
    if not ok.any():
        return float("nan")
    R = V[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    vals, vecs = np.linalg.eigh((R + R.T) / 2)
    L = vecs * np.sqrt(np.clip(vals, 0, None))
    z = np.random.default_rng(seed).standard_normal((SUPT_DRAWS, len(vals))) @ L.T
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))
