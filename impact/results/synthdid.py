"""Result of ``synthdid``: the estimate, its cohorts, the unit and time weights and the
standard synthetic-DiD plot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.errors import InvalidOptionError
from impact.results.protocol import OVERALL, ModelInfo, ResultProtocol, tidy_frame

__all__ = ["SynthDidResult"]

_NAMES = {"sdid": "Synthetic DiD", "sc": "Synthetic control", "did": "DiD"}


@dataclass(frozen=True, eq=False)
class SynthDidResult(ResultProtocol):
    """Result of :func:`impact.synthdid`.

    Attributes
    ----------
    estimate, std_error, conf_low, conf_high : float
        The average effect on the treated (cohorts weighted by treated unit-periods), its
        standard error (``vcov`` method) and normal interval.
    table : DataFrame
        One row per adoption cohort: ``cohort`` (first treated period), ``estimate``,
        ``weight`` (share of treated unit-periods), ``n_treated``, ``n_post``,
        ``n_pre``.
    unit_weights : DataFrame
        ``cohort``, ``unit``, ``weight``: each cohort's weights on the never-treated donors.
    time_weights : DataFrame
        ``cohort``, ``time``, ``weight``: each cohort's weights on its pre-treatment periods.
    replications : ndarray or None
        The placebo or bootstrap estimates, or the leave-one-out estimates (jackknife).
    paths : DataFrame
        ``cohort``, ``time``, ``treated``, ``synthetic``, ``time_weight``: every cohort's
        :meth:`trajectories`.
    """

    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    table: pd.DataFrame
    unit_weights: pd.DataFrame
    time_weights: pd.DataFrame
    method: str
    vcov: str | None
    n_units: int
    n_periods: int
    n_control: int
    alpha: float
    seed: int | None
    sample_log: SampleLog
    settings: Mapping[str, Any]
    replications: FloatArray | None = field(default=None, repr=False)
    paths: pd.DataFrame | None = field(default=None, repr=False)
    _units: pd.Index | None = field(default=None, repr=False)

    @property
    def treated_units(self) -> pd.Index:
        """The treated units' labels (all cohorts)."""
        return self._units[self.n_control :]

    @property
    def inference(self) -> str:
        """The standard error's method, in words."""
        if self.vcov is None:
            return "no standard error"
        n = 0 if self.replications is None else len(self.replications)
        return {
            "placebo": f"placebo ({n} replications, Arkhangelsky et al. Algorithm 4)",
            "bootstrap": f"unit bootstrap ({n} replications, Algorithm 2)",
            "jackknife": "fixed-weights jackknife over units (Algorithm 3)",
        }[self.vcov]

    def tidy(self) -> pd.DataFrame:
        """The overall effect (``ATT``), then one row per cohort (``cohort::g``, no SE)."""
        overall = tidy_frame([OVERALL], [self.estimate], [self.std_error], self.alpha)
        if len(self.table) < 2:
            return overall
        rows = tidy_frame([f"cohort::{g}" for g in self.table["cohort"]],
                          self.table["estimate"], np.full(len(self.table), np.nan),
                          self.alpha)  # fmt: skip
        return pd.concat([overall, rows], ignore_index=True)

    def model_info(self) -> ModelInfo:
        """Outcome, unit-periods, the inference, units."""
        return ModelInfo(
            depvar=str(self.settings.get("y", "")),
            nobs=self.n_units * self.n_periods,
            vcov_label=self.inference,
            clusters={},
            stats={"n_units": float(self.n_units), "n_control": float(self.n_control)},
            alpha=self.alpha,
        )

    def summary(self) -> str:
        """Estimate, inference, cohorts and the largest unit weights."""
        top = self.unit_weights.sort_values("weight", ascending=False).head(8)
        lines = [
            f"{_NAMES[self.method]} of {self.settings.get('y', 'the outcome')}: "
            f"{self.estimate:.6g} (SE {self.std_error:.6g}; {self.inference})",
            f"Units: {self.n_units} ({self.n_control} never-treated donors), periods: "
            f"{self.n_periods}",
            self.table.to_string(index=False),
            "Largest unit weights:",
            top.to_string(index=False),
        ]
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def trajectories(self, cohort: Any = None) -> pd.DataFrame:
        """Per period: the cohort's mean outcome (``treated``) and its synthetic control
        (``synthetic``: unit-weighted donors, shifted by the time-weighted pre-period gap
        as the estimator uses it), and the time weights."""
        tab = self.table
        g = tab["cohort"].iloc[0] if cohort is None else cohort
        if not (tab["cohort"] == g).any():
            raise InvalidOptionError(
                f"cohort {g!r} is not one of the result's cohorts {tab['cohort'].tolist()}."
            )
        rows = self.paths[self.paths["cohort"] == g]
        return rows.drop(columns="cohort").reset_index(drop=True)

    def plot(self, cohort: Any = None, ax: object = None) -> object:
        """The cohort's mean outcome and its synthetic control over time, the adoption
        period, and the time weights as bars at the bottom (the paper's figure)."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        tr = self.trajectories(cohort)
        g = self.table["cohort"].iloc[0] if cohort is None else cohort
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        c = sns.color_palette("colorblind", 3)
        x = tr["time"]
        x = (x.dt.to_timestamp() if isinstance(x.dtype, pd.PeriodDtype) else x).to_numpy()
        ax.plot(x, tr["treated"], color=c[0], label="treated")
        ax.plot(x, tr["synthetic"], color=c[1], linestyle="--", label="synthetic control")
        ax.axvline(x[int(np.flatnonzero((tr["time"] == g).to_numpy())[0])], color="0.5",
                   linewidth=0.8)  # fmt: skip
        lo, hi = ax.get_ylim()
        bars = tr["time_weight"].to_numpy()
        if bars.max() > 0:
            ax.bar(x, bars / bars.max() * 0.15 * (hi - lo), bottom=lo, color=c[2], alpha=0.5,
                   label="time weights")  # fmt: skip
        ax.set_ylim(lo, hi)
        ax.set_xlabel(str(self.settings.get("time", "period")))
        ax.set_ylabel(str(self.settings.get("y", "outcome")))
        ax.set_title(f"{_NAMES[self.method]}: {self.estimate:.3g} (SE {self.std_error:.3g})")
        ax.legend(frameon=False)
        sns.despine(ax=ax)
        return ax
