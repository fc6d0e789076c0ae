"""``impact.contamination_weights``: what each coefficient of a TWFE event study averages
(Sun & Abraham 2021, Proposition 3).

The coefficient ``mu_k`` of the relative-time dummy (bin) ``k`` in
``y ~ sum_k mu_k D^k | unit + time`` equals, in the population and without noise,
``sum over cohort-event-time cells (e, l) of w^k_{e,l} CATT_{e,l}``, where ``w^k_{e,l}`` is
the coefficient on ``D^k`` when the cell's indicator ``1{E_i = e, t - E_i = l}`` is
regressed on the same dummies and effects. So ``mu_k`` mixes its own cells (weights summing
to 1), the cells of every other bin (weights summing to 0 per bin: contamination unless
effects are homogeneous across cohorts) and the reference event time (weights summing to
-1: anticipation leaks in). All weights come from one residualisation of the dummies and
cell sums of the residuals: ``W = (X~'X~)^{-1} [sum over the cell's rows of X~]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact.design.event_times import check_window, require_comparison, require_reference
from impact.design.staggered import staggered_design
from impact.errors import EmptySampleError, SampleDropWarning
from impact.linear.demean import demean
from impact.linear.fixed_effects import FixedEffects
from impact.results.contamination import ContaminationResult

__all__ = ["contamination_weights"]

#: A dummy whose residual sum of squares is below this share of its own is collinear with
#: the unit and period effects and the other dummies.
COLLINEAR_RTOL = 1e-10


def _require_identified(xtx: np.ndarray, X: np.ndarray, levels: np.ndarray) -> None:
    """The dummies, once the unit and period effects are absorbed, must be linearly
    independent: otherwise the event study is not identified (without never-treated units
    and with every event time in its own dummy, a linear trend in event time is
    indistinguishable from the period effects) and no weights exist."""
    scale = np.sqrt(np.maximum(X.sum(axis=0), 1.0))
    eig = np.linalg.eigvalsh(xtx / np.outer(scale, scale))
    if eig[0] > COLLINEAR_RTOL * max(eig[-1], 1e-300):
        return
    raise EmptySampleError(
        f"the {len(levels)} event-time dummies are collinear with the unit and period effects "
        "(e.g. no never-treated units and no binned window end, or every unit treated at "
        "once): the TWFE event study is not identified and has no weights. Bin the window "
        "(a window narrower than the data pools the event times beyond its ends) or add "
        "never-treated units."
    )


def contamination_weights(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    window: Sequence[int] = (-5, 5),
    reference: int = -1,
    y: str | None = None,
    control_pool: str | None = None,
    never_treated: float | None = None,
    freq: str | None = None,
) -> ContaminationResult:
    """Sun & Abraham's (2021) weights of every TWFE event-study coefficient on the
    cohort-by-event-time effects, with the contamination by other event times.

    The event study is :func:`impact.event_study`'s ``estimator="twfe"``: one dummy per
    event time of ``window`` but ``reference``, event times beyond the window pooled into
    its end points, never-treated units at the reference, unit and period effects.

    Parameters
    ----------
    data : DataFrame
        Panel (balanced or not); never modified.
    unit, time, cohort : str
        As :func:`impact.event_study` (cohort: first treated period, NaN/0/inf or
        ``never_treated`` for never-treated units).
    window : (int, int)
        First and last event time with its own dummy (ends binned).
    reference : int
        The omitted event time.
    y : str, optional
        Outcome: restricts the sample to its rows (as the regression would) and adds the
        event-study coefficients, which equal the weighted sums of the cell effects.
    control_pool, never_treated, freq
        As :func:`impact.event_study`.

    Returns
    -------
    ContaminationResult
        ``weights``: one row per coefficient and cohort-event-time cell (``coefficient``,
        ``cohort``, ``rel_time``, ``weight``, ``role``: own / other / reference);
        ``summary``: per coefficient the sums by role, the largest absolute weight on
        another bin, the count of negative own weights.

    References
    ----------
    Sun, L., & Abraham, S. (2021). Estimating dynamic treatment effects in event studies
    with heterogeneous treatment effects. Journal of Econometrics, 225(2), 175-199.

    Examples
    --------
    The TWFE event study of R did's minimum-wage county panel: its coefficients equal pyfixest's
    ``lemp ~ i(rel_time, ref=-1) | countyreal + year``; each weighs its own event time's effects
    by 1, but the coefficient at event time 2 also weighs another event time's effects by 0.33.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> res = impact.contamination_weights(mpdta, unit="countyreal", time="year",
    ...                                    cohort="first.treat", window=(-4, 3), y="lemp")
    >>> coef = res.by_coefficient.set_index("coefficient")
    >>> coef["estimate"].round(4).tolist()
    [0.0035, 0.0246, 0.0234, -0.0181, -0.0435, -0.1318, -0.0922]
    >>> coef["own"].round(6).tolist(), round(float(coef.loc[2, "largest_other"]), 2)
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.33)
    """
    window_, ref = check_window(window, reference)
    design = staggered_design(
        data, unit=unit, time=time, cohort=cohort, outcomes=[y] if y else [],
        control_pool=control_pool, never_treated=never_treated, freq=freq,
    )  # fmt: skip
    for note in design.notes:  # e.g. cohorts after the last period read as never treated
        warnings.warn(f"contamination_weights: {note}", SampleDropWarning, stacklevel=2)
    g, t, grid = design.g, design.t, design.grid
    require_comparison(g, grid)
    treated = ~np.isnan(g)
    rel = np.where(treated, t - np.nan_to_num(g), np.nan)
    binned = np.where(treated, np.clip(rel, *window_), ref)
    require_reference(g[treated], binned[treated], ref, grid)
    levels = np.unique(binned[binned != ref]).astype(int)
    if not len(levels):
        raise EmptySampleError("no treated row outside the reference event time: no dummy.")
    X = (binned[:, None] == levels[None, :]).astype(float)
    fe = FixedEffects(
        (design.unit_code, t), (design.n_units, int(grid.size)), (unit, time),
        (pd.Index(design.units), pd.RangeIndex(int(grid.size))),
    )  # fmt: skip
    fe = fe.subset(np.ones(len(t), dtype=bool))  # drop unobserved periods' levels
    cols = [X] + ([data[y].to_numpy(dtype=float)[design.rows][:, None]] if y else [])
    R = demean(np.column_stack(cols), fe).values
    Xr = R[:, : len(levels)]
    xtx = Xr.T @ Xr
    _require_identified(xtx, X, levels)
    # cells: (cohort, event time) of treated rows
    cells = pd.DataFrame({"g": g[treated], "rel": rel[treated].astype(int)})
    codes, uniques = pd.MultiIndex.from_frame(cells).factorize()
    sums = np.zeros((len(uniques), len(levels)))
    np.add.at(sums, codes, Xr[treated])
    W = np.linalg.solve(xtx, sums.T)  # (coefficients, cells)
    coef = np.linalg.solve(xtx, Xr.T @ R[:, -1]) if y else None
    cell_g = np.array([u[0] for u in uniques])
    cell_rel = np.array([u[1] for u in uniques], dtype=int)
    cell_bin = np.clip(cell_rel, *window_)
    return ContaminationResult.build(
        W, levels, cell_g=[grid.label(c) for c in cell_g], cell_rel=cell_rel,
        cell_bin=cell_bin, reference=ref, coefficients=coef, nobs=len(t),
        n_units=design.n_units, sample_log=design.sample_log, depvar=y,
    )  # fmt: skip
