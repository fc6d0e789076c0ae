"""The result of :func:`impact.conley_taber`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.results.protocol import ModelInfo, ResultProtocol
from impact.results.wildboot import describe_draws

__all__ = ["ConleyTaberResult"]


@dataclass(frozen=True, eq=False)
class ConleyTaberResult(ResultProtocol):
    """Few-treated-cells inference (Conley & Taber 2011; Ferman & Pinto 2019).

    Attributes
    ----------
    estimate : float
        The cell-level imputation estimate: the mean over treated cell-periods of the
        cell-mean outcome net of cell and period effects fitted on untreated cell-periods.
    p_value : float
        Share of the error distribution at least as large in absolute value as the
        estimate (H0: no effect).
    conf_low, conf_high : float
        ``estimate -+ q`` with ``q`` the ``1 - alpha`` quantile of the absolute error:
        the values the symmetric test (the p-value's) does not reject.
    distribution : ndarray
        The estimate's error under each assignment of control cells to treated cells.
    correction : {"ferman_pinto", "none"}
    """

    estimate: float
    p_value: float
    conf_low: float
    conf_high: float
    alpha: float
    distribution: FloatArray
    draws: int
    enumerated: bool
    correction: str
    n_treated_cells: int
    n_control_cells: int
    n_periods: int
    depvar: str
    nobs: int
    notes: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        fix = (
            "Ferman-Pinto correction for cell sizes"
            if self.correction == "ferman_pinto"
            else "no correction for cell sizes"
        )
        how = describe_draws(self.draws, self.enumerated, "random assignments")
        if self.enumerated:
            how = f"all {self.draws} assignments of control cells (enumeration)"
        return f"Conley-Taber ({fix}; {how})"

    def tidy(self) -> pd.DataFrame:
        """One row ``ATT``: the estimate, the p-value and interval from the error
        distribution (no standard error)."""
        return pd.DataFrame(
            {
                "term": ["ATT"], "estimate": [self.estimate], "std_error": [np.nan],
                "statistic": [np.nan], "p_value": [self.p_value],
                "conf_low": [self.conf_low], "conf_high": [self.conf_high],
            }
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.depvar, nobs=self.nobs, vcov_label=self.method, alpha=self.alpha
        )

    def summary(self) -> str:
        level = round(100 * (1 - self.alpha))
        lines = [
            self.method,
            f"ATT of {self.depvar}: {self.estimate:.6g}, p = {self.p_value:.4f}, "
            f"{level}% interval [{self.conf_low:.6g}, {self.conf_high:.6g}]",
            f"{self.n_treated_cells} treated and {self.n_control_cells} control cells, "
            f"{self.n_periods} periods, {self.nobs:,} observations.",
            *self.notes,
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
