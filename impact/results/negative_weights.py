"""The result of :func:`impact.twfe_weights`: TWFE's weights on treated cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.results.diagnostic_plots import plot_cell_weights
from impact.results.protocol import ModelInfo, ResultProtocol, finite_stats, tidy_frame

__all__ = ["TWFEWeightsResult", "WeightSummary"]

#: The inference label: the weights describe the point estimate only.
NO_INFERENCE = "none (weights of the TWFE point estimate)"


@dataclass(frozen=True)
class WeightSummary:
    """Counts and sums of the treated cells' weights by sign."""

    n_positive: int
    n_negative: int
    sum_positive: float
    sum_negative: float


@dataclass(frozen=True, eq=False)
class TWFEWeightsResult(ResultProtocol):
    """Weights of a static TWFE regression on its treated cells (de Chaisemartin &
    D'Haultfœuille 2020).

    Attributes
    ----------
    cells : DataFrame
        One row per treated observation: unit, time, ``weight`` (sums to 1).
    beta : float
        The TWFE coefficient of the treatment.
    summary_of_weights : WeightSummary
        Counts and sums of positive and negative weights.
    sigma_fe : float
        Smallest standard deviation of cell effects compatible with ``beta`` and a zero
        average effect (Corollary 1).
    sigma_sign_change : float
        Smallest standard deviation compatible with ``beta`` and every cell effect of the
        opposite sign (Corollary 2); NaN without negative weights.
    """

    cells: pd.DataFrame
    beta: float
    summary_of_weights: WeightSummary
    sigma_fe: float
    sigma_sign_change: float
    depvar: str
    treatment: str
    unit: str
    time: str
    nobs: int
    sample_log: SampleLog

    def tidy(self) -> pd.DataFrame:
        """The TWFE coefficient (no standard error) with the weight diagnostics as columns."""
        s = self.summary_of_weights
        return tidy_frame(
            [self.treatment], [self.beta], [np.nan], n_positive=[s.n_positive],
            n_negative=[s.n_negative], sum_negative=[s.sum_negative],
            sigma_fe=[self.sigma_fe], sigma_sign_change=[self.sigma_sign_change],
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        s = self.summary_of_weights
        return ModelInfo(
            depvar=self.depvar, nobs=self.nobs, vcov_label=NO_INFERENCE,
            fixef=(self.unit, self.time),
            stats=finite_stats(n_negative=s.n_negative, sigma_fe=self.sigma_fe),
        )  # fmt: skip

    def plot(self, ax: Any = None) -> Any:
        """Each treated observation's weight by period (negative weights below the line)."""
        return plot_cell_weights(self.cells, self.time, ax=ax)

    def summary(self) -> str:
        """Printable summary of the weights and the two robustness measures."""
        s = self.summary_of_weights
        n = s.n_positive + s.n_negative
        lines = [
            f"TWFE weights: {self.depvar} ~ {self.treatment} | {self.unit} + {self.time}",
            f"Coefficient: {self.beta:.6f}   Std. errors: {NO_INFERENCE}",
            f"Treated observations: {len(self.cells):,} ({n:,} with a non-zero weight)",
            f"Positive weights: {s.n_positive:,}, summing to {s.sum_positive:.4f}",
            f"Negative weights: {s.n_negative:,}, summing to {s.sum_negative:.4f}",
            f"sigma_fe (average effect could be 0): {self.sigma_fe:.4f}",
        ]
        if np.isfinite(self.sigma_sign_change):
            lines.append(
                f"sigma_fe_sign (every effect could have the other sign): "
                f"{self.sigma_sign_change:.4f}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
