"""The result of :func:`impact.tfp_did`: DiD on estimated TFP with two-stage inference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.results.att_gt import ATTgtResult

__all__ = ["TFPDiDResult"]


@dataclass(frozen=True, eq=False)
class TFPDiDResult:
    """Staggered DiD on estimated productivity.

    Attributes
    ----------
    table : DataFrame
        ``parameter`` (``"simple"``, ``"dynamic"`` (average over the event times),
        ``"e=0"``, ...), ``estimate``, ``std_error_naive``
        (att_gt's influence-function SE, productivity taken as known),
        ``std_error`` (two-stage firm-block bootstrap), ``conf_low``/``conf_high``
        (95% percentile interval of the draws).
    coef, coef_se : Series
        Production-function elasticities and their bootstrap SEs (same draws).
    att_gt : ATTgtResult
        The point-estimate DiD (for its tables, pre-trend test and plots).
    productivity : Series
        The DiD outcome (log productivity), aligned to the input frame.
    draws : ndarray (n_ok, 2 + n_event_times)
        Bootstrap draws of the table's estimates.
    n_failed : int
    method, measure : str
    seed : int
    sample_log : SampleLog
        Rows dropped by the production-function step (the DiD's own drops are in
        ``att_gt``).
    """

    table: pd.DataFrame
    coef: pd.Series
    coef_se: pd.Series
    att_gt: ATTgtResult
    productivity: pd.Series
    draws: np.ndarray
    n_failed: int
    method: str
    measure: str
    seed: int
    sample_log: SampleLog | None = None

    @property
    def estimate(self) -> float:
        """Simple (cohort-size weighted) ATT on log productivity."""
        return float(self.table.loc[0, "estimate"])

    @property
    def std_error(self) -> float:
        """Its two-stage bootstrap SE."""
        return float(self.table.loc[0, "std_error"])

    def summary(self) -> str:
        """Printable summary."""
        head = (
            f"DiD on estimated log productivity ({self.measure}, production function: "
            f"{self.method}); {len(self.draws)} two-stage bootstrap draws"
        )
        coefs = ", ".join(f"{k} {v:.4f} ({self.coef_se[k]:.4f})" for k, v in self.coef.items())
        return "\n".join(
            [head, f"Elasticities: {coefs}", self.table.to_string(index=False, float_format="%.4f")]
        )

    def __repr__(self) -> str:
        return self.summary()
