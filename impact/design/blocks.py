"""Adoption blocks of a balanced panel with an absorbing binary treatment: the outcome
matrix, never-treated units as donors, and the treated units grouped by the period they
start (the layout synthetic control and synthetic DiD estimate on)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.columns import check_columns
from impact.data.samplelog import SampleLog
from impact.errors import (
    ColumnTypeError,
    DuplicateRowsError,
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
    UnbalancedPanelError,
)

__all__ = ["AdoptionBlocks", "adoption_blocks"]


@dataclass(frozen=True)
class AdoptionBlocks:
    """Units x periods outcomes with never-treated units first.

    Attributes
    ----------
    Y : ndarray (N, T)
        Outcomes; rows ``:n_control`` are the never-treated units (donors), then the
        treated units ordered by adoption period.
    units : Index
        Unit labels in the row order of ``Y``.
    periods : Index
        Period labels (sorted) in the column order of ``Y``.
    adoption : ndarray (N,)
        Column index of each unit's first treated period; -1 for never-treated units.
    n_control : int
    sample_log : SampleLog
    X : ndarray (N, T, K)
        Covariates in the row order of ``Y`` (K = 0 without covariates).
    """

    Y: FloatArray
    units: pd.Index
    periods: pd.Index
    adoption: np.ndarray
    n_control: int
    sample_log: SampleLog
    X: FloatArray

    @property
    def cohorts(self) -> np.ndarray:
        """Adoption columns of the treated cohorts, ascending."""
        return np.unique(self.adoption[self.adoption >= 0])


def _check_roles(data: pd.DataFrame, roles: dict) -> None:
    """Distinct, unique, typed columns: numeric outcome, sortable time."""
    used = list(roles.values())
    if len(set(used)) < len(used):
        raise InvalidOptionError(f"y, unit, time and treatment must be different columns: {roles}.")
    y, time = data[roles["y"]], data[roles["time"]]
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        raise ColumnTypeError(f"outcome {roles['y']!r} must be numeric, got dtype {y.dtype}.")
    ordered = (
        pd.api.types.is_numeric_dtype(time)
        or pd.api.types.is_datetime64_any_dtype(time)
        or isinstance(time.dtype, pd.PeriodDtype)
    )
    if pd.api.types.is_bool_dtype(time) or not ordered:
        raise ColumnTypeError(
            f"time {roles['time']!r} must be numeric, datetime or Period (it orders the "
            f"periods), got dtype {time.dtype}."
        )
    units = data[roles["unit"]]
    if units.dtype == object and len({type(v) for v in units.dropna()}) > 1:
        raise ColumnTypeError(
            f"unit ids {roles['unit']!r} mix types ({sorted({type(v).__name__ for v in units})}):"
            " they must be comparable to be ordered."
        )


def _treatment_matrix(data: pd.DataFrame, unit: str, time: str, treatment: str, y: str):
    col = data[treatment]
    if col.isna().any():
        raise ImpactError(f"treatment {treatment!r} is missing on {int(col.isna().sum())} rows.")
    if not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
        raise ColumnTypeError(
            f"treatment column {treatment!r} must be 0/1 or boolean, got dtype {col.dtype}."
        )
    d = pd.to_numeric(col, errors="coerce").astype(float)
    bad = ~(d.isin([0.0, 1.0]))
    if bad.any():
        raise ColumnTypeError(
            f"treatment column {treatment!r} must be 0/1 (absorbing), got "
            f"{d[bad].iloc[0]!r} at row {data.index[int(np.flatnonzero(bad.to_numpy())[0])]!r}."
        )
    yv = pd.to_numeric(data[y], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(yv).all():
        n = int((~np.isfinite(yv)).sum())
        raise ImpactError(
            f"outcome {y!r} is missing or not finite on {n} rows: synthetic weights need every "
            "unit in every period (drop the units or impute first)."
        )
    key = data[[unit, time]]
    if key.isna().any().any():
        raise ImpactError(f"unit or time is missing on {int(key.isna().any(axis=1).sum())} rows.")
    dup = key.duplicated()
    if dup.any():
        raise DuplicateRowsError(
            f"{int(dup.sum())} rows repeat a ({unit}, {time}) pair, e.g. "
            f"{tuple(key[dup].iloc[0])!r}; one row per unit and period is needed."
        )
    frame = pd.DataFrame({
        "u": data[unit].to_numpy(), "t": data[time].to_numpy(),
        "y": yv, "d": d.to_numpy(),
    })  # fmt: skip
    Y = frame.pivot(index="u", columns="t", values="y").sort_index().sort_index(axis=1)
    if Y.isna().any().any():
        n_miss = int(Y.isna().sum().sum())
        raise UnbalancedPanelError(
            f"the panel is unbalanced ({n_miss} unit-period cells missing): synthetic DiD "
            "needs every unit observed in every period."
        )
    D = frame.pivot(index="u", columns="t", values="d").loc[Y.index, Y.columns]
    return Y, D


def _covariates(data, unit, time, covariates, index, columns) -> FloatArray:
    """(N, T, K) covariates in the layout of ``Y`` (numeric and finite everywhere)."""
    out = np.empty((len(index), len(columns), len(covariates)))
    for k, c in enumerate(covariates):
        v = pd.to_numeric(data[c], errors="coerce") if not pd.api.types.is_bool_dtype(
            data[c]) else data[c].astype(float)  # fmt: skip
        if not pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c]):
            raise ColumnTypeError(f"covariate {c!r} must be numeric, got dtype {data[c].dtype}.")
        if not np.isfinite(v.to_numpy(dtype=float)).all():
            raise ImpactError(f"covariate {c!r} is missing or not finite on some rows.")
        wide = pd.DataFrame({"u": data[unit].to_numpy(), "t": data[time].to_numpy(),
                             "v": v.to_numpy(dtype=float)}).pivot(index="u", columns="t",
                                                                  values="v")  # fmt: skip
        out[:, :, k] = wide.loc[index, columns].to_numpy()
    return out


def adoption_blocks(
    data: pd.DataFrame, *, y: str, unit: str, time: str, treatment: str,
    covariates: tuple[str, ...] | list[str] = (),
) -> AdoptionBlocks:  # fmt: skip
    """Validate a balanced panel with an absorbing 0/1 treatment and lay it out by
    adoption period.

    Units treated from the first period (no pre-treatment period) and cohorts with a
    single pre-treatment period (no noise level for the weights) are dropped and counted.

    Raises
    ------
    ColumnNotFoundError, ColumnTypeError, DuplicateRowsError, UnbalancedPanelError
    ImpactError
        A treatment that switches off (use :func:`impact.did_multiplegt`), or missing
        outcomes.
    EmptySampleError
        No treated unit or no never-treated unit.
    """
    check_columns(data, [y, unit, time, treatment, *covariates])
    _check_roles(data, {"y": y, "unit": unit, "time": time, "treatment": treatment})
    if len(data) == 0:
        raise EmptySampleError("the data frame has no rows: nothing can be estimated.")
    Y, D = _treatment_matrix(data, unit, time, treatment, y)
    Dm = D.to_numpy()
    if (np.diff(Dm, axis=1) < 0).any():
        who = Y.index[int(np.flatnonzero((np.diff(Dm, axis=1) < 0).any(axis=1))[0])]
        raise ImpactError(
            f"treatment {treatment!r} switches off (unit {who!r}): synthetic DiD needs an "
            "absorbing treatment; use impact.did_multiplegt for treatments that switch."
        )
    ever = Dm.max(axis=1) == 1
    adoption = np.where(ever, np.argmax(Dm == 1, axis=1), -1)
    log = SampleLog(n_initial=len(data))
    T = Dm.shape[1]
    early = ever & (adoption < 2)
    if early.any():
        always = int((adoption[early] == 0).sum())
        log = log.with_drop("always_treated", "treated in the first period (no pre-period)",
                            always * T)  # fmt: skip
        log = log.with_drop(
            "one_pre_period", "treated from the second period (one pre-period, no noise "
            "level for the weights)", (int(early.sum()) - always) * T,
        )  # fmt: skip
    keep = ~early
    if not (keep & ever).any():
        raise EmptySampleError("no treated unit with two or more pre-treatment periods.")
    if not (~ever).any():
        raise EmptySampleError(
            "no never-treated unit: synthetic control and synthetic DiD weight never-treated "
            "donors."
        )
    order = np.lexsort((np.arange(len(adoption)), adoption))  # never-treated (-1) first
    order = order[keep[order]]
    X = _covariates(data, unit, time, list(covariates), Y.index, Y.columns)
    return AdoptionBlocks(
        Y=Y.to_numpy()[order],
        units=Y.index[order],
        periods=Y.columns,
        adoption=adoption[order],
        n_control=int((~ever).sum()),
        sample_log=log,
        X=X[order],
    )
