"""The result of :func:`impact.pretrend_power` (Roth 2022)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.results.diagnostic_plots import plot_pretrend_power
from impact.results.protocol import ModelInfo, ResultProtocol, rel_time_term, tidy_frame

__all__ = ["PretrendPowerResult"]

#: The inference label: the rows are expected biases, not estimates with sampling error.
NO_INFERENCE = "none (expected bias under a hypothesised linear trend)"


@dataclass(frozen=True, eq=False)
class PretrendPowerResult(ResultProtocol):
    """Power of the pre-test against a linear violation and the bias it leaves.

    Attributes
    ----------
    slope : float
        The hypothesised trend per period: ``delta_k = slope (k - reference)``.
    power : float
        Probability that the pre-test (no pre-period coefficient individually significant
        at ``alpha``) rejects under that trend.
    target_power : float or None
        The power the slope was solved for (None when the slope was given).
    table : DataFrame
        Per event time: ``rel_time``, ``estimate``, ``std_error`` (the event study),
        ``trend`` (delta), ``expected_if_passed`` (E[coefficient | pre-test passed], under
        the trend and no effect: the pre-periods' truncated mean, the post-periods' bias),
        ``post``.
    mean_bias : float
        Average over post-periods of the expected bias given passing.
    mean_bias_unconditional : float
        The same without conditioning on the pre-test (the trend itself).
    """

    slope: float
    power: float
    target_power: float | None
    alpha: float
    reference: int
    table: pd.DataFrame
    source: str
    #: probability that the pre-test passes under the trend; when it is 0 in floating point
    #: (a trend far beyond the pre-periods' noise) the conditional quantities are NaN
    pass_probability: float = float("nan")

    @property
    def mean_bias(self) -> float:
        post = self.table[self.table["post"]]
        return float(np.mean(post["expected_if_passed"].to_numpy(dtype=float)))

    @property
    def mean_bias_unconditional(self) -> float:
        return float(np.mean(self.table.loc[self.table["post"], "trend"].to_numpy(dtype=float)))

    def tidy(self) -> pd.DataFrame:
        """One row per post-period: the expected bias given passing (``estimate``; no
        standard error), with the trend (unconditional bias) as a column."""
        post = self.table[self.table["post"]]
        return tidy_frame(
            [rel_time_term(k) for k in post["rel_time"]], post["expected_if_passed"],
            np.full(len(post), np.nan), trend=post["trend"].to_numpy(),
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.source, nobs=len(self.table), vcov_label=NO_INFERENCE,
            stats={"power": self.power, "slope": self.slope},
        )  # fmt: skip

    def plot(self, ax: Any = None) -> Any:
        """The event study with the hypothesised trend and the coefficients expected
        given that the pre-test passed (Roth 2022, Figure 1)."""
        return plot_pretrend_power(self.table, self.reference, self.slope, alpha=self.alpha, ax=ax)

    def summary(self) -> str:
        target = "" if self.target_power is None else f" (solved for power {self.target_power})"
        conditional = (
            f"{self.mean_bias:.6g} given that the pre-test passed"
            if np.isfinite(self.mean_bias)
            else "undefined given a pass (the pre-test passes with probability 0 in floating "
            "point against this trend)"
        )
        return (
            f"Pre-trend power (Roth 2022): {self.source}, reference period {self.reference}\n"
            f"Pre-test: no pre-period coefficient significant at {self.alpha}\n"
            f"Linear trend slope: {self.slope:.6g} per period{target}\n"
            f"Power of the pre-test against it: {self.power:.4f}\n"
            f"Average post-period bias: {self.mean_bias_unconditional:.6g} unconditionally, "
            f"{conditional}\n"
            f"Std. errors: {NO_INFERENCE}"
        )

    def __repr__(self) -> str:
        return self.summary()


def power_table(
    rel_time: np.ndarray, estimate: FloatArray, std_error: FloatArray, trend: FloatArray,
    expected: FloatArray, post: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """The per-event-time table of a :class:`PretrendPowerResult`."""
    return pd.DataFrame(
        {
            "rel_time": rel_time, "estimate": estimate, "std_error": std_error,
            "trend": trend, "expected_if_passed": expected, "post": post,
        }
    )  # fmt: skip
