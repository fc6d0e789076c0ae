"""Unit-by-period arrays of a staggered design (the sufficient layout of ATT(g,t) cells)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.design.staggered import StaggeredDesign, unit_constant

__all__ = ["StaggeredData", "wide_arrays"]


@dataclass(frozen=True)
class StaggeredData:
    """Unit-by-period arrays of the estimation sample, periods as grid positions."""

    y: FloatArray  # (n_units, n_periods), NaN where unobserved
    x: FloatArray  # (n_units, n_periods, k) covariates, NaN where unobserved
    cohort: FloatArray  # (n_units,), grid position, NaN = never treated
    pool: np.ndarray  # (n_units,) bool: may serve as control
    weights: FloatArray  # (n_units,)
    cluster: np.ndarray | None  # (n_units,) codes
    periods: np.ndarray  # (n_periods,) observed grid positions
    units: pd.Index
    cluster_labels: np.ndarray | None = None  # the cluster of each code


def wide_arrays(
    design: StaggeredDesign,
    data: pd.DataFrame,
    *,
    y: str,
    covariates: Sequence[str],
    cluster: str | None,
) -> StaggeredData:
    """Outcome and covariates in (unit, observed period) layout; cluster codes per unit.

    The cluster must be constant within units (its missing values were rejected by the
    design).
    """
    periods = design.positions
    n, T = design.n_units, len(periods)
    if len(periods) and periods[-1] - periods[0] + 1 == len(periods):  # no gap in the grid
        tpos = design.t - periods[0]
    else:
        tpos = np.searchsorted(periods, design.t)
    codes = design.unit_code
    # one flat (column-major) position per row, shared by the outcome and covariates
    flat = codes + n * tpos
    # every row of the frame is in the sample: its columns need no gather (rows are sorted)
    every_row = len(design.rows) == len(data)

    def sample(col: str) -> FloatArray:
        v = data[col].to_numpy(dtype=float)
        return v if every_row else v[design.rows]

    Y = np.full((n, T), np.nan, order="F")
    Y.reshape(-1, order="F")[flat] = sample(y)
    X = np.full((n, T, len(covariates)), np.nan, order="F")
    for j, c in enumerate(covariates):
        X[:, :, j].reshape(-1, order="F")[flat] = sample(c)
    cl = labels = None
    if cluster:
        values = data[cluster].to_numpy()
        raw = unit_constant(
            values if every_row else values[design.rows], codes, cluster, "cluster", design.units
        )
        cl, labels = pd.factorize(raw, sort=True)
    w = design.weights if design.weights is not None else np.ones(n)
    return StaggeredData(
        y=Y,
        x=X,
        cohort=design.unit_cohort,
        pool=design.pool,
        weights=np.asarray(w, dtype=float),
        cluster=cl,
        periods=periods,
        units=design.units,
        cluster_labels=None if labels is None else np.asarray(labels),
    )
