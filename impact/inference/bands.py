"""Simultaneous confidence bands: the sup-t critical value of a vector of estimates."""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray

__all__ = ["SUPT_DRAWS", "sup_t_critical_value", "symmetric_root"]

#: Gaussian draws used for the sup-t critical value of simultaneous bands.
SUPT_DRAWS = 20_000


def symmetric_root(A: FloatArray) -> FloatArray:
    """The symmetric square root of a PSD matrix (negative eigenvalues clipped).

    Gaussian draws ``z @ root`` have covariance ``A``; the symmetric root is unique, so
    they do not depend on the eigenvector signs or the basis of repeated eigenvalues that
    the machine's eigensolver returns (a triangular or eigenvector root does).
    """
    vals, vecs = np.linalg.eigh((A + A.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def sup_t_critical_value(V: FloatArray, alpha: float, seed: int) -> float:
    """(1 - alpha) quantile of max_j |Z_j| / sd_j for Z ~ N(0, V) (Montiel Olea &
    Plagborg-Møller 2019): estimate ± c·se covers all coefficients jointly."""
    sd = np.sqrt(np.clip(np.diag(V), 0, None))
    ok = sd > 0
    if not ok.any():
        return float("nan")
    R = V[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    S = symmetric_root(R)
    z = np.random.default_rng(seed).standard_normal((SUPT_DRAWS, len(S))) @ S
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))
