"""``impact.twfe_weights``: the weights of a static TWFE regression on its treated cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.columns import check_columns, missing_mask, require_ids
from impact.data.panel import Panel
from impact.design.checks import check_numeric
from impact.design.cohorts import zero_one
from impact.diagnostics.negative_weights import (
    sigma_fe,
    sigma_sign_change,
    summarize_weights,
)
from impact.errors import EmptySampleError
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects
from impact.results.negative_weights import TWFEWeightsResult

__all__ = ["twfe_weights"]

#: The residualised treatment's sum of squares relative to the treatment's: below this the
#: treatment is collinear with the unit and period effects (up to rounding).
COLLINEAR_RTOL = 1e-10


def twfe_weights(
    data: pd.DataFrame, *, y: str, unit: str, time: str, treatment: str
) -> TWFEWeightsResult:
    """Weights of ``y ~ treatment | unit + time`` on each treated cell, with the
    negative-weight diagnostics of de Chaisemartin & D'Haultfœuille (2020).

    Parameters
    ----------
    data : DataFrame
        Panel with one row per unit and period (balanced or not); never modified.
    y : str
        Numeric outcome (for the TWFE coefficient). Rows with a missing or infinite outcome
        or treatment are dropped (counted).
    unit, time : str
        The two fixed-effect dimensions (unit id and period).
    treatment : str
        0/1 (or boolean) treatment; it may switch on and off.

    Returns
    -------
    TWFEWeightsResult
        ``cells`` (unit, time, weight), the coefficient, the counts and sums of positive and
        negative weights, ``sigma_fe`` (Corollary 1: the smallest dispersion of cell effects
        under which the average effect could be zero) and ``sigma_sign_change`` (Corollary
        2: under which every cell effect could have the opposite sign; NaN without a
        negative weight).

    Notes
    -----
    ``sigma_fe`` uses the population standard deviation of the weights, as the paper's
    Corollary 1; the authors' ``twowayfeweights`` 2.x multiplies that standard deviation by
    ``sqrt(M / (M - 1))`` (M treated cells), which lowers its ``sigma_fe`` by that factor.

    Examples
    --------
    The TWFE coefficient of the minimum-wage rises in R did's county panel weighs 291 treated
    county-years; the authors' ``twowayfeweights`` (Python) finds the same 271 positive and 20
    negative weights, the negative ones summing to -0.0109, and the same sign-change bound.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> treated = mpdta["first.treat"] > 0
    >>> mpdta["post"] = (treated & (mpdta["year"] >= mpdta["first.treat"])).astype(int)
    >>> res = impact.twfe_weights(mpdta, y="lemp", unit="countyreal", time="year", treatment="post")
    >>> s = res.summary_of_weights
    >>> round(res.beta, 4), s.n_positive, s.n_negative, round(s.sum_negative, 4)
    (-0.0365, 271, 20, -0.0109)
    >>> round(res.sigma_sign_change, 3)
    0.852
    """
    check_columns(data, [y, unit, time, treatment])
    require_ids(data, [(unit, "unit id"), (time, "time")])
    check_numeric(data, [y], "outcome")
    d_all = zero_one(data[treatment], treatment, "treatment")
    panel = Panel(data, unit=unit, time=time)
    keep, log = missing_mask(data, [y, treatment], panel.sample_log)
    if not keep.any():
        raise EmptySampleError("no row has both a valid outcome and a treatment value.")
    fe = FixedEffects(
        (panel.unit_codes, panel.time_codes), (panel.n_units, int(panel.time_codes.max()) + 1),
        (unit, time), (pd.Index(panel.unit_labels), pd.RangeIndex(int(panel.time_codes.max()) + 1)),
    ).subset(keep)  # fmt: skip
    d = d_all[keep]
    yv = data[y].to_numpy(dtype=float)[keep]
    resid = demean(np.column_stack([d, yv]), fe).values
    e_d, e_y = resid[:, 0], resid[:, 1]
    treated = d == 1.0
    denom = float(e_d @ d)
    if not treated.any() or float(e_d @ e_d) <= COLLINEAR_RTOL * float(d @ d):
        raise EmptySampleError(
            f"{treatment!r} does not vary once unit and period effects are removed: TWFE "
            "has no coefficient to decompose."
        )
    beta = float(e_d @ e_y) / float(e_d @ e_d)
    n1 = int(treated.sum())
    w = e_d[treated] * n1 / denom  # mean 1 over the treated observations
    p = np.full(n1, 1.0 / n1)
    weight = p * w
    rows = np.flatnonzero(keep)[treated]
    cells = pd.DataFrame(
        {unit: data[unit].to_numpy()[rows], time: data[time].to_numpy()[rows], "weight": weight}
    )
    return TWFEWeightsResult(
        cells=cells, beta=beta, summary_of_weights=summarize_weights(weight),
        sigma_fe=sigma_fe(beta, w, p), sigma_sign_change=sigma_sign_change(beta, w, p),
        depvar=y, treatment=treatment, unit=unit, time=time, nobs=int(keep.sum()), sample_log=log,
    )  # fmt: skip
