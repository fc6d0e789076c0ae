"""Multiple-testing adjustments of a family of p-values (pure functions).

Family-wise error: Bonferroni, Holm (1979), and the resampling step-down methods of
Westfall & Young (1993, free step-down min-P) and Romano & Wolf (2005, 2016, step-down
max-|t|), which use the joint distribution of the statistics and so are less conservative
when the tests are correlated (outcomes of the same firms). False discovery rate: the
sharpened q-values of Benjamini, Krieger & Yekutieli (2006) as used in economics by
Anderson (2008).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from impact._typing import FloatArray

__all__ = ["bky", "bonferroni", "holm", "romano_wolf", "westfall_young"]

#: Sharpened q-values are found by bisection on q to this absolute precision.
Q_RESOLUTION = 1e-10


def bonferroni(p: FloatArray) -> FloatArray:
    """``min(1, m p)``."""
    p = np.asarray(p, dtype=float)
    return np.minimum(1.0, len(p) * p)


def holm(p: FloatArray) -> FloatArray:
    """Holm's step-down adjusted p-values: ``max_{k <= j} min(1, (m - k + 1) p_(k))``."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


def _bh_rejections(p_sorted: FloatArray, level: float) -> int:
    """Number rejected by Benjamini–Hochberg at ``level`` (p sorted ascending)."""
    m = len(p_sorted)
    ok = np.flatnonzero(p_sorted <= level * np.arange(1, m + 1) / m)
    return int(ok[-1]) + 1 if len(ok) else 0


def _bky_rejections(p_sorted: FloatArray, q: float) -> int:
    """Number rejected by the two-stage procedure of Benjamini, Krieger & Yekutieli (2006,
    Definition 6) at FDR level ``q``."""
    m = len(p_sorted)
    q1 = q / (1 + q)
    r1 = _bh_rejections(p_sorted, q1)
    if r1 in (0, m):
        return r1
    return _bh_rejections(p_sorted, q1 * m / (m - r1))


def bky(p: FloatArray) -> FloatArray:
    """Sharpened FDR q-values (Anderson 2008): for each hypothesis the smallest ``q`` at
    which the two-stage BKY procedure rejects it (rejection is monotone in ``q``)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    q_sorted = np.empty(m)
    for rank in range(m):  # the smallest q that rejects the rank+1 smallest p-values
        lo, hi = 0.0, 1.0
        if _bky_rejections(p_sorted, hi) <= rank:
            q_sorted[rank] = 1.0
            continue
        while hi - lo > Q_RESOLUTION:
            mid = 0.5 * (lo + hi)
            if _bky_rejections(p_sorted, mid) > rank:
                hi = mid
            else:
                lo = mid
        q_sorted[rank] = hi
    out = np.empty(m)
    out[order] = np.maximum.accumulate(q_sorted)
    return out


def _step_down(
    observed: FloatArray, boot: FloatArray, extreme: Callable, at_least: Callable, plus_one: bool
) -> FloatArray:
    """Generic step-down: hypotheses from the most significant; the adjusted p-value of
    the k-th is the share of draws whose most extreme statistic over the hypotheses not
    yet stepped past is at least as extreme as it, then made monotone."""
    S = len(observed)
    B = boot.shape[0]
    order = np.argsort(observed, kind="stable")  # most significant first (caller's sign)
    # successive extremes over the remaining hypotheses: from the least significant
    tail = extreme.accumulate(boot[:, order[::-1]], axis=1)[:, ::-1]
    counts = at_least(tail, observed[order][None, :]).sum(axis=0)
    raw = (counts + 1) / (B + 1) if plus_one else counts / B
    stepped = np.minimum(1.0, np.maximum.accumulate(raw))
    out = np.empty(S)
    out[order] = stepped
    return out


def romano_wolf(t: FloatArray, t_boot: FloatArray, *, plus_one: bool = True) -> FloatArray:
    """Romano–Wolf step-down adjusted p-values from ``|t|`` and bootstrap statistics
    ``t_boot`` (B x S) centred at the null, drawn jointly (same resampling for every
    hypothesis).

    ``plus_one`` counts the sample itself among the draws, ``(#{max* >= |t|} + 1) /
    (B + 1)`` (random draws); ``False`` for fully enumerated draws, which already contain
    the sample's own sign pattern.
    """
    a = -np.abs(np.asarray(t, dtype=float))
    b = -np.abs(np.asarray(t_boot, dtype=float))
    return _step_down(a, b, np.minimum, np.less_equal, plus_one)


def westfall_young(p: FloatArray, p_boot: FloatArray) -> FloatArray:
    """Westfall–Young free step-down (min-P) adjusted p-values from the p-values ``p`` and
    the p-values ``p_boot`` (B x S) of jointly drawn bootstrap statistics under the null."""
    return _step_down(
        np.asarray(p, dtype=float), np.asarray(p_boot, dtype=float), np.minimum,
        np.less_equal, False,
    )  # fmt: skip
