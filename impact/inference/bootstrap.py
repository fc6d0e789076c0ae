"""Multiplier bootstrap for influence-function estimators, with simultaneous (sup-t) bands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.inference.clusters import cluster_sums

__all__ = ["BootstrapResult", "multiplier_bootstrap"]

_MAMMEN_P = (np.sqrt(5) + 1) / (2 * np.sqrt(5))


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap standard errors and the critical value of uniform bands.

    Attributes
    ----------
    std_error : ndarray (m,)
        Interquartile-range standard errors of each estimate (as R ``did``).
    critical_value : float
        The (1 - alpha) quantile of max_j |draw_j / se_j|: ``estimate ± c * se`` covers all
        m parameters jointly.
    draws : int
    """

    std_error: FloatArray
    critical_value: float
    draws: int


def _weights(rng: np.random.Generator, size: tuple[int, int], kind: str) -> FloatArray:
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=size)
    if kind == "mammen":
        lo, hi = (1 - np.sqrt(5)) / 2, (1 + np.sqrt(5)) / 2
        return np.where(rng.uniform(size=size) < _MAMMEN_P, lo, hi)
    raise InvalidOptionError(f"bootstrap weights must be 'rademacher' or 'mammen', got {kind!r}.")


def multiplier_bootstrap(
    inf: FloatArray,
    *,
    draws: int,
    rng: np.random.Generator,
    cluster: np.ndarray | None = None,
    alpha: float = 0.05,
    weights: str = "rademacher",
    batch: int = 250,
    n: int | None = None,
) -> BootstrapResult:
    """Multiplier bootstrap of estimates with influence functions ``inf`` (n, m).

    Each draw perturbs the influence functions with i.i.d. weights of mean 0 and
    variance 1 — one weight per cluster when clustered, so clusters are resampled as
    wholes — and records ``(1/n) sum_i v_i psi_i``. ``n``: the number of units when
    the rows are cluster sums (default: the rows).

    References
    ----------
    Callaway, B., & Sant'Anna, P. H. C. (2021), Section 4 (multiplier bootstrap and
    simultaneous confidence bands).
    """
    if draws < 2:
        raise InvalidOptionError("the bootstrap needs at least 2 draws.")
    rows, m = inf.shape
    n = rows if n is None else n
    S = cluster_sums(inf, cluster)
    out = np.empty((draws, m))
    for start in range(0, draws, batch):
        stop = min(draws, start + batch)
        v = _weights(rng, (stop - start, S.shape[0]), weights)
        out[start:stop] = v @ S / n
    ok = np.isfinite(out).all(axis=0)
    q75, q25 = np.quantile(out, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    se = np.where(ok & (se > 0), se, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_max = np.nanmax(np.abs(out / se), axis=1)
    crit = float(np.quantile(t_max, 1 - alpha))
    return BootstrapResult(std_error=se, critical_value=crit, draws=draws)
