"""A fit's estimator as a linear map of the outcome: the types the wild cluster
bootstrap-t of :mod:`impact.estimators.did_wildboot` runs, and the check that a frame
reproduces a fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError

__all__ = [
    "NOT_SAME",
    "SAME_FIT_RTOL",
    "LinearEstimator",
    "LinearRun",
    "event_estimator",
    "same_values",
]


@dataclass(frozen=True)
class LinearRun:
    """One run: ``estimate`` (m,), cluster ``scores`` (G, m) with variance ``S'S``, and
    ``scale`` (m,), the root sum of squares of the single-unit or single-observation
    terms (a clustered standard error below a tiny share of it is rounding noise)."""

    estimate: FloatArray
    scores: FloatArray
    scale: FloatArray


@dataclass(frozen=True)
class LinearEstimator:
    """A fit's estimator as a map of outcome vectors (one value per row of ``data``).

    ``row_cluster`` holds each row's cluster code (-1: not in the sample); ``overall``
    says the first term is an average of the others (left out of the sup-t band).
    ``fixed_effects`` is a ``category^time`` interaction of the first stage, if any;
    ``covariates`` are time-varying regressors of the estimator (they join the
    bootstrap's model).
    """

    run: Callable[[FloatArray], LinearRun]
    terms: list[str]
    row_cluster: np.ndarray
    n_clusters: int
    cluster: str
    n_units: int
    call: dict[str, Any]
    overall: bool
    estimator: str
    fixed_effects: str | None = None
    covariates: tuple[str, ...] = ()
    #: the fit's own estimates and standard errors (NaN: not checked), which the run on
    #: the fit's frame must reproduce
    reported: FloatArray | None = None
    reported_se: FloatArray | None = None


#: Re-running the fit's call on ``data`` must reproduce its estimates to this tolerance.
SAME_FIT_RTOL = 1e-9


#: The message when ``data`` is not the fit's frame.
NOT_SAME = (
    "data does not reproduce the fit (another frame, or changed since): pass the frame the "
    "fit was estimated on."
)


def same_values(a: FloatArray, b: FloatArray) -> bool:
    """Equal within :data:`SAME_FIT_RTOL` of the larger magnitude (NaN equals NaN)."""
    scale = np.nanmax(np.abs(b), initial=1.0)
    return bool(np.allclose(a, b, rtol=SAME_FIT_RTOL, atol=SAME_FIT_RTOL * scale, equal_nan=True))


def event_estimator(
    fit: Any,
    run: Callable[[FloatArray], LinearRun],
    row_cluster: np.ndarray,
    n_clusters: int,
    cluster: str,
    units: np.ndarray,
) -> LinearEstimator:
    """An event study's :class:`LinearEstimator` (rows: the overall effect, then the
    event times; the fit's estimates and standard errors to reproduce).

    ``row_cluster`` and ``units`` hold each data row's cluster code (-1: not sampled) and
    unit.

    Raises
    ------
    InvalidOptionError
        The cluster column changes within units: the bootstrap multiplies a unit's
        whole residual path by its cluster's weight.
    """
    request = fit._request
    sampled = row_cluster >= 0
    if (pd.Series(row_cluster[sampled]).groupby(units[sampled]).nunique() > 1).any():
        raise InvalidOptionError(
            f"cluster column {cluster!r} changes within units: the bootstrap multiplies each "
            "unit's residual path by its cluster's weight, so clusters must contain whole "
            "units (the unit or coarser)."
        )
    call = {
        "y": request.y, "unit": request.unit, "time": request.time, "cohort": request.cohort,
        "never_treated": request.never_treated,
    }  # fmt: skip
    tidy = fit.tidy()
    return LinearEstimator(
        run=run, terms=list(tidy["term"]), row_cluster=row_cluster, n_clusters=n_clusters,
        cluster=cluster, n_units=fit.n_units, call=call, overall=True,
        estimator=fit.estimator, fixed_effects=request.fixed_effects,
        covariates=tuple(request.covariates),
        reported=tidy["estimate"].to_numpy(dtype=float),
        reported_se=tidy["std_error"].to_numpy(dtype=float),
    )  # fmt: skip
