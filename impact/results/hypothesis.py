"""Coefficient tables and linear combinations (the Wald test lives in
:mod:`impact.inference.wald`, re-exported here for the result classes)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from impact.inference.wald import WaldTest, restriction_matrix, wald_test
from impact.results.protocol import tidy_frame

__all__ = ["WaldTest", "coef_table", "lincom", "wald_test"]


def coef_table(
    estimate: pd.Series, std_error: pd.Series, df: float | None, alpha: float = 0.05
) -> pd.DataFrame:
    """Tidy table: term, estimate, std_error, statistic, p_value, conf_low, conf_high.

    ``df=None`` uses the normal distribution; otherwise Student's t with ``df``.
    """
    return tidy_frame(
        estimate.index, estimate.to_numpy(float), std_error.to_numpy(float), alpha, df
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
