"""Poisson pseudo-maximum likelihood inside a query engine: separation checks and IRLS.

The same algorithm as :mod:`impact.linear.poisson`, each step written in the engine
primitives so that the rows never leave the engine:

* fixed-effect separation: ``GROUP BY`` each dimension, keep the groups whose outcome
  sums to more than zero, sweep the singletons, until nothing changes;
* the ReLU separation check: weighted least squares of ``u`` on the regressors and the
  fixed effects by the two-pass Schur fit (:func:`~impact.linear.engine_schur.engine_twfe`),
  the fitted values ``u - e`` computed row-wise and their signs counted;
* IRLS: each iteration is one Schur fit of the working response with weights ``w mu``;
  the new linear predictor ``z - e`` is kept by the engine
  (:meth:`~impact.engine.base.Engine.materialize`) and the deviance is one sum.

The driver receives the small tables of the Schur fit and a handful of sums per
iteration. ``log(y)`` is computed once with ``log(1) = 0`` on zero outcomes, so the
deviance's ``y log(y / mu)`` is exact (``0 log 0 = 0``) without a conditional expression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from impact._typing import BoolArray, FloatArray
from impact.engine.base import Engine
from impact.engine.expressions import expression
from impact.errors import ConvergenceError
from impact.linear.demean import DEMEAN_TOL
from impact.linear.engine_fit import literal
from impact.linear.engine_sample import (
    INTERNAL,
    LONG_EXPRESSION,
    EngineSample,
    keep_groups,
    singleton_sweep,
)
from impact.linear.engine_schur import EngineFit, FixedEffectLayout, engine_twfe
from impact.linear.poisson import IRLS_MAXITER, IRLS_TOL, RELU_MAXITER, RELU_TOL

__all__ = [
    "EnginePoissonFit",
    "engine_fe_separation",
    "engine_poisson_irls",
    "engine_relu_separation",
    "log_factorial_expression",
    "with_log_outcome",
]

#: Internal columns of the Poisson steps.
ETA = f"{INTERNAL}eta"
LOG_Y = f"{INTERNAL}ly"
_Z, _WM, _U, _W, _ZERO = (f"{INTERNAL}{s}" for s in ("pz", "pwm", "ru", "rw", "r0"))
_FIT, _UP, _DOWN, _SEP = (f"{INTERNAL}{s}" for s in ("rf", "rup", "rdn", "sep"))
#: The Stirling series of log Gamma(z) is used at z = x + 1 + SHIFT and brought down by
#: the recurrence: at z >= 9 its terms to z^-11 leave an error below 3e-15.
STIRLING_SHIFT = 8
#: B_2k / (2k (2k - 1)) for k = 1..6.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)


def log_factorial_expression(column: str) -> str:
    """An expression of ``log Gamma(column + 1)`` for ``column >= 0`` in the engine grammar.

    ``log Gamma(x + 1) = log Gamma(x + 9) - sum_{j=1..8} log(x + j)`` with the Stirling
    series ``(z - 1/2) log z - z + log(2 pi) / 2 + sum_k c_k z^(1 - 2k)`` at ``z = x + 9``
    (absolute error below 3e-15; query engines have no common log-gamma function).
    """
    x = f"({column})"
    z = f"({x} + {STIRLING_SHIFT + 1})"
    series = [f"({c!r}) / {z} ** {2 * k - 1}" for k, c in enumerate(_STIRLING, start=1)]
    head = f"({z} - 0.5) * log({z}) - {z} + {0.5 * math.log(2 * math.pi)!r}"
    tail = [f"log({x} + {j})" for j in range(1, STIRLING_SHIFT + 1)]
    return " + ".join([head, *series]) + " - " + " - ".join(tail)


def with_log_outcome(engine: Engine, src: Any, y: str) -> Any:
    """``src`` with :data:`LOG_Y`: ``log(y)``, and 0 where ``y`` is zero."""
    flagged = engine.flag(src, y, "==", 0.0, _ZERO)
    return engine.with_columns(flagged, {LOG_Y: f"log({y} + {_ZERO})"})


def engine_fe_separation(
    engine: Engine,
    src: Any,
    y: str,
    fixef: tuple[tuple[str, ...], ...],
    n: int,
    *,
    drop_singletons: bool,
) -> tuple[Any, int, dict[str, int]]:
    """Remove fixed-effect groups whose outcome is zero on every row (then singletons,
    when asked), until nothing changes, as :func:`impact.linear.poisson.fe_separation`.

    Returns the rows kept, their number and the rows removed per dimension (and
    ``"singletons"``).
    """
    names = ["^".join(f) for f in fixef]
    per_dim = dict.fromkeys([*names, "singletons"], 0)
    changed = True
    while changed:
        changed = False
        for name, keys in zip(names, fixef, strict=True):
            kept, m = keep_groups(engine, src, keys, y, ">", 0.0)
            if m < n:
                per_dim[name] += n - m
                src, n, changed = kept, m, True
        if drop_singletons and n:
            src, m, _ = singleton_sweep(engine, src, fixef, n)
            if m < n:
                per_dim["singletons"] += n - m
                n, changed = m, True
    return src, n, per_dim


def engine_relu_separation(
    engine: Engine,
    sample: EngineSample,
    layout: FixedEffectLayout,
    *,
    tol: float = RELU_TOL,
    maxiter: int = RELU_MAXITER,
    fixef_tol: float = DEMEAN_TOL,
) -> tuple[Any, int]:
    """The rows not separated by the regressors (ReLU method), and how many were.

    As :func:`impact.linear.poisson.relu_separation`: least squares of ``u`` on the
    regressors and fixed effects with weight 1 on zero outcomes and ``n0 / tol^2`` on
    positive ones, ``u`` replaced by the positive part of the fit on zero outcomes until
    the fit is non-negative there; fitted values below ``tol`` in absolute value are zero.
    The regressions are least squares of minimum norm, with no collinearity test (which,
    under these weights, would drop the very regressor that separates).

    Raises
    ------
    ConvergenceError
        No settled fit after ``maxiter`` iterations.
    """
    src = sample.source
    cols = engine.columns(src)
    n0 = engine.count(engine.where(src, sample.y, "==", 0.0))
    if n0 == 0 or not sample.x:
        return src, 0
    big = n0 / tol**2
    flagged = engine.flag(src, sample.y, "==", 0.0, _ZERO)
    # the check ignores the analytic weights, as in memory (separation is about support)
    weights = f"{_ZERO} + {literal(big)} * (1 - {_ZERO})"
    base = engine.materialize(engine.with_columns(flagged, {_W: weights, _U: _ZERO}))
    keep = [*cols, _ZERO, _W, _U]
    for _ in range(maxiter):
        step = replace(sample, source=base, y=_U, weights=_W)
        # least squares of minimum norm, as in memory: a collinearity test would drop the
        # separating regressor under these weights (1 against n0 / tol^2)
        fit = engine_twfe(
            engine, step, layout=layout, statistics=False, fixef_tol=fixef_tol, least_norm=True
        )
        fitted = engine.with_columns(fit.scored, {_FIT: f"{_U} - {INTERNAL}e"})
        fitted = engine.flag(fitted, _FIT, ">=", tol, _UP)
        fitted = engine.flag(fitted, _FIT, "<=", -tol, _DOWN)
        signs = engine.group_sums(
            fitted, [], {"down": f"{_ZERO} * {_DOWN}", "up": f"{_ZERO} * {_UP}"}, count=None
        )
        if float(signs["down"].iloc[0]) == 0.0:
            n_sep = round(float(signs["up"].iloc[0]))
            if n_sep == 0:
                for table in (base, *fit.tables):
                    engine.release(table)
                return src, 0
            marked = engine.with_columns(fitted, {_SEP: f"{_ZERO} * {_UP}"})
            kept = engine.materialize(engine.select(engine.where(marked, _SEP, "==", 0.0), cols))
            for table in (base, *fit.tables):
                engine.release(table)
            return kept, n_sep
        update = {_U: f"{_ZERO} * {_FIT} * {_UP}"}
        stepped = engine.materialize(engine.select(engine.with_columns(fitted, update), keep))
        for table in (base, *fit.tables):
            engine.release(table)
        base = stepped
    raise ConvergenceError(
        f"the separation check (ReLU method) did not settle in {maxiter} iterations."
    )


@dataclass(frozen=True)
class EnginePoissonFit:
    """Converged IRLS in an engine.

    Attributes
    ----------
    beta : ndarray
        Kept regressors' coefficients.
    keep : ndarray of bool
    reasons : list of str
    final : EngineFit
        The weighted within regression at the final means (bread, scores ``X~ w (y - mu)``).
    rows : engine source
        The sample with the linear predictor :data:`ETA` (offset included) and :data:`LOG_Y`.
    deviance : float
    iterations : int
    ybar : float
        Weighted mean of the outcome (the constant-mean model).
    """

    beta: FloatArray
    keep: BoolArray
    reasons: list[str]
    final: EngineFit
    rows: Any
    deviance: float
    iterations: int
    ybar: float


def _deviance(engine: Engine, rows: Any, y: str, w: str) -> float:
    dev = f"2 * {w}({y} * ({LOG_Y} - {ETA}) - ({y} - exp({ETA})))"
    return float(engine.group_sums(rows, [], {"dev": dev}, count=None)["dev"].iloc[0])


def engine_poisson_irls(
    engine: Engine,
    sample: EngineSample,
    layout: FixedEffectLayout,
    offset: str | None,
    *,
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    fixef_tol: float = DEMEAN_TOL,
) -> EnginePoissonFit:
    """Fit the Poisson model by IRLS in the engine, as
    :func:`impact.linear.poisson.poisson_irls` (start ``mu = (y + ybar) / 2``, deviance
    convergence, collinearity settled at the first step).

    ``offset`` is an expression of the offset column (or None).

    Raises
    ------
    ConvergenceError
        Fitted means overflow, or no convergence in ``maxiter`` iterations.
    EmptySampleError
        Every regressor is collinear with the fixed effects.
    """
    y = sample.y
    w = f"{sample.weights} * " if sample.weights else ""
    sums = engine.group_sums(
        sample.source, [], {"sy": f"{w}{y}", "sw": sample.weights or "1"}, count=None
    )
    ybar = float(sums["sy"].iloc[0]) / float(sums["sw"].iloc[0])
    start = {ETA: f"log(({y} + {literal(ybar)}) / 2)"}
    logged = with_log_outcome(engine, sample.source, y)
    rows = engine.materialize(engine.with_columns(logged, start))
    cols = engine.columns(rows)
    off = f" - ({offset})" if offset else ""
    working = {
        _Z: expression(f"{ETA}{off} + ({y} - exp({ETA})) / exp({ETA})", max_length=LONG_EXPRESSION),
        _WM: expression(f"{w}exp({ETA})", max_length=LONG_EXPRESSION),
    }
    update = expression(
        f"{_Z} - {INTERNAL}e" + (f" + ({offset})" if offset else ""), max_length=LONG_EXPRESSION
    )
    dev_old = _deviance(engine, rows, y, w)
    step = replace(sample, y=_Z, weights=_WM)
    keep: BoolArray | None = None
    reasons: list[str] = []
    for it in range(1, maxiter + 1):
        step = replace(step, source=engine.with_columns(rows, working))
        fit = engine_twfe(
            engine, step, layout=layout, detect_collinear=keep is None, statistics=False,
            fixef_tol=fixef_tol,
        )  # fmt: skip
        if keep is None:
            keep, reasons = fit.keep, fit.reasons
            step = replace(step, x=tuple(c for c, k in zip(step.x, keep, strict=True) if k))
        stepped = engine.materialize(
            engine.select(engine.with_columns(fit.scored, {ETA: update}), cols)
        )
        for table in (rows, *fit.tables):
            engine.release(table)
        rows = stepped
        dev = _deviance(engine, rows, y, w)
        if not np.isfinite(dev):
            raise ConvergenceError(
                "Poisson IRLS diverged (fitted means overflow); check for separation or "
                "extreme regressor values."
            )
        change = abs(dev - dev_old) / (0.1 + abs(dev))
        if change < tol:
            # the variance needs the within regressors weighted by the final means
            step = replace(step, source=engine.with_columns(rows, working))
            score = f"{w}({y} - exp({ETA}))"
            final = engine_twfe(
                engine, step, layout=layout, detect_collinear=False, score=score,
                fixef_tol=fixef_tol,
            )  # fmt: skip
            return EnginePoissonFit(fit.beta, keep, reasons, final, rows, dev, it, ybar)
        dev_old = dev
    raise ConvergenceError(
        f"Poisson IRLS did not converge in {maxiter} iterations (relative deviance change "
        f"{change:.2e} > {tol:g})."
    )
