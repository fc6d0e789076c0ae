"""Regression event studies (TWFE, Sun-Abraham, linear ETWFE) as linear maps of the
outcome, for the wild cluster bootstrap-t of :func:`impact.did_wildboot`.

Each is an OLS regression (TWFE and Sun-Abraham on event-time dummies with unit and
period effects absorbed; ETWFE pooled on cohort, period and cell dummies) followed by a
fixed linear aggregation of its coefficients (the identity for TWFE, cohort shares for
Sun & Abraham, observation shares for ETWFE). With the design fixed, the coefficients
``(X'X)^-1 X'y`` and the cluster sums of ``x_i e_i`` are linear in ``y``: each run partials
the fixed effects out of one outcome vector and multiplies. The cluster scores carry the
fit's small-sample factor, so their cross-product is the fit's variance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError, rerun_quietly
from impact.estimators.es_adapters import cluster_name
from impact.estimators.es_regressions import dummy_regression
from impact.estimators.etwfe import etwfe
from impact.estimators.linear_map import LinearEstimator, LinearRun, event_estimator
from impact.inference.clusters import cluster_sums
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects
from impact.results.etwfe_effects import event_time_weights
from impact.results.event_study import EventStudyResult

__all__ = ["REGRESSION_ESTIMATORS", "regression_estimator"]

#: Event-study estimators that are OLS regressions with a fixed aggregation.
REGRESSION_ESTIMATORS = ("twfe", "sun_abraham", "etwfe")


@dataclass(frozen=True)
class _Regression:
    """An OLS fit's design: partialled regressors ``Xd`` on the sample rows (positions
    ``rows`` in the data) with absorbed fixed effects ``fe``, and the aggregation ``agg``
    (rows of the reported table, one weight per coefficient)."""

    Xd: FloatArray
    fe: FixedEffects | None
    rows: np.ndarray
    agg: FloatArray
    factor: float  # the variance's small-sample factor (one-way clustering)


def _with_overall(W: FloatArray, rel: np.ndarray, window: tuple[int, int]) -> FloatArray:
    """The overall effect (the mean of event times 0 .. window end) then each event time
    inside the window, as weights on the coefficients."""
    keep = (rel >= window[0]) & (rel <= window[1])
    W, rel = W[keep], rel[keep]
    post = rel >= 0
    return np.vstack([(post / max(post.sum(), 1)) @ W, W])


def _dummy_design(fit: EventStudyResult, data: pd.DataFrame) -> _Regression:
    request = fit._request
    with rerun_quietly():
        reg = dummy_regression(data.reset_index(drop=True), request, fit.estimator)
    f = reg.fit
    agg = np.zeros((len(reg.rel_times), len(f.coef)))
    agg[:, [list(f.coef.index).index(n) for n in reg.names]] = reg.weights
    return _Regression(
        f._Xd, f._fe, np.asarray(f._row_index, dtype=np.intp),
        _with_overall(agg, reg.rel_times, request.window), float(f.small_sample.factors[0]),
    )  # fmt: skip


def _etwfe_design(fit: EventStudyResult, data: pd.DataFrame) -> _Regression:
    """The linear ETWFE regression refitted on ``data`` (as the event study fitted it), so
    that its design comes from the frame given, as for TWFE and Sun-Abraham."""
    r = fit._request
    if r.family != "linear":
        raise InvalidOptionError(
            "did_wildboot takes linear ETWFE fits (family='linear'): the Poisson model's "
            "effects are not linear in the outcome."
        )
    with rerun_quietly():
        et = etwfe(data, family="linear", control="never", fixed_effects=r.fixed_effects,
                   vcov=r.vcov, alpha=r.alpha, **r.design())  # fmt: skip
    lin = et._linear
    rel = et.cells["rel_time"].to_numpy()
    keys, W = event_time_weights(et._effects, rel, *r.window)
    return _Regression(
        lin.X, None, lin.rows, _with_overall(W @ et._effects.grad, keys, fit._request.window),
        float(lin.small.factors[0]),
    )  # fmt: skip


def regression_estimator(fit: EventStudyResult, data: pd.DataFrame) -> LinearEstimator:
    """The TWFE, Sun-Abraham or linear ETWFE event study ``fit`` as a map of outcome
    vectors over ``data`` (its own frame; one value per row)."""
    request = fit._request
    if request is None:
        raise InvalidOptionError("this event_study fit does not carry its call; refit it.")
    cl = cluster_name(request.vcov, request.unit)
    design = _etwfe_design(fit, data) if fit.estimator == "etwfe" else _dummy_design(fit, data)
    Xd, rows = design.Xd, design.rows
    if rows.size and rows.max() >= len(data):
        raise InvalidOptionError("data does not reproduce the fit: it has fewer rows.")
    codes, _ = pd.factorize(data[cl].to_numpy()[rows])
    row_cluster = np.full(len(data), -1)
    row_cluster[rows] = codes
    run = functools.partial(_ols_run, design, np.linalg.inv(Xd.T @ Xd), codes)
    return event_estimator(fit, run, row_cluster, int(codes.max()) + 1, cl,
                           data[request.unit].to_numpy())  # fmt: skip


def _ols_run(
    design: _Regression, A: FloatArray, codes: np.ndarray, values: FloatArray
) -> LinearRun:
    """The regression on one outcome vector (one value per data row): the aggregated
    coefficients and their cluster scores ``sqrt(factor) * sum_c x_i e_i`` through the
    aggregation, whose cross-product is the fit's clustered variance (``A`` is the
    inverse of the partialled regressors' cross-product)."""
    Xd, fe = design.Xd, design.fe
    y = values[design.rows][:, None]
    yd = (demean(y, fe).values if fe is not None else y)[:, 0]
    beta = A @ (Xd.T @ yd)
    contrib = (Xd * (yd - Xd @ beta)[:, None]) @ (A @ design.agg.T)
    root = float(np.sqrt(design.factor))
    scores = root * cluster_sums(contrib, codes, int(codes.max()) + 1)
    return LinearRun(design.agg @ beta, scores, root * np.sqrt(np.sum(contrib**2, axis=0)))
