"""``impact.bacon``: the Goodman-Bacon decomposition of a TWFE DiD on a user's panel.

Validates the panel (balanced, binary absorbing treatment), forms the timing groups and
their period means (one group-by of sums), and hands them to
:mod:`impact.diagnostics.bacon_weights`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact.data.columns import check_columns, missing_mask, require_ids
from impact.data.keys import show
from impact.data.panel import Panel
from impact.design.checks import check_numeric
from impact.design.cohorts import first_treated, period_label
from impact.diagnostics.bacon_controlled import WITHIN, controlled_decomposition
from impact.diagnostics.bacon_weights import (
    bacon_pairs,
    demeaned_treatment_variance,
    sums_by_type,
    twfe_from_means,
)
from impact.engine.kernels import group_sums, group_weights
from impact.errors import EmptySampleError, InvalidOptionError, UnbalancedPanelError
from impact.results.bacon import BaconResult

__all__ = ["bacon"]

#: The two-way demeaned treatment's variance is a sum of products of shares in [0, 1]: at
#: or below this it is zero up to rounding (the treatment is collinear with the effects).
VARIANCE_FLOOR = 1e-12


def bacon(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    covariates: Sequence[str] | None = None,
) -> BaconResult:
    """Decompose the TWFE coefficient of ``y ~ treatment | unit + time`` into 2x2 DiDs.

    Parameters
    ----------
    data : DataFrame
        A balanced panel, one row per unit and period; never modified.
    y : str
        Numeric outcome. Rows with a missing or infinite value are dropped (counted); the
        panel must still be balanced.
    unit, time : str
        Unit id and period columns (periods: integers, dates or pandas Periods).
    treatment : str
        0/1 (or boolean) treatment status, absorbing: once 1, a unit stays treated.
        Units treated in the first period are always treated; units never treated in the
        data are the never-treated group.
    covariates : sequence of str, optional
        Time-varying controls: decomposes ``y ~ treatment + covariates | unit + time``
        (Goodman-Bacon 2021, Section 5) into the variation within timing groups that the
        covariates create (type ``"within timing groups (covariates)"``, weight Omega)
        and one 2x2 DiD per pair of timing groups over all periods. Rows with a missing
        covariate are dropped (counted); the panel must still be balanced.

    Returns
    -------
    BaconResult
        Every 2x2 comparison (``pairs``), the sums by type (``by_type``), the TWFE
        coefficient; the weights sum to one and the weighted estimates to the coefficient.

    Raises
    ------
    UnbalancedPanelError
        A unit is not observed (with a valid outcome) in every period: the decomposition
        is an identity of the balanced panel only. Balance the panel, or use the
        heterogeneity-robust estimators (``att_gt``, ``event_study``), which need no balance.
    EmptySampleError
        No unit changes treatment status (nothing to decompose).

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in treatment timing.
    Journal of Econometrics, 225(2), 254-277.

    Examples
    --------
    The TWFE coefficient of the minimum-wage rises on teen employment in R did's county panel,
    -0.0365, decomposed; diff-diff's ``bacon_decompose`` gives the same weights and estimates by
    comparison type.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> treated = mpdta["first.treat"] > 0
    >>> mpdta["post"] = (treated & (mpdta["year"] >= mpdta["first.treat"])).astype(int)
    >>> res = impact.bacon(mpdta, y="lemp", unit="countyreal", time="year", treatment="post")
    >>> round(res.twfe, 4)
    -0.0365
    >>> res.by_type.round(4)
                           type  weight  estimate
    0  treated vs never treated  0.8628   -0.0407
    1  earlier vs later treated  0.0833   -0.0198
    2  later vs earlier treated  0.0539    0.0046
    """
    controls = _covariates(covariates, [y, unit, time, treatment])
    check_columns(data, [y, unit, time, treatment, *controls])
    require_ids(data, [(unit, "unit id"), (time, "time")])
    check_numeric(data, [y], "outcome")
    check_numeric(data, controls, "covariate")
    cohort = first_treated(
        data, unit=unit, time=time, member=treatment, allow_exit=False,
        fix="impact.twfe_weights decomposes TWFE for treatments that switch off.",
    ).to_numpy()  # fmt: skip
    panel = Panel(data, unit=unit, time=time)
    keep, log = missing_mask(data, [y, *controls], panel.sample_log)
    periods = np.unique(panel.period[keep])
    _check_balanced(panel, keep, periods, "outcome and covariates" if controls else "outcome")
    n_units, n_periods = panel.n_units, len(periods)
    first_row = np.full(n_units, -1)
    first_row[panel.unit_codes[::-1]] = np.arange(len(data))[::-1]
    unit_cohort = cohort[first_row]
    start = np.where(
        np.isnan(unit_cohort), n_periods, np.searchsorted(periods, np.nan_to_num(unit_cohort))
    )
    starts, group = np.unique(start, return_inverse=True)
    if not np.any((starts > 0) & (starts < n_periods)):
        raise EmptySampleError(
            f"no unit changes {treatment!r} within the data: every unit is always or never "
            "treated, so there is no DiD to decompose."
        )
    cell = group[panel.unit_codes[keep]] * n_periods + np.searchsorted(periods, panel.period[keep])
    size = len(starts) * n_periods
    ybar = (
        group_sums(cell, size, data[y].to_numpy(dtype=float)[keep])
        / group_weights(cell, size, None)
    ).reshape(len(starts), n_periods)
    shares = np.bincount(group, minlength=len(starts)) / n_units
    if demeaned_treatment_variance(starts, shares, n_periods) <= VARIANCE_FLOOR:
        raise EmptySampleError(
            f"{treatment!r} is collinear with the unit and period effects (one timing group "
            "and no never- or always-treated units): TWFE has no coefficient to decompose."
        )
    labels = _group_labels(data[time].to_numpy()[keep], panel.period[keep], periods, starts)
    if controls:
        rows = np.flatnonzero(keep)
        t_idx = np.searchsorted(periods, panel.period[keep])
        u_idx = panel.unit_codes[keep]
        dec = controlled_decomposition(
            data[y].to_numpy(dtype=float)[rows], (t_idx >= starts[group[u_idx]]).astype(float),
            data[list(controls)].to_numpy(dtype=float)[rows], u_idx, t_idx, group, starts,
            controls,
        )  # fmt: skip
        pairs, twfe = dec.pairs, dec.twfe
        by_type = sums_by_type(pairs)
        if np.isfinite(dec.beta_within):  # no within variation: no row (weight 0)
            within = pd.DataFrame(
                {"type": [WITHIN], "weight": [dec.omega], "estimate": [dec.beta_within]}
            )
            by_type = pd.concat([within, by_type], ignore_index=True)
    else:
        pairs = bacon_pairs(ybar, starts, shares)
        twfe = twfe_from_means(ybar, starts, shares)
        by_type = sums_by_type(pairs)
    pairs["treated"] = [labels[g] for g in pairs["treated"]]
    pairs["control"] = [labels[g] for g in pairs["control"]]
    return BaconResult(
        pairs=pairs, by_type=by_type, twfe=twfe, depvar=y, treatment=treatment, unit=unit,
        time=time, n_units=n_units, n_periods=n_periods, sample_log=log,
        covariates=tuple(controls),
        within=(dec.omega, dec.beta_within, dec.beta_between) if controls else None,
    )  # fmt: skip


def _covariates(covariates: object, taken: list[str]) -> tuple[str, ...]:
    if covariates is None:
        return ()
    if isinstance(covariates, str) or not all(isinstance(c, str) for c in covariates):  # type: ignore[union-attr]
        raise InvalidOptionError(f"covariates must be a list of column names, got {covariates!r}.")
    out = tuple(dict.fromkeys(covariates))  # type: ignore[arg-type]
    clash = [c for c in out if c in taken]
    if clash:
        raise InvalidOptionError(
            f"covariates {clash} are the outcome, unit, time or treatment column."
        )
    return out


def _check_balanced(panel: Panel, keep: np.ndarray, periods: np.ndarray, what: str) -> None:
    counts = np.bincount(panel.unit_codes[keep], minlength=panel.n_units)
    short = np.flatnonzero(counts < len(periods))
    if not len(short):
        return
    u = short[0]
    seen = panel.period[keep & (panel.unit_codes == u)]
    n_missing = len(np.setdiff1d(periods, seen))
    raise UnbalancedPanelError(
        f"the Goodman-Bacon decomposition needs a balanced panel: {len(short)} of "
        f"{panel.n_units} units lack a period with a valid {what} (e.g. unit "
        f"{show(panel.unit_labels[u])} in {n_missing} of {len(periods)} periods). Keep only "
        "the units observed in every period, or use a heterogeneity-robust estimator "
        "(impact.att_gt or impact.event_study), which needs no balance."
    )


def _group_labels(times, period_numbers, periods, starts) -> list[str]:
    """'never', 'always' or the user's label of the group's first treated period."""
    n_periods = len(periods)
    first = pd.Series(np.arange(len(period_numbers))).groupby(period_numbers).first()
    out = []
    for s in starts:
        if s == n_periods:
            out.append("never")
        elif s == 0:
            out.append("always")
        else:
            value = times[int(first[periods[s]])]
            if isinstance(value, float | np.floating) and float(value).is_integer():
                value = int(value)
            out.append(period_label(value))
    return out
