"""The result of :func:`impact.bacon`: TWFE's 2x2 comparisons, their weights and estimates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.results.diagnostic_plots import plot_bacon
from impact.results.protocol import ModelInfo, ResultProtocol, tidy_frame

__all__ = ["BaconResult"]

#: The inference label: a decomposition of a point estimate has no sampling variance here.
NO_INFERENCE = "none (decomposition of the TWFE point estimate)"


@dataclass(frozen=True, eq=False)
class BaconResult(ResultProtocol):
    """Goodman-Bacon decomposition of a TWFE DiD coefficient.

    Attributes
    ----------
    pairs : DataFrame
        One row per 2x2 comparison with positive weight: ``treated`` and ``control``
        (the group's first treated period, ``"never"`` or ``"always"``), ``type``,
        ``estimate``, ``weight``.
    by_type : DataFrame
        ``type``, ``weight`` (sum) and ``estimate`` (weighted mean) per comparison type.
    twfe : float
        The TWFE coefficient (equal to the weighted sum of ``pairs``, plus, with
        covariates, the within component's weight times its estimate).
    covariates : tuple of str
        The controls of the controlled decomposition (empty: none).
    within : (float, float, float) or None
        With covariates: ``Omega`` (the within-timing-group share, the first row of
        ``by_type``), ``beta_within`` and ``beta_between`` (Goodman-Bacon 2021, eq. 25);
        ``pairs`` then holds one 2x2 per pair of timing groups, weights summing to
        ``1 - Omega``.
    """

    pairs: pd.DataFrame
    by_type: pd.DataFrame
    twfe: float
    depvar: str
    treatment: str
    unit: str
    time: str
    n_units: int
    n_periods: int
    sample_log: SampleLog
    covariates: tuple[str, ...] = ()
    within: tuple[float, float, float] | None = None

    @property
    def nobs(self) -> int:
        return int(self.n_units * self.n_periods)

    def tidy(self) -> pd.DataFrame:
        """The TWFE coefficient (term: the treatment) and each type's weighted mean
        estimate (term: the type), with the type's total ``weight``; no standard errors."""
        terms = [self.treatment, *self.by_type["type"]]
        est = [self.twfe, *self.by_type["estimate"]]
        weight = [1.0, *self.by_type["weight"]]
        return tidy_frame(terms, est, np.full(len(terms), np.nan), weight=weight)

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.depvar, nobs=self.nobs, vcov_label=NO_INFERENCE,
            fixef=(self.unit, self.time), stats={"n_units": float(self.n_units)},
        )  # fmt: skip

    def plot(self, ax: Any = None) -> Any:
        """Each 2x2 estimate against its weight, one marker per type, TWFE as a line."""
        return plot_bacon(self.pairs, self.twfe, ax=ax)

    def summary(self) -> str:
        """Printable summary: the sums by type and the TWFE coefficient."""
        tab = self.by_type.to_string(index=False, float_format=lambda v: f"{v:.5f}")
        rhs = " + ".join([self.treatment, *self.covariates])
        total = self.pairs["weight"].sum() + (self.within[0] if self.within else 0.0)
        return (
            f"Goodman-Bacon decomposition: {self.depvar} ~ {rhs} | {self.unit} + "
            f"{self.time}\nUnits: {self.n_units:,}   Periods: {self.n_periods}   "
            f"Std. errors: {NO_INFERENCE}\n{tab}\nTWFE coefficient: {self.twfe:.7f} "
            f"({len(self.pairs)} comparisons; weights sum to {total:.6f})"
        )

    def __repr__(self) -> str:
        return self.summary()
