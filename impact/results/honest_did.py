"""The result of :func:`impact.honest_did`: confidence intervals robust to bounded
violations of parallel trends, by the size of the bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.results.diagnostic_plots import plot_sensitivity
from impact.results.protocol import ModelInfo, ResultProtocol, tidy_frame

__all__ = ["HonestDiDResult"]


@dataclass(frozen=True, eq=False)
class HonestDiDResult(ResultProtocol):
    """Sensitivity of an event study's post-period effect to violations of parallel trends.

    Attributes
    ----------
    restriction : str
        ``"smoothness"``: the violation's second differences are at most ``M`` per period
        (``M = 0``: linear trends continue).
    table : DataFrame
        ``M``, ``lower``, ``upper``, ``estimate`` (the affine estimate the interval is
        centred on), ``half_length``, ``worst_bias``; first the original interval
        (``M`` NaN: parallel trends exactly).
    breakdown : float
        The largest ``M`` at which the interval excludes 0 (NaN if it includes 0 already
        at ``M = 0``), to within ``breakdown_resolution``.
    target : str
        The parameter (``l' tau_post``) in words.
    """

    restriction: str
    table: pd.DataFrame
    breakdown: float
    breakdown_resolution: float
    target: str
    alpha: float
    source: str
    nobs: int

    def tidy(self) -> pd.DataFrame:
        """One row per interval: term ``original`` or ``M=<value>``, the centre as
        ``estimate`` and the interval as ``conf_low``/``conf_high`` (no standard error: the
        robust intervals are not estimate +- z se)."""
        t = self.table
        terms = ["original" if np.isnan(m) else f"M={m:g}" for m in t["M"]]
        out = tidy_frame(terms, t["estimate"], np.full(len(t), np.nan), self.alpha, M=t["M"])
        out["conf_low"], out["conf_high"] = t["lower"].to_numpy(), t["upper"].to_numpy()
        return out

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.target, nobs=self.nobs,
            vcov_label=f"FLCI under {self.restriction} restrictions (Rambachan & Roth 2023)",
            stats={"breakdown": self.breakdown} if np.isfinite(self.breakdown) else {},
            alpha=self.alpha,
        )  # fmt: skip

    def plot(self, ax: Any = None) -> Any:
        """Intervals against ``M`` with the original one, the breakdown value marked."""
        return plot_sensitivity(self.table, self.breakdown, ax=ax)

    def summary(self) -> str:
        tab = self.table.to_string(index=False, float_format=lambda v: f"{v:.5f}")
        breakdown = (
            f"{self.breakdown:.4g} (resolution {self.breakdown_resolution:.2g})"
            if np.isfinite(self.breakdown)
            else "none: the interval includes 0 already at M = 0"
        )
        return (
            f"HonestDiD sensitivity ({self.restriction}), {self.source}: {self.target}\n"
            f"{int(100 * (1 - self.alpha))}% intervals; Std. errors: "
            f"{self.model_info().vcov_label}\n{tab}\nBreakdown M: {breakdown}"
        )

    def __repr__(self) -> str:
        return self.summary()
