"""The Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD coefficient.

Pure functions of the group-by-period outcome means of a balanced panel with a binary,
absorbing treatment. Units form *timing groups* by the period their treatment starts:
``start = 0`` is always treated, ``start = T`` never treated. TWFE's coefficient on the
treatment is a weighted average of every 2x2 DiD between two groups (Theorem 1):

- treated vs never treated: group k against the never-treated over all periods;
- earlier vs later treated: an earlier group k against a later group l, before l starts;
- later vs earlier (or always) treated: l against k once k is treated (k's effect, if it
  changes over time, biases this comparison: the "forbidden" comparison).

The weights are the 2x2 comparisons' shares of the variance of the two-way demeaned
treatment; they sum to one.

References
----------
Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
Journal of Econometrics, 225(2), 254-277.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray

__all__ = [
    "TYPES",
    "bacon_pairs",
    "demeaned_treatment_variance",
    "sums_by_type",
    "twfe_from_means",
]

#: Comparison types, in the order of the paper.
TYPES = (
    "treated vs never treated",
    "earlier vs later treated",
    "later vs earlier treated",
    "later vs always treated",
)


def _treatment(starts: IntArray, n_periods: int) -> FloatArray:
    """D[g, t] = 1 from the group's start on."""
    return (np.arange(n_periods)[None, :] >= starts[:, None]).astype(float)


def _demeaned(starts: IntArray, shares: FloatArray, n_periods: int) -> FloatArray:
    """The two-way demeaned treatment D[g, t] - mean_t - mean_g + mean (balanced panel)."""
    D = _treatment(starts, n_periods)
    by_group = D.mean(axis=1)
    by_period = shares @ D
    return D - by_group[:, None] - by_period[None, :] + shares @ by_group


def demeaned_treatment_variance(starts: IntArray, shares: FloatArray, n_periods: int) -> float:
    """``V^D``: the mean square of the two-way demeaned treatment over all unit-periods."""
    return float(shares @ (_demeaned(starts, shares, n_periods) ** 2).mean(axis=1))


def twfe_from_means(ybar: FloatArray, starts: IntArray, shares: FloatArray) -> float:
    """The TWFE coefficient from group-period means (Frisch-Waugh: sum D~ y / sum D~^2)."""
    n_periods = ybar.shape[1]
    Dt = _demeaned(starts, shares, n_periods)
    return float(
        shares @ (Dt * ybar).sum(axis=1) / (n_periods * (shares @ (Dt**2).sum(axis=1) / n_periods))
    )


def _did(ybar: FloatArray, treated: int, control: int, pre: np.ndarray, post: np.ndarray) -> float:
    """2x2 DiD of two groups' means between two sets of periods."""
    gap = ybar[treated] - ybar[control]
    return float(gap[post].mean() - gap[pre].mean())


def bacon_pairs(ybar: FloatArray, starts: IntArray, shares: FloatArray) -> pd.DataFrame:
    """Every 2x2 comparison with positive weight: its groups, type, estimate and weight.

    Parameters
    ----------
    ybar : ndarray (G, T)
        Outcome mean of each timing group in each period.
    starts : ndarray of int (G,)
        First treated period index of each group, distinct: 0 always treated, T never.
    shares : ndarray (G,)
        Each group's share of the units (sums to 1).

    Returns
    -------
    DataFrame
        ``treated``, ``control`` (group positions), ``type``, ``estimate``, ``weight``.
    """
    n_periods = ybar.shape[1]
    t = np.arange(n_periods)
    dbar = (n_periods - starts) / n_periods
    v = demeaned_treatment_variance(starts, shares, n_periods)
    timing = [g for g in np.argsort(starts) if 0 < starts[g] < n_periods]
    never = np.flatnonzero(starts == n_periods)
    rows = []
    for k in timing:
        for u in never:  # at most one never-treated group
            n, nk = shares[k] + shares[u], shares[k] / (shares[k] + shares[u])
            w = n**2 * nk * (1 - nk) * dbar[k] * (1 - dbar[k])
            est = _did(ybar, k, u, t < starts[k], t >= starts[k])
            rows.append((k, u, TYPES[0], est, w / v))
    earlier = [g for g in np.argsort(starts) if starts[g] < n_periods]
    for k in earlier:
        for j in timing:  # k starts before j
            if starts[k] >= starts[j]:
                continue
            n, nkj = shares[k] + shares[j], shares[k] / (shares[k] + shares[j])
            dk, dj = dbar[k], dbar[j]
            if starts[k] > 0:  # k treated, j not yet: the periods before j starts
                w = (
                    (n * (1 - dj)) ** 2
                    * nkj
                    * (1 - nkj)
                    * (dk - dj)
                    / (1 - dj)
                    * (1 - dk)
                    / (1 - dj)
                )
                window = t < starts[j]
                est = _did(ybar, k, j, window & (t < starts[k]), window & (t >= starts[k]))
                rows.append((k, j, TYPES[1], est, w / v))
            # j against k once k is treated: the periods from k's start on
            w = (n * dk) ** 2 * nkj * (1 - nkj) * (dj / dk) * (dk - dj) / dk
            window = t >= starts[k]
            est = _did(ybar, j, k, window & (t < starts[j]), t >= starts[j])
            rows.append((j, k, TYPES[2] if starts[k] > 0 else TYPES[3], est, w / v))
    return pd.DataFrame(rows, columns=["treated", "control", "type", "estimate", "weight"])


def sums_by_type(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per comparison type (in order of appearance): the summed ``weight`` and the
    weighted mean ``estimate`` of its 2x2s."""
    w = pairs["weight"].to_numpy(dtype=float)
    kind = pd.Index(pairs["type"])
    codes, types = pd.factorize(kind)
    weight = np.bincount(codes, weights=w, minlength=len(types))
    weighted = np.bincount(
        codes, weights=w * pairs["estimate"].to_numpy(dtype=float), minlength=len(types)
    )
    return pd.DataFrame({"type": list(types), "weight": weight, "estimate": weighted / weight})
