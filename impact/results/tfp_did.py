"""The result of :func:`impact.tfp_did`: DiD on estimated TFP with two-stage inference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.results.att_gt import ATTgtResult
from impact.results.plotting import plot_event_study
from impact.results.protocol import (
    OVERALL,
    ModelInfo,
    ResultProtocol,
    rel_time_term,
    tidy_frame,
)

__all__ = ["TFPDiDResult"]


@dataclass(frozen=True, eq=False)
class TFPDiDResult(ResultProtocol):
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

    def _terms(self) -> list[str]:
        names = {"simple": OVERALL, "dynamic": f"{OVERALL} (dynamic)"}
        return [
            names.get(p, rel_time_term(int(p[2:])) if p.startswith("e=") else p)
            for p in self.table["parameter"]
        ]

    def tidy(self) -> pd.DataFrame:
        """Simple ATT (``ATT``), the dynamic average and the event-time effects
        (``rel_time::k``), with two-stage bootstrap SEs and percentile intervals."""
        t = self.table
        out = tidy_frame(self._terms(), t["estimate"], t["std_error"])
        return out.assign(conf_low=t["conf_low"].to_numpy(), conf_high=t["conf_high"].to_numpy())

    def model_info(self) -> ModelInfo:
        """Log productivity, the DiD's units, the two-stage bootstrap."""
        inner = self.att_gt.model_info()
        label = f"Two-stage firm-block bootstrap ({len(self.draws)} draws)"
        return ModelInfo(
            depvar=f"log TFP ({self.measure}, {self.method})",
            nobs=inner.nobs,
            vcov_label=label,
            stats=inner.stats,
        )

    def plot(self, ax: object = None) -> object:
        """The event-time effects with their percentile intervals; returns the Axes."""
        t = self.tidy()
        ev = t[t["term"].str.startswith("rel_time::")]
        rel = ev["term"].str.slice(len("rel_time::")).astype(int)
        frame = ev.assign(rel_time=rel.to_numpy())
        return plot_event_study(frame, ax=ax, labels=["TFP DiD"])

    def summary(self) -> str:
        """Printable summary."""
        head = (
            f"DiD on estimated log productivity ({self.measure}, production function: "
            f"{self.method}); inference: {self.model_info().vcov_label}"
        )
        coefs = ", ".join(f"{k} {v:.4f} ({self.coef_se[k]:.4f})" for k, v in self.coef.items())
        return "\n".join(
            [head, f"Elasticities: {coefs}", self.table.to_string(index=False, float_format="%.4f")]
        )

    def __repr__(self) -> str:
        return self.summary()
