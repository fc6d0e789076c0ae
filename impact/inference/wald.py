"""ONE Wald test: of ``R b = q`` on a coefficient vector, and of ``theta = 0`` for a block of
estimates with a possibly singular covariance (event-study pre-trend tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from impact._typing import FloatArray
from impact.errors import InvalidOptionError, close_matches_hint

__all__ = ["WaldTest", "restriction_matrix", "wald", "wald_test"]


@dataclass(frozen=True)
class WaldTest:
    """Result of a Wald test.

    Attributes
    ----------
    statistic : float
        F statistic (Wald chi-square divided by the number of restrictions).
    df_num, df_den : float
        Numerator degrees of freedom (the restrictions, or the rank of a singular
        covariance) and denominator degrees of freedom (inf for chi-square).
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

    def as_dict(self) -> dict[str, float]:
        """``statistic`` (chi-square), ``df`` and ``p_value``: the pre-trend test's layout."""
        return {"statistic": self.chi2, "df": self.df_num, "p_value": self.p_value}


def wald(
    diff: FloatArray, V: FloatArray, *, df: float | None = None, generalized: bool = False
) -> WaldTest:
    """Wald test that ``diff = 0`` given its covariance ``V``.

    Parameters
    ----------
    diff : ndarray (m,)
    V : ndarray (m, m)
    df : float, optional
        Denominator degrees of freedom of the F distribution; None: chi-square.
    generalized : bool
        Use the Moore-Penrose inverse of ``V`` and its rank as the degrees of freedom
        (for estimates whose covariance is singular by construction).
    """
    diff = np.asarray(diff, dtype=float)
    V = np.asarray(V, dtype=float)
    if generalized:
        chi2 = float(diff @ np.linalg.pinv(V) @ diff)
        m = int(np.linalg.matrix_rank(V))
    else:
        chi2 = float(diff @ np.linalg.solve(V, diff))
        m = len(diff)
    F = chi2 / m if m else float("nan")
    if df is None or not np.isfinite(df):
        p = float(stats.chi2.sf(chi2, m)) if m else float("nan")
        return WaldTest(statistic=F, df_num=m, df_den=float("inf"), p_value=p, chi2=chi2)
    return WaldTest(
        statistic=F, df_num=m, df_den=float(df), p_value=float(stats.f.sf(F, m, df)), chi2=chi2
    )


def restriction_matrix(
    names: Sequence[str], restriction: Mapping[str, float] | Sequence[str] | np.ndarray
) -> np.ndarray:
    """``R`` from a list of terms (each zero), ``{term: weight}`` rows, or a matrix."""
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
    R = restriction_matrix(coef.index, restriction)
    qv = np.zeros(R.shape[0]) if q is None else np.broadcast_to(np.asarray(q, float), R.shape[0])
    diff = R @ coef.to_numpy() - qv
    return wald(diff, R @ vcov.to_numpy() @ R.T, df=df)
