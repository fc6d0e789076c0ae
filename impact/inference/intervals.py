"""ONE place for critical values, two-sided p-values and confidence intervals.

Normal reference distribution when ``df`` is None or infinite (influence-function and
delta-method inference, as R did does), Student's t with ``df`` otherwise (fixest's
t(G-1) for one-way clustered regressions).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from impact._typing import FloatArray

__all__ = ["critical_value", "interval", "two_sided_p"]


def _normal(df: float | None) -> bool:
    return df is None or not np.isfinite(df)


def critical_value(alpha: float = 0.05, df: float | None = None) -> float:
    """The two-sided ``1 - alpha`` critical value: ``z_{1-alpha/2}`` or ``t_{df,1-alpha/2}``."""
    if _normal(df):
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, df))


def two_sided_p(statistic: FloatArray | float, df: float | None = None) -> FloatArray:
    """Two-sided p-values of t or z statistics."""
    stat = np.abs(np.asarray(statistic, dtype=float))
    return 2 * (stats.norm.sf(stat) if _normal(df) else stats.t.sf(stat, df))


def interval(
    estimate: FloatArray | float,
    std_error: FloatArray | float,
    alpha: float = 0.05,
    df: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Pointwise ``1 - alpha`` confidence interval ``estimate -/+ c * std_error``."""
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    c = critical_value(alpha, df)
    return est - c * se, est + c * se
