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
        (``M = 0``: linear trends continue); ``"relative magnitudes"``: no post-period
        change exceeds ``Mbar`` times the largest pre-period change; either may carry
        ``+ positive/negative bias`` and ``+ increasing/decreasing``.
    table : DataFrame
        The bound (column named by ``bound``), ``lower``, ``upper``, ``estimate`` (FLCI:
        the affine estimate the interval is centred on; ARP: ``l' beta_post``),
        ``half_length`` and ``worst_bias`` (FLCI only), ``gaps`` (the ARP set is not an
        interval: ``lower``/``upper`` are its hull); first the original interval (bound
        NaN: parallel trends exactly). An empty ARP set (NaN ends) means the data reject
        the restriction itself. With several post-periods the moments that involve only
        pre-periods are left out of the test (as the R package's default), so a non-empty
        set does not certify that the pre-trends satisfy the restriction.
    breakdown : float
        The largest bound at which the interval excludes 0, to within
        ``breakdown_resolution``: NaN if it includes 0 already at bound 0 or the set is
        empty there (the data reject the restriction); inf if no bound up to the search's
        cap (1024 times its start) overturns it. ``breakdown_reading`` says which.
    bound : str
        ``"M"`` (smoothness) or ``"Mbar"`` (relative magnitudes).
    interval_method : str
        ``"FLCI"``, ``"ARP hybrid (C-LF)"`` or ``"ARP conditional"``.
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
    bound: str = "M"
    interval_method: str = "FLCI"
    breakdown_reading: str = ""

    def tidy(self) -> pd.DataFrame:
        """One row per interval: term ``original`` or ``M=<value>`` (``Mbar=``), the centre
        as ``estimate`` and the interval as ``conf_low``/``conf_high`` (no standard error:
        the robust intervals are not estimate +- z se)."""
        t, b = self.table, self.bound
        terms = ["original" if np.isnan(m) else f"{b}={m:g}" for m in t[b]]
        out = tidy_frame(terms, t["estimate"], np.full(len(t), np.nan), self.alpha, **{b: t[b]})
        out["conf_low"], out["conf_high"] = t["lower"].to_numpy(), t["upper"].to_numpy()
        return out

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.target, nobs=self.nobs,
            vcov_label=(
                f"{self.interval_method} under {self.restriction} (Rambachan & Roth 2023)"
            ),
            stats={"breakdown": self.breakdown} if np.isfinite(self.breakdown) else {},
            alpha=self.alpha,
        )  # fmt: skip

    def plot(self, ax: Any = None) -> Any:
        """Intervals against the bound with the original one, the breakdown value marked."""
        return plot_sensitivity(
            self.table, self.breakdown, ax=ax, bound=self.bound, method=self.interval_method
        )

    def summary(self) -> str:
        tab = self.table.to_string(index=False, float_format=lambda v: f"{v:.5f}")
        return (
            f"HonestDiD sensitivity ({self.restriction}), {self.source}: {self.target}\n"
            f"{100 * (1 - self.alpha):g}% intervals; Std. errors: "
            f"{self.model_info().vcov_label}\n{tab}\n"
            f"Breakdown {self.bound}: {self.breakdown_reading}"
        )

    def __repr__(self) -> str:
        return self.summary()
