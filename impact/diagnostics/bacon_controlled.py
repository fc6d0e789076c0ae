"""The controlled Goodman-Bacon decomposition: TWFE with time-varying covariates
(Goodman-Bacon 2021, Section 5).

Pure functions of a balanced panel's arrays. By Frisch-Waugh, the coefficient of
``y ~ D + X | unit + time`` is ``sum d y / sum d^2`` with ``d`` the residual of the two-way
demeaned treatment on the two-way demeaned covariates. ``d`` splits into two orthogonal
parts: its timing-group-by-period means ``dbar_{k,t}`` (between timing groups) and the
deviations of units from them (within timing groups, variation that only the covariates
create). So

    beta = Omega * beta_within + (1 - Omega) * beta_between,   Omega = sum d_w^2 / sum d^2,

and ``beta_between``, a regression of group-period outcome means on ``dbar`` with group
and period effects, is a weighted average of one 2x2 DiD per pair of timing groups
``(k, l)``: ``sum_t Delta_t (ybar_kt - ybar_lt) / sum_t Delta_t^2`` with
``Delta_t = dbar_kt - dbar_lt``, weighted by ``n_k n_l sum_t Delta_t^2``. With covariates
the two timings of a pair (earlier vs later, later vs earlier) are no longer separable:
each pair has one estimate over all periods.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.engine.kernels import group_sums
from impact.errors import CollinearityWarning, EmptySampleError
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects

__all__ = ["CONTROLLED_TYPES", "WITHIN", "ControlledBacon", "controlled_decomposition"]

#: Pair types of the controlled decomposition and the within-timing-group component.
CONTROLLED_TYPES = (
    "treated vs never treated",
    "earlier vs later treated (both timings)",
    "later vs always treated",
    "always vs never treated",
)
WITHIN = "within timing groups (covariates)"
#: Sums of squares at or below this share of the treatment's are zero up to rounding.
_FLOOR = 1e-12
#: A demeaned covariate whose norm is below this share of its spread is absorbed by the
#: effects; also the relative singular-value cut-off of the covariates' fit.
ABSORBED_RTOL = 1e-9


@dataclass(frozen=True)
class ControlledBacon:
    """``pairs`` (group positions ``treated``/``control``, ``type``, ``estimate``,
    ``weight`` summing to ``1 - omega``), the within component and the TWFE coefficient."""

    pairs: pd.DataFrame
    omega: float
    beta_within: float
    beta_between: float
    twfe: float


def _fitted(Xt: FloatArray, X: FloatArray, Dt: FloatArray, names: Sequence[str]) -> FloatArray:
    """Least-squares fit of the demeaned treatment on the demeaned covariates, without the
    covariates the unit and period effects absorb (dropped with a warning, as feols)."""
    norms = np.linalg.norm(Xt, axis=0)
    spread = np.linalg.norm(X - X.mean(axis=0), axis=0)
    live = norms > ABSORBED_RTOL * np.maximum(spread, 1e-300)
    if not live.all():
        gone = [n for n, ok in zip(names, live, strict=True) if not ok]
        warnings.warn(
            f"covariates {gone} are absorbed by the unit and period effects (constant within "
            "units or periods): dropped.",
            CollinearityWarning,
            stacklevel=4,
        )
    if not live.any():
        return np.zeros_like(Dt)
    Xs = Xt[:, live] / norms[live]
    coef, *_ = np.linalg.lstsq(Xs, Dt, rcond=ABSORBED_RTOL)
    return Xs @ coef


def _pair_type(start_k: int, start_l: int, n_periods: int) -> str:
    if start_l == n_periods:
        return CONTROLLED_TYPES[3] if start_k == 0 else CONTROLLED_TYPES[0]
    return CONTROLLED_TYPES[2] if start_k == 0 else CONTROLLED_TYPES[1]


def controlled_decomposition(
    y: FloatArray,
    D: FloatArray,
    X: FloatArray,
    unit: IntArray,
    period: IntArray,
    group_of_unit: IntArray,
    starts: IntArray,
    names: Sequence[str],
) -> ControlledBacon:
    """Decompose ``y ~ D + X | unit + time`` on a balanced panel.

    Parameters
    ----------
    y, D : ndarray (n,)
        Outcome and 0/1 treatment of every unit-period.
    X : ndarray (n, q)
        Covariates.
    unit, period : ndarray of int (n,)
        Codes ``0 .. n_units - 1`` and ``0 .. n_periods - 1``; every pair once.
    group_of_unit : ndarray of int (n_units,)
        Timing group of each unit (position in ``starts``).
    starts : ndarray of int (G,)
        First treated period of each group: 0 always treated, ``n_periods`` never.
    names : sequence of str
        The covariates' names (for the warning about absorbed ones).
    """
    n_u, n_t, n_g = len(group_of_unit), int(period.max()) + 1, len(starts)
    fe = FixedEffects(
        (unit, period), (n_u, n_t), ("unit", "period"), (pd.RangeIndex(n_u), pd.RangeIndex(n_t))
    )
    R = demean(np.column_stack([D, X]), fe).values  # unit and period effects absorbed
    Dt = R[:, 0]
    d = Dt - _fitted(R[:, 1:], X, Dt, names)
    ss = float(d @ d)
    if ss <= _FLOOR * max(float(Dt @ Dt), 1e-300):
        raise EmptySampleError(
            "the treatment is a linear function of the covariates and the unit and period "
            "effects: TWFE with these covariates has no coefficient to decompose."
        )
    cell = group_of_unit[unit] * n_t + period
    counts = np.bincount(group_of_unit, minlength=n_g).astype(float)
    means = group_sums(cell, n_g * n_t, np.column_stack([d, y])) / np.repeat(counts, n_t)[:, None]
    dbar, ybar = means[:, 0].reshape(n_g, n_t), means[:, 1].reshape(n_g, n_t)
    dw = d - dbar.ravel()[cell]
    ss_w = float(dw @ dw)
    omega = ss_w / ss
    beta_w = float(dw @ y) / ss_w if ss_w > _FLOOR * ss else float("nan")
    shares = counts / n_u
    ss_b = float(shares @ (dbar**2).sum(axis=1))
    beta_b = float(shares @ (dbar * ybar).sum(axis=1)) / ss_b if ss_b > 0 else float("nan")
    order = np.argsort(starts)
    rows = []
    for a, k in enumerate(order):
        for l_ in order[a + 1 :]:
            delta = dbar[k] - dbar[l_]
            s2 = float(delta @ delta)
            if s2 <= _FLOOR * ss_b:
                continue
            est = float(delta @ (ybar[k] - ybar[l_])) / s2  # symmetric in (k, l)
            kind = _pair_type(starts[k], starts[l_], n_t)
            treated, control = (l_, k) if kind == CONTROLLED_TYPES[2] else (k, l_)
            rows.append((int(treated), int(control), kind, est, shares[k] * shares[l_] * s2))
    pairs = pd.DataFrame(rows, columns=["treated", "control", "type", "estimate", "weight"])
    if len(pairs):
        pairs["weight"] = pairs["weight"] / pairs["weight"].sum() * (1.0 - omega)
    twfe = float(d @ y) / ss
    return ControlledBacon(pairs, omega, beta_w, beta_b, twfe)
