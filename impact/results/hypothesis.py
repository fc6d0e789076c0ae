"""Tests on estimated coefficients: coefficient tables, Wald tests, linear combinations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from impact.errors import InvalidOptionError, close_matches_hint

__all__ = ["WaldTest", "coef_table", "lincom", "wald_test"]


def _critical(df: float | None, alpha: float) -> float:
    if df is None or not np.isfinite(df):
        return float(stats.norm.ppf(1 - alpha / 2))
    return float(stats.t.ppf(1 - alpha / 2, df))


def _pvalue(stat: np.ndarray, df: float | None) -> np.ndarray:
    if df is None or not np.isfinite(df):
        return 2 * stats.norm.sf(np.abs(stat))
    return 2 * stats.t.sf(np.abs(stat), df)


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
    crit = _critical(df, alpha)
    return pd.DataFrame(
        {
            "term": list(estimate.index),
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p_value": _pvalue(stat, df),
            "conf_low": est - crit * se,
            "conf_high": est + crit * se,
        }
    )


@dataclass(frozen=True)
class WaldTest:
    """Result of a Wald test of ``R b = q``.

    Attributes
    ----------
    statistic : float
        F statistic (Wald chi-square divided by the number of restrictions).
    df_num, df_den : float
        Numerator and denominator degrees of freedom (``df_den`` is inf for chi-square).
    p_value : float
    chi2 : float
        Wald chi-square statistic.
    """

    statistic: float
    df_num: int
    df_den: float
    p_value: float
    chi2: float

    def __str__(self) -> str:
        return (
            f"Wald test: F({self.df_num}, {self.df_den:g}) = {self.statistic:.4f}, "
            f"p = {self.p_value:.4g}"
        )


def _restriction(
    names: Sequence[str], restriction: Mapping[str, float] | Sequence[str] | np.ndarray
) -> np.ndarray:
    names = list(names)
    if isinstance(restriction, Mapping):
        restriction = [restriction]
    if isinstance(restriction, np.ndarray):
        R = np.atleast_2d(restriction).astype(float)
        if R.shape[1] != len(names):
            raise InvalidOptionError(f"R must have {len(names)} columns, got {R.shape[1]}.")
        return R
    rows = []
    for r in restriction:
        row = np.zeros(len(names))
        items = r.items() if isinstance(r, Mapping) else [(r, 1.0)]
        for term, w in items:
            if term not in names:
                raise InvalidOptionError(
                    f"{term!r} is not a coefficient of the model." + close_matches_hint(term, names)
                )
            row[names.index(term)] = float(w)
        rows.append(row)
    return np.vstack(rows)


def wald_test(
    coef: pd.Series,
    vcov: pd.DataFrame,
    restriction: Mapping[str, float] | Sequence[str] | np.ndarray,
    q: float | Sequence[float] | None = None,
    df: float | None = None,
) -> WaldTest:
    """Wald test of ``R b = q``.

    Parameters
    ----------
    restriction : list of terms, list of ``{term: weight}`` dicts, or an R matrix
        A list of terms tests that all of them are zero.
    q : float or sequence, optional
        Right-hand side (zeros by default).
    df : float, optional
        Denominator degrees of freedom of the F distribution; ``None`` gives chi-square.
    """
    R = _restriction(coef.index, restriction)
    qv = np.zeros(R.shape[0]) if q is None else np.broadcast_to(np.asarray(q, float), R.shape[0])
    diff = R @ coef.to_numpy() - qv
    V = R @ vcov.to_numpy() @ R.T
    chi2 = float(diff @ np.linalg.solve(V, diff))
    m = R.shape[0]
    F = chi2 / m
    if df is None or not np.isfinite(df):
        p = float(stats.chi2.sf(chi2, m))
        return WaldTest(statistic=F, df_num=m, df_den=float("inf"), p_value=p, chi2=chi2)
    return WaldTest(
        statistic=F, df_num=m, df_den=float(df), p_value=float(stats.f.sf(F, m, df)), chi2=chi2
    )


def lincom(
    coef: pd.Series,
    vcov: pd.DataFrame,
    weights: Mapping[str, float],
    df: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Estimate, SE, test and interval of ``sum_j weights[j] * b_j``."""
    R = _restriction(coef.index, weights)[0]
    est = float(R @ coef.to_numpy())
    se = float(np.sqrt(R @ vcov.to_numpy() @ R))
    label = " + ".join(f"{w:g}*{t}" for t, w in weights.items())
    return coef_table(pd.Series([est], index=[label]), pd.Series([se], index=[label]), df, alpha)
