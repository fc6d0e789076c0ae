"""Result of :func:`impact.etwfe`: cell effects, aggregations, delta-method variances."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.grid import PeriodGrid
from impact.errors import InvalidOptionError
from impact.inference.intervals import interval
from impact.inference.ssc import SmallSample
from impact.results.etwfe_effects import (
    CellEffects,
    aggregate_effects,
    cell_effects,
    event_time_effects,
    ratio_effects,
)
from impact.results.plotting import plot_att_gt, plot_coefficients, plot_event_study
from impact.results.protocol import ROW_TERMS, ModelInfo, ResultProtocol, rel_time_term, tidy_frame

__all__ = ["ETWFEAggregate", "ETWFEResult", "EtwfeLinearDesign"]


@dataclass(frozen=True, eq=False)
class ETWFEAggregate(ResultProtocol):
    """An aggregation of ETWFE cell effects.

    Attributes
    ----------
    type : {"simple", "group", "calendar", "dynamic"}
    table : DataFrame
        ``key`` ("ATT" for simple; cohort, period or event time), ``estimate``,
        ``std_error``, ``conf_low``, ``conf_high`` (levels), ``ratio``, ``ratio_se``
        (proportional; NaN for the linear family).
    info : ModelInfo
    """

    type: str
    table: pd.DataFrame
    info: ModelInfo
    alpha: float = 0.05

    def tidy(self) -> pd.DataFrame:
        """Level effects: ``ATT`` (simple), or ``cohort::g``, ``time::t``, ``rel_time::k``."""
        t = self.table
        if self.type == "simple":
            terms = ["ATT"]
        elif self.type == "dynamic":
            terms = [rel_time_term(k) for k in t["key"]]
        else:
            terms = [f"{ROW_TERMS[self.type]}::{k}" for k in t["key"]]
        return tidy_frame(terms, t["estimate"], t["std_error"], self.alpha)

    def model_info(self) -> ModelInfo:
        return self.info

    def __getitem__(self, key: object) -> object:
        raise InvalidOptionError(
            f"an ETWFE aggregation is a result, not a DataFrame: use .table[{key!r}] (the "
            "former return value) or .tidy()."
        )

    def summary(self) -> str:
        """The table and the inference used."""
        return f"ETWFE {self.type} aggregation ({self.info.vcov_label})\n" + self.table.to_string(
            index=False
        )

    def plot(self, ax: object = None) -> object:
        """Dynamic: the event-study plot; otherwise estimates with intervals."""
        if self.type == "dynamic":
            frame = self.table.rename(columns={"key": "rel_time"})
            return plot_event_study(frame, ax=ax, labels=["ETWFE"])
        return plot_coefficients(self.tidy(), ax=ax, title=self.info.depvar)


@dataclass(frozen=True)
class EtwfeLinearDesign:
    """A linear etwfe fit's regressors (kept columns) of each cell, each observation's
    cell ``codes`` and position ``rows`` in the data, and its variance's small-sample
    numbers."""

    cell_X: FloatArray
    codes: np.ndarray
    rows: np.ndarray
    small: SmallSample

    @property
    def X(self) -> FloatArray:
        """The regressors of each observation (rows in the order of ``rows``)."""
        return self.cell_X[self.codes]


@dataclass(frozen=True, eq=False)
class ETWFEResult(ResultProtocol):
    """Extended TWFE effects: per-cell and aggregated, in levels and proportional.

    Attributes
    ----------
    family, control : str
    cells : DataFrame
        ``cohort``, ``period``, ``rel_time``, ``n`` (observations), ``estimate``,
        ``std_error``, ``conf_low``, ``conf_high`` (ATT in levels: average partial
        effect on the treated), ``ratio``, ``ratio_se`` (proportional effect
        ``E[Y(1)] / E[Y(0)] - 1`` on the treated; NaN for the linear family).
    coef : Series
        All coefficients (intercept, cell indicators, cohort and period dummies).
    vcov : ndarray
    n_obs, n_units : int
    sample_log : SampleLog
    depvar : str
    """

    family: str
    control: str
    cells: pd.DataFrame
    coef: pd.Series
    vcov: FloatArray
    n_obs: int
    n_units: int
    sample_log: SampleLog
    vcov_label: str
    alpha: float
    _effects: CellEffects = field(repr=False)
    depvar: str = ""
    clusters: dict[str, int] = field(default_factory=dict)
    fixef: tuple[str, ...] = ()
    #: linear family: the regressors, the sample rows' positions in the data and the
    #: variance's small-sample numbers (for the wild cluster bootstrap)
    _linear: EtwfeLinearDesign | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        *,
        family: str,
        control: str,
        cells: list[tuple[float, int]],
        X: FloatArray,
        names: list[str],
        beta: FloatArray,
        vcov: FloatArray,
        cohort: FloatArray,
        period: np.ndarray,
        alpha: float,
        n_units: int,
        sample_log: SampleLog,
        vcov_label: str,
        grid: PeriodGrid | None = None,
        depvar: str = "",
        clusters: dict[str, int] | None = None,
        fixef: tuple[str, ...] = (),
        linear_design: tuple[np.ndarray, np.ndarray, SmallSample] | None = None,
        counts: np.ndarray | None = None,
    ) -> ETWFEResult:
        """Assemble the result; ``cells``, ``cohort`` and ``period`` are grid positions
        (the table shows the user's period labels and event time in periods).

        ``X``, ``cohort`` and ``period`` have one row per observation, or one per
        (cohort, period[, category]) cell of ``counts`` observations; ``linear_design``
        is the observations' cell codes, their positions in the data and the small-sample
        numbers (linear family)."""
        grid = grid if grid is not None else PeriodGrid(0, 1, int(np.max(period)) + 1)
        e = cell_effects(family, cells, X, names, beta, cohort, period, grid, counts)
        se = np.sqrt(np.clip(np.diag(e.grad @ vcov @ e.grad.T), 0, None))
        low, high = interval(e.att, se, alpha)
        ratio, ratio_se = ratio_effects(e, vcov, np.eye(len(cells)))
        table = pd.DataFrame(
            {
                "cohort": grid.labels([int(a) for a, _ in cells]),
                "period": grid.labels([int(b) for _, b in cells]),
                "rel_time": [int(b - a) for a, b in cells],
                "n": e.n,
                "estimate": e.att,
                "std_error": se,
                "conf_low": low,
                "conf_high": high,
                "ratio": ratio,
                "ratio_se": ratio_se,
            }
        )
        return cls(
            family=family,
            control=control,
            cells=table,
            coef=pd.Series(beta, index=names, name="estimate"),
            vcov=vcov,
            n_obs=len(period) if counts is None else int(np.sum(counts)),
            n_units=n_units,
            sample_log=sample_log,
            vcov_label=vcov_label,
            alpha=alpha,
            _effects=e,
            depvar=depvar,
            clusters=dict(clusters or {}),
            fixef=tuple(fixef),
            _linear=None if linear_design is None else EtwfeLinearDesign(X, *linear_design),
        )

    def aggregate(
        self,
        type: str = "simple",
        *,
        min_e: int | None = None,
        max_e: int | None = None,
        **old: object,
    ) -> ETWFEAggregate:
        """Average post-treatment cells (t >= g) by observation counts.

        Parameters
        ----------
        type : {"simple", "group", "calendar", "dynamic"}
            One overall effect, by cohort, by period, or by event time (pre-treatment
            cells included for ``"dynamic"`` when ``control="never"``).
        min_e, max_e : int, optional
            Event-time window of ``"dynamic"``.

        Returns
        -------
        ETWFEAggregate
            Its ``table``: ``key`` (cohort / period / event time; "ATT" for simple),
            ``estimate``, ``std_error``, ``conf_low``, ``conf_high`` in levels, ``ratio``,
            ``ratio_se``.
        """
        if old:
            raise InvalidOptionError(
                f"aggregate() takes type=, min_e=, max_e= (got {sorted(old)}): kind= is now "
                "type=, as for att_gt, and the result's .table is the former DataFrame."
            )
        tab = aggregate_effects(
            self._effects, self.vcov, self.cells, type, self.alpha, min_e, max_e
        )
        return ETWFEAggregate(type, tab, self.model_info(), self.alpha)

    def event_time_effects(
        self, min_e: int | None = None, max_e: int | None = None
    ) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Event times, level effects (cells weighted by observations) and their covariance."""
        rel = self.cells["rel_time"].to_numpy()
        return event_time_effects(self._effects, self.vcov, rel, min_e, max_e)

    def tidy(self) -> pd.DataFrame:
        """One row per cell, ``ATT(g,t)`` in levels, then ``cohort``, ``period``,
        ``rel_time``, ``ratio``, ``ratio_se``."""
        c = self.cells
        terms = [f"ATT({g},{t})" for g, t in zip(c["cohort"], c["period"], strict=True)]
        out = tidy_frame(terms, c["estimate"], c["std_error"], self.alpha)
        extra = ["cohort", "period", "rel_time", "ratio", "ratio_se"]
        return out.assign(**{k: c[k].to_numpy() for k in extra})

    def model_info(self) -> ModelInfo:
        """Outcome, observations, the vcov used, units."""
        return ModelInfo(
            depvar=self.depvar,
            nobs=self.n_obs,
            vcov_label=self.vcov_label,
            clusters=self.clusters,
            fixef=self.fixef,
            stats={"n_units": float(self.n_units)},
            alpha=self.alpha,
        )

    def plot(self, ax: object = None) -> object:
        """Cell effects against event time, one panel per cohort (as ATT(g,t))."""
        return plot_att_gt(self.cells, ax=ax)

    def summary(self) -> str:
        """The overall effect (levels and proportional), the vcov and the cells."""
        simple = self.aggregate("simple").table.iloc[0]
        return (
            f"ETWFE ({self.family}, {self.control} controls) of {self.depvar or 'the outcome'}: "
            f"ATT {simple['estimate']:.6g} (SE {simple['std_error']:.6g}); proportional "
            f"{simple['ratio']:.6g} (SE {simple['ratio_se']:.6g}); {self.vcov_label}\n"
            + self.cells.to_string(index=False)
        )

    def __str__(self) -> str:
        return self.summary()
