"""Column-level validation shared by every estimator: existence, missing values, weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact._typing import BoolArray
from impact.data.samplelog import SampleLog
from impact.errors import (
    ClusterError,
    ColumnNotFoundError,
    EmptySampleError,
    InvalidWeightsError,
    MissingIdError,
    RepeatedColumnError,
    close_matches_hint,
)

__all__ = [
    "check_columns",
    "missing_mask",
    "require_cluster_complete",
    "require_ids",
    "validate_weights",
]


def check_columns(data: pd.DataFrame, columns: Sequence[str], *, role: str = "column") -> None:
    """Raise :class:`ColumnNotFoundError` for the first name not in ``data``.

    A name the frame holds more than once raises :class:`RepeatedColumnError`: pandas
    would hand back a frame where a column was meant, and which copy counts is a guess.

    Parameters
    ----------
    data : DataFrame
        The user's frame.
    columns : sequence of str
        Names that must exist.
    role : str
        What the column is used for, quoted in the message.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    for col in columns:
        if col not in data.columns:
            raise ColumnNotFoundError(
                f"{role} {col!r} is not a column of the data."
                + close_matches_hint(col, data.columns)
            )
    if data.columns.is_unique:
        return
    for col in dict.fromkeys(columns):
        if (data.columns == col).sum() > 1:
            raise RepeatedColumnError(
                f"the data frame has {int((data.columns == col).sum())} columns named "
                f"{col!r} ({role}); rename or drop the copies first."
            )


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def _bad_values(s: pd.Series) -> BoolArray:
    """True where a value is missing, or infinite for numeric columns."""
    bad = s.isna().to_numpy(dtype=bool, copy=True)
    if _is_numeric(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        bad |= ~np.isfinite(vals)
    return bad


def missing_mask(
    data: pd.DataFrame, columns: Sequence[str], log: SampleLog
) -> tuple[BoolArray, SampleLog]:
    """Rows to keep after listwise deletion of missing/infinite values in ``columns``.

    A column that is missing on every row is an error (the model cannot be estimated
    and dropping everything would hide the cause).

    Returns
    -------
    keep : ndarray of bool
        Rows with every column present and finite.
    log : SampleLog
        ``log`` plus one record ``"missing"`` with per-column counts.
    """
    keep = np.ones(len(data), dtype=bool)
    detail: dict[str, int] = {}
    for col in dict.fromkeys(columns):
        bad = _bad_values(data[col])
        n_bad = int(bad.sum())
        if n_bad == len(data) and len(data) > 0:
            raise EmptySampleError(
                f"column {col!r} is missing or infinite on all {n_bad} rows; "
                "nothing can be estimated. Check the column name and its values."
            )
        if n_bad:
            detail[col] = n_bad
        keep &= ~bad
    n_drop = int((~keep).sum())
    log = log.with_drop("missing", "rows with missing or infinite values", n_drop, detail)
    return keep, log


def validate_weights(data: pd.DataFrame, column: str) -> np.ndarray:
    """Return the weights as float64 after checking them.

    Negative, missing or infinite weights and all-zero weights raise
    :class:`InvalidWeightsError`; zero weights are allowed here and dropped (counted)
    by the caller.
    """
    s = data[column]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise InvalidWeightsError(f"weights column {column!r} must be numeric, got {s.dtype}.")
    w = s.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(w)
    if bad.any():
        idx = data.index[np.flatnonzero(bad)[0]]
        raise InvalidWeightsError(
            f"weights column {column!r} has {int(bad.sum())} missing or infinite values "
            f"(first at row {idx!r}). Fill or drop them before estimating."
        )
    neg = w < 0
    if neg.any():
        idx = data.index[np.flatnonzero(neg)[0]]
        raise InvalidWeightsError(
            f"weights column {column!r} has {int(neg.sum())} negative values "
            f"(first: {w[neg][0]!r} at row {idx!r}). Weights must be >= 0."
        )
    if len(w) and not (w > 0).any():
        raise InvalidWeightsError(f"weights column {column!r} is zero on every row.")
    return w


def require_cluster_complete(data: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`ClusterError` if a cluster variable has missing values.

    Adding a vcov must never change the estimation sample, so missing cluster ids are
    an error rather than a drop.
    """
    for col in columns:
        miss = data[col].isna().to_numpy(dtype=bool)
        if miss.any():
            idx = data.index[np.flatnonzero(miss)[0]]
            raise ClusterError(
                f"cluster variable {col!r} is missing on {int(miss.sum())} rows "
                f"(first at row {idx!r}). Choosing a vcov must not change the sample: "
                "fill the cluster ids or drop those rows before estimating."
            )


def require_ids(data: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`MissingIdError` for the first (column, role) with a missing id."""
    for col, role in columns:
        miss = data[col].isna().to_numpy(dtype=bool)
        if miss.any():
            idx = data.index[np.flatnonzero(miss)[0]]
            idx = idx.item() if isinstance(idx, np.generic) else idx
            raise MissingIdError(
                f"{role} column {col!r} is missing on {int(miss.sum())} rows (first at row "
                f"{idx!r}); drop or fill those rows first."
            )
