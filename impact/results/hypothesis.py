"""Coefficient tables and linear combinations (the Wald test lives in
:mod:`impact.inference.wald`, re-exported here for the result classes)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from impact.inference.intervals import interval, two_sided_p
from impact.inference.wald import WaldTest, restriction_matrix, wald_test

__all__ = ["WaldTest", "coef_table", "lincom", "wald_test"]


def coef_table(
    estimate: pd.Series, std_error: pd.Series, df: float | None, alpha: float = 0.05
) -> pd.DataFrame:
    """Tidy table: term, estimate, std_error, statistic, p_value, conf_low, conf_high.

    ``df=None`` uses the normal distribution; otherwise Student's t with ``df``.
    """
    est = estimate.to_numpy(dtype=float)
    se = std_error.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    low, high = interval(est, se, alpha, df)
    return pd.DataFrame(
        {
            "term": list(estimate.index),
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p_value": two_sided_p(stat, df),
            "conf_low": low,
            "conf_high": high,
        }
    )


def lincom(
    coef: pd.Series,
    vcov: pd.DataFrame,
    weights: Mapping[str, float],
    df: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Estimate, SE, test and interval of ``sum_j weights[j] * b_j``."""
    R = restriction_matrix(coef.index, weights)[0]
    est = float(R @ coef.to_numpy())
    se = float(np.sqrt(R @ vcov.to_numpy() @ R))
    label = " + ".join(f"{w:g}*{t}" for t, w in weights.items())
    return coef_table(pd.Series([est], index=[label]), pd.Series([se], index=[label]), df, alpha)
