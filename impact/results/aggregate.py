"""The aggregation of ATT(g,t): overall, by cohort, by period or by event time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.inference.clusters import influence_vcov
from impact.inference.wald import wald
from impact.results.plotting import plot_coefficients, plot_event_study
from impact.results.protocol import (
    OVERALL,
    ROW_TERMS,
    ModelInfo,
    ResultProtocol,
    rel_time_term,
    tidy_frame,
)

__all__ = ["AggregateResult"]


@dataclass(frozen=True, eq=False)
class AggregateResult(ResultProtocol):
    """An aggregation of ATT(g,t).

    Attributes
    ----------
    type : str
    estimate, std_error, conf_low, conf_high : float
        The overall parameter (for "dynamic": the average over event times >= 0; for
        "group": cohort-size-weighted average of cohort effects; for "calendar": the
        average over periods; for "simple": cohort-size-weighted average of post cells).
    table : DataFrame
        Per event time (``rel_time``) / cohort / period, or one row for "simple":
        ``estimate``, ``std_error``, ``conf_low``, ``conf_high`` (and the simultaneous
        band ``band_low``, ``band_high`` with a bootstrap).
    info : ModelInfo
        Outcome, units and the inference used (from the ATT(g,t) fit).
    """

    type: str
    estimate: float
    std_error: float
    conf_low: float
    conf_high: float
    table: pd.DataFrame
    influence: FloatArray = field(repr=False)
    critical_value: float | None = None
    table_influence: FloatArray | None = field(default=None, repr=False)
    cluster: np.ndarray | None = field(default=None, repr=False)
    #: the cluster of each code in ``cluster``; ``units``: the unit of each influence row
    cluster_labels: np.ndarray | None = field(default=None, repr=False)
    units: pd.Index | None = field(default=None, repr=False)
    #: units behind the influence rows when the rows are not units (engine fits)
    n_units: int | None = field(default=None, repr=False)
    info: ModelInfo | None = field(default=None, repr=False)
    alpha: float = 0.05
    #: the ATT(g,t) fit's base period ("varying" or "universal") and anticipation: a
    #: dynamic aggregation is an event study with reference -1 - anticipation only
    #: with a universal base period
    base_period: str | None = None
    anticipation: int = 0

    def tidy(self) -> pd.DataFrame:
        """The overall effect (``ATT``), then one row per event time (``rel_time::k``),
        cohort (``cohort::g``) or period (``time::t``)."""
        overall = tidy_frame([OVERALL], [self.estimate], [self.std_error], self.alpha)
        if self.type == "simple":
            return overall
        tab = self.table
        key = ROW_TERMS[self.type]
        terms = (
            [rel_time_term(k) for k in tab["rel_time"]]
            if key == "rel_time"
            else [f"{key}::{v}" for v in tab[key]]
        )
        rows = tidy_frame(terms, tab["estimate"], tab["std_error"], self.alpha)
        return pd.concat([overall, rows], ignore_index=True)

    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test (chi-square) that the dynamic aggregation's pre-treatment effects
        (event times before -anticipation) are zero.

        With a universal base period they are deviations from the reference period
        ``-1 - anticipation`` (itself not tested); with a varying base period they are
        period-to-period changes. Returns ``statistic``, ``df``, ``p_value`` and
        ``reference`` (NaN with a varying base).
        """
        if self.type != "dynamic" or self.table_influence is None:
            raise InvalidOptionError("pretrend_test() needs aggregate('dynamic').")
        tab = self.table
        pre = (tab["rel_time"] < -self.anticipation).to_numpy() & tab[
            "std_error"
        ].notna().to_numpy()
        if not pre.any():
            raise InvalidOptionError("the dynamic aggregation has no pre-treatment event time.")
        V = influence_vcov(self.table_influence[:, pre], self.cluster, self.n_units)
        out = wald(tab["estimate"].to_numpy(dtype=float)[pre], V, generalized=True).as_dict()
        universal = self.base_period == "universal"
        return {**out, "reference": float(-1 - self.anticipation) if universal else float("nan")}

    def model_info(self) -> ModelInfo:
        """Outcome, units, the inference used (from the ATT(g,t) fit)."""
        return self.info if self.info is not None else ModelInfo("", 0, "")

    def summary(self) -> str:
        """The overall effect, the inference used and the table."""
        info = self.model_info()
        head = (
            f"{self.type} aggregation of ATT(g,t) for {info.depvar or 'the outcome'}: "
            f"{self.estimate:.6g} (SE {self.std_error:.6g}), "
            f"{1 - self.alpha:.0%} CI [{self.conf_low:.6g}, {self.conf_high:.6g}]"
        )
        lines = [head, f"Inference: {info.vcov_label}"] if info.vcov_label else [head]
        if self.type != "simple":
            lines.append(self.table.to_string(index=False))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: object = None) -> object:
        """Dynamic: the event-study plot; otherwise estimates with intervals. Returns Axes."""
        if self.type == "dynamic":
            return plot_event_study(self, ax=ax, labels=[f"{self.type} aggregation"])
        return plot_coefficients(self.tidy(), ax=ax, title=self.model_info().depvar)
