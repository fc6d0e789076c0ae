"""The result of :func:`impact.randomization_test`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.results.protocol import ModelInfo, ResultProtocol

__all__ = ["RandomizationResult"]


@dataclass(frozen=True, eq=False)
class RandomizationResult(ResultProtocol):
    """Randomization test of a term under re-assignment of the programme across cells.

    Attributes
    ----------
    term : str
    estimate, std_error, statistic : float
        The estimator's own values on the observed assignment.
    p_value : float
        Share of assignments whose statistic is at least as extreme as the observed one:
        over all assignments under enumeration; ``(1 + #) / (1 + draws)`` with random
        draws (the observed assignment counted once), which keeps the test exact.
    statistic_used : {"t", "estimate"}
        The randomization distribution is of the t-statistic (studentized: robust when
        the sharp null fails but the average effect is zero) or of the estimate.
    alternative : {"two-sided", "greater", "less"}
    distribution : ndarray
        The statistic under each re-assignment (the observed one first under
        enumeration is not implied: the order is the enumeration's).
    draws : int
    enumerated : bool
    n_assignments : int
        Distinct assignments possible under the model (exact).
    n_cells, n_treated_cells : int
    assignment_model : str
        What makes the test exact: read it.
    notes : tuple of str
    """

    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    statistic_used: str
    alternative: str
    distribution: FloatArray
    draws: int
    enumerated: bool
    n_assignments: int
    n_cells: int
    n_treated_cells: int
    assignment_model: str
    depvar: str
    nobs: int
    notes: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        how = (
            f"all {self.draws} assignments (enumeration)"
            if self.enumerated
            else f"{self.draws} random assignments of {self.n_assignments:,}"
        )
        return f"randomization test ({self.statistic_used}, {self.alternative}; {how})"

    def tidy(self) -> pd.DataFrame:
        """One row: the estimator's estimate, standard error and statistic with the
        randomization p-value (no interval)."""
        return pd.DataFrame(
            {
                "term": [self.term], "estimate": [self.estimate],
                "std_error": [self.std_error], "statistic": [self.statistic],
                "p_value": [self.p_value], "conf_low": [np.nan], "conf_high": [np.nan],
            }
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        return ModelInfo(depvar=self.depvar, nobs=self.nobs, vcov_label=self.method)

    def summary(self) -> str:
        lines = [
            self.method,
            f"{self.term}: estimate {self.estimate:.6g}, statistic {self.statistic:.4f}, "
            f"randomization p = {self.p_value:.4f}",
            f"{self.n_treated_cells} of {self.n_cells} cells launched.",
            f"Assignment model: {self.assignment_model}",
            *self.notes,
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
