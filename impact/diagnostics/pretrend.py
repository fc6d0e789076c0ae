"""``impact.pretrend_power``: how much a passed pre-trend test is worth (Roth 2022)."""

from __future__ import annotations

from typing import Any

import numpy as np

from impact.diagnostics.event_coefficients import event_coefficients
from impact.diagnostics.pretrend_power import power_at_slope, slope_for_power
from impact.errors import InvalidOptionError
from impact.options import check_alpha, real_number
from impact.results.pretrend_power import PretrendPowerResult, power_table

__all__ = ["pretrend_power"]


def pretrend_power(
    result: Any,
    *,
    slope: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    reference: int | None = None,
) -> PretrendPowerResult:
    """Power of the pre-trend test against a linear violation of parallel trends.

    Give either ``slope`` (the power against ``delta_k = slope (k - reference)``) or
    ``power`` (the slope the test detects with that probability, e.g. 0.5 or 0.8). Either
    way the result holds the expected bias of every post-period coefficient, with and
    without conditioning on the pre-test having passed.

    Parameters
    ----------
    result
        An event study: :func:`impact.event_study` (any estimator but imputation, whose
        pre- and post-period coefficients have no joint covariance), an att_gt dynamic
        aggregation with ``base_period="universal"``, or a feols fit with
        ``i(rel_time, ref=...)`` dummies.
    slope, power : float
        Exactly one of them.
    alpha : float
        Level of the pre-test: it rejects if any pre-period coefficient is individually
        significant at this level (Roth 2022's test).
    reference : int, optional
        The reference event time of a feols fit (inferred from the dummies otherwise).

    Returns
    -------
    PretrendPowerResult

    References
    ----------
    Roth, J. (2022). Pretest with caution: event-study estimates after testing for
    parallel trends. American Economic Review: Insights, 4(3), 305-322.

    Examples
    --------
    The Callaway-Sant'Anna event study of R did's minimum-wage county panel: its pre-test would
    detect a linear trend of about 0.014 log points a year only half of the time.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> es = impact.event_study(mpdta, y="lemp", unit="countyreal", time="year",
    ...                         cohort="first.treat", estimator="cs", window=(-4, 3))
    >>> res = impact.pretrend_power(es, power=0.5)
    >>> round(res.slope, 3), round(res.power, 2)
    (0.014, 0.5)
    """
    if (slope is None) == (power is None):
        raise InvalidOptionError("give exactly one of slope= and power=.")
    alpha = check_alpha(alpha)
    coef = event_coefficients(result, reference)
    if slope is None:
        power = real_number("power", power)
        slope = slope_for_power(coef, power, alpha)
    slope = real_number("slope", slope)
    at = power_at_slope(coef, slope, alpha)
    expected = at.trend.copy()
    expected[coef.pre] = at.pre_mean
    expected[coef.post] = at.bias
    table = power_table(
        coef.rel_time, coef.estimate, np.sqrt(np.diag(coef.vcov)), at.trend, expected,
        coef.post,
    )  # fmt: skip
    return PretrendPowerResult(
        slope=slope, power=at.power, target_power=power, alpha=alpha,
        reference=coef.reference, table=table, source=coef.source, pass_probability=at.p_pass,
    )  # fmt: skip
