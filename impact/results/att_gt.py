"""Results of ``att_gt``: the ATT(g,t) table, its aggregations and pre-trend test."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.grid import PeriodGrid
from impact.engine.base import EngineUse
from impact.errors import FewClustersWarning
from impact.inference.bootstrap import multiplier_bootstrap
from impact.inference.clusters import influence_vcov
from impact.inference.intervals import interval
from impact.inference.wald import wald
from impact.results.aggregate import AggregateResult
from impact.results.aggregation import (
    EngineRows,
    GTCells,
    aggregate_cells,
    aggregation_inference,
)
from impact.results.plotting import plot_att_gt
from impact.results.protocol import (
    ModelInfo,
    ResultProtocol,
    tidy_frame,
)

__all__ = ["ATTgtResult", "AggregateResult"]


#: Below this many units of a cohort per pre-treatment cell tested, the cell-level
#: pre-trend test's covariance is too noisy to trust (see ATTgtResult.pretrend_test).
PRETREND_UNITS_PER_CELL = 10


def _warn_few_units_per_cell(pre: pd.DataFrame) -> None:
    """Warn when a cohort's units are few for its number of tested pre-treatment cells."""
    by = pre.groupby("cohort").agg(cells=("time", "size"), units=("n_treated", "min"))
    few = by[by["units"] < PRETREND_UNITS_PER_CELL * by["cells"]]
    if few.empty:
        return
    g, row = few.index[0], few.iloc[0]
    warnings.warn(
        f"pretrend_test(): cohort {g} has {int(row['units'])} units for {int(row['cells'])} "
        f"pre-treatment cells ({len(few)} cohort(s) below {PRETREND_UNITS_PER_CELL} units per "
        "cell): the cell-level Wald test over-rejects with so few units. The event-time "
        "test aggregate('dynamic', min_e=..., max_e=...).pretrend_test() pools cohorts; it "
        "too over-rejects when every cohort is small (docs/diagnostics.md).",
        FewClustersWarning,
        stacklevel=3,
    )


@dataclass(frozen=True, eq=False)
class ATTgtResult(ResultProtocol):
    """Result of :func:`impact.att_gt`.

    Attributes
    ----------
    table : DataFrame
        ``cohort``, ``time``, ``base_period``, ``rel_time``, ``estimate``,
        ``std_error``, ``conf_low``, ``conf_high``, ``n_treated``, ``n_control``.
    vcov : ndarray
        Covariance of the ATT(g,t) estimates (from the influence functions).
    n_units : int
    units : Index or None
        Unit identifiers in the row order of the influence functions (panel data);
        ``AggregateResult.influence`` rows follow it.
    n_clusters : int or None
    sample_log : SampleLog
    settings : dict
    notes : list of str
    """

    table: pd.DataFrame
    vcov: FloatArray
    n_units: int
    n_clusters: int | None
    sample_log: SampleLog
    settings: Mapping[str, Any]
    notes: tuple[str, ...]
    alpha: float
    bootstrap: int | None
    seed: int | None
    critical_value: float | None
    _inf: FloatArray = field(repr=False)
    _pg_units: FloatArray = field(repr=False)  # (n, n_cohorts): w_i 1{G_i = g, seen at base}
    _cohorts: FloatArray = field(repr=False)
    _cluster: np.ndarray | None = field(repr=False)
    _last_period: float = field(repr=False)
    units: pd.Index | None = field(default=None, repr=False)
    _g: FloatArray | None = field(default=None, repr=False)  # cell cohorts (grid positions)
    _t: FloatArray | None = field(default=None, repr=False)  # cell periods (grid positions)
    _grid: PeriodGrid | None = field(default=None, repr=False)
    bootstrap_weights: str = "rademacher"
    _cluster_labels: np.ndarray | None = field(default=None, repr=False)
    #: the keyword arguments of the att_gt call (without data and bootstrap): re-estimation
    _call: Mapping[str, Any] | None = field(default=None, repr=False)
    #: when the influence rows are not units (a query engine's fit): the units, the
    #: cohort shares and the units each row stands for (see GTCells)
    _n: int | None = field(default=None, repr=False)
    _pg_mean: FloatArray | None = field(default=None, repr=False)
    _row_units: FloatArray | None = field(default=None, repr=False)
    #: the engine's passes and collected bytes when the fit ran in a query engine
    engine_use: EngineUse | None = field(default=None, repr=False)
    #: the first line of :meth:`summary`
    title: ClassVar[str] = "Group-time ATT (Callaway & Sant'Anna 2021)"

    @classmethod
    def build(
        cls,
        *,
        cells,
        att,
        inf,
        n_treated,
        n_control,
        wide_cohort,
        wide_weights,
        observed,
        periods,
        cluster,
        anticipation,
        alpha,
        sample_log,
        notes,
        settings,
        bootstrap=None,
        seed=None,
        bootstrap_weights="rademacher",
        units=None,
        grid: PeriodGrid | None = None,
        cluster_labels: np.ndarray | None = None,
        call: Mapping[str, Any] | None = None,
        rows: EngineRows | None = None,
        gram: FloatArray | None = None,
    ) -> ATTgtResult:
        """Assemble the result from the cell estimates (used by :func:`att_gt`).

        ``cells``, ``periods`` and ``wide_cohort`` are grid positions; the table shows
        the user's period labels (``grid``) and event time in periods. ``rows``: a query
        engine's influence rows (then ``inf`` is ``rows.inf`` and the unit arrays are
        not used). ``gram``: ``inf' inf`` when the cells computed it from second
        moments (used for the variance when the rows are units, unclustered).
        """
        n = None if rows is None else rows.n
        g = np.array([c[0] for c in cells], dtype=float)
        t = np.array([c[1] for c in cells], dtype=float)
        s = np.array([c[2] for c in cells], dtype=float)
        if gram is not None and cluster is None and rows is None:
            V = gram / inf.shape[0] ** 2  # influence_vcov(inf), from the groups' moments
        else:
            V = influence_vcov(inf, cluster, n)
        se = np.sqrt(np.clip(np.diag(V), 0, None))
        se[t == s] = np.nan
        se[np.isnan(att)] = np.nan
        crit = None
        band_lo = band_hi = np.full(len(att), np.nan)
        valid = np.flatnonzero(np.isfinite(se))
        if bootstrap and len(valid):  # no estimable cell: aggregate() says so (typed)
            rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(9)[0])
            br = multiplier_bootstrap(
                inf[:, valid],
                draws=bootstrap,
                rng=rng,
                cluster=cluster,
                alpha=alpha,
                weights=bootstrap_weights,
                n=n,
            )
            se[valid] = br.std_error
            crit = br.critical_value
            band_lo, band_hi = att - crit * se, att + crit * se
        lo, hi = interval(att, se, alpha)
        grid = grid if grid is not None else PeriodGrid(0, 1, int(periods.max()) + 1)
        table = pd.DataFrame(
            {
                "cohort": grid.labels(g.astype(int)),
                "time": grid.labels(t.astype(int)),
                "base_period": grid.labels(s.astype(int)),
                "rel_time": (t - g).astype(int),
                "estimate": att,
                "std_error": se,
                "conf_low": lo,
                "conf_high": hi,
                "band_low": band_lo,
                "band_high": band_hi,
                "n_treated": n_treated,
                "n_control": n_control,
            }
        )
        cohorts = np.unique(g)
        if rows is None:
            w = wide_weights / wide_weights.mean()
            pg_units = np.zeros((len(wide_cohort), len(cohorts)))
            for j, c in enumerate(cohorts):
                base = periods[periods + anticipation < c][-1]
                seen = observed[:, int(np.searchsorted(periods, base))]
                pg_units[:, j] = w * ((wide_cohort == c) & seen)
        else:
            pg_units = rows.pg
        return cls(
            table=table,
            vcov=V,
            n_units=len(wide_cohort) if rows is None else rows.n,
            n_clusters=(None if cluster is None else int(cluster.max()) + 1)
            if rows is None
            else rows.n_clusters,
            sample_log=sample_log,
            settings=dict(settings),
            notes=tuple(notes),
            alpha=alpha,
            bootstrap=bootstrap,
            seed=seed,
            critical_value=crit,
            _inf=inf,
            _pg_units=pg_units,
            _cohorts=cohorts,
            _cluster=cluster,
            _cluster_labels=cluster_labels,
            _call=call,
            _last_period=float(periods.max()),
            units=units,
            _g=g,
            _t=t,
            _grid=grid,
            bootstrap_weights=bootstrap_weights,
            _n=n,
            _pg_mean=None if rows is None else rows.pg_mean,
            _row_units=None if rows is None else rows.row_units,
        )

    # ------------------------------------------------------------------ summaries
    @property
    def inference_label(self) -> str:
        """The inference actually used: bootstrap or analytic, weights, clustering."""
        cluster = self.settings.get("cluster")
        by = f"clustered by {cluster}" if cluster else "by unit"
        if self.bootstrap:
            return (
                f"Multiplier bootstrap ({self.bootstrap} draws, {self.bootstrap_weights} "
                f"weights), {by}; simultaneous bands"
            )
        return f"Influence functions, {by}; normal critical values"

    def tidy(self) -> pd.DataFrame:
        """One row per cell, ``ATT(g,t)`` with the cohort and period labels, then the
        columns ``cohort``, ``time``, ``rel_time``."""
        tab = self.table
        terms = [f"ATT({g},{t})" for g, t in zip(tab["cohort"], tab["time"], strict=True)]
        out = tidy_frame(terms, tab["estimate"], tab["std_error"], self.alpha)
        return out.assign(
            cohort=tab["cohort"].to_numpy(),
            time=tab["time"].to_numpy(),
            rel_time=tab["rel_time"].to_numpy(),
        )

    def model_info(self) -> ModelInfo:
        """Outcome, units (the estimation unit; ``nobs``), the inference used, clusters."""
        cluster = self.settings.get("cluster")
        return ModelInfo(
            depvar=str(self.settings.get("y", "")),
            nobs=self.n_units,
            vcov_label=self.inference_label,
            clusters={cluster: self.n_clusters} if cluster and self.n_clusters else {},
            stats={"n_units": float(self.n_units)},
            alpha=self.alpha,
        )

    def plot(self, ax: object = None) -> object:
        """ATT(g,t) against event time, one panel per cohort (R did's ggdid); see
        :func:`impact.results.plotting.plot_att_gt` for ``ax``."""
        return plot_att_gt(self.table, ax=ax)

    def summary(self) -> str:
        """Printable table with the settings, the inference used and the sample log."""
        lines = [
            self.title,
            ", ".join(f"{k}={v}" for k, v in self.settings.items()),
            f"Units: {self.n_units}"
            + (f", clusters: {self.n_clusters}" if self.n_clusters else ""),
            f"Inference: {self.inference_label}.",
            self.table.to_string(index=False),
        ]
        lines += list(self.notes)
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        if self.engine_use is not None:
            u = self.engine_use
            lines.append(f"Engine: {u.engine}, {u.passes} passes over the data, "
                         f"{u.bytes_collected:,} bytes collected")  # fmt: skip
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ tests
    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every pre-treatment ATT(g,t) is zero (chi-square).

        This is R did's pre-test. Its covariance matrix is estimated from each cohort's
        own units, so it over-rejects when a cohort has few units for its number of
        pre-treatment cells: in a Monte Carlo under the null (600 never-treated units,
        12 periods, 200 draws) it rejected at 5% in every draw with cohorts of 4 and 6
        units, and in 11.5% of draws with cohorts of 100, where the dynamic aggregation's
        test (``aggregate("dynamic").pretrend_test()``) rejected in 4% and 8%. A
        :class:`~impact.errors.FewClustersWarning` says so when a cohort has fewer than
        :data:`PRETREND_UNITS_PER_CELL` units per tested cell.

        Returns
        -------
        dict
            ``statistic``, ``df``, ``p_value``; NaN with ``df`` 0 when no pre-treatment
            cell is estimated (e.g. every cohort treated in the second period), as
            :meth:`EventStudyResult.pretrend_test`.
        """
        tab = self.table
        pre = self._t < self._g - self.settings["anticipation"]
        pre &= (tab["time"] != tab["base_period"]).to_numpy() & tab["estimate"].notna().to_numpy()
        idx = np.flatnonzero(pre)
        if not len(idx):
            return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
        _warn_few_units_per_cell(tab.iloc[idx])
        theta = tab["estimate"].to_numpy()[idx]
        return wald(theta, self.vcov[np.ix_(idx, idx)], generalized=True).as_dict()

    # ------------------------------------------------------------------ aggregation
    def cells(self) -> GTCells:
        """The cell estimates and influence functions that aggregations read."""
        tab = self.table
        is_base = (tab["time"] == tab["base_period"]).to_numpy()
        return GTCells(
            att=tab["estimate"].to_numpy(dtype=float),
            g=self._g,
            t=self._t,
            is_base=is_base,
            inf=self._inf,
            pg_units=self._pg_units,
            cohorts=self._cohorts,
            last_period=self._last_period,
            cluster=self._cluster,
            grid=self._grid,
            n=self._n,
            pg_mean=self._pg_mean,
            row_units=self._row_units,
        )

    def aggregate(
        self,
        type: str = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> AggregateResult:
        """Aggregate ATT(g,t) as R ``did``'s ``aggte``.

        Parameters
        ----------
        type : {"simple", "group", "calendar", "dynamic"}
        min_e, max_e : float
            Event-time window (dynamic; ``max_e`` also limits simple and group).
        balance_e : int, optional
            Dynamic only: keep cohorts observed for at least ``balance_e`` periods after
            treatment and event times up to ``balance_e``.

        Notes
        -----
        Cohort weights are cohort sizes (sampling-weighted counts of the cohort's units
        observed in its base period); their estimation error enters the standard errors
        (R ``did``'s ``wif``). A bootstrapped fit bootstraps its aggregations with the
        same weight distribution (``bootstrap_weights``).
        """
        cells = self.cells()
        agg = aggregate_cells(cells, type, min_e=min_e, max_e=max_e, balance_e=balance_e)
        se, lo, hi, table, crit = aggregation_inference(
            agg,
            cells,
            alpha=self.alpha,
            bootstrap=self.bootstrap,
            seed=self.seed,
            weights=self.bootstrap_weights,
        )
        return AggregateResult(
            type=agg.kind,
            estimate=agg.estimate,
            std_error=se,
            conf_low=lo,
            conf_high=hi,
            table=table,
            influence=agg.influence,
            critical_value=crit,
            table_influence=agg.table_influence,
            cluster=self._cluster,
            cluster_labels=self._cluster_labels,
            units=self.units,
            n_units=self._n,
            info=self.model_info(),
            alpha=self.alpha,
            base_period=self.settings.get("base_period"),
            anticipation=int(self.settings.get("anticipation", 0)),
        )
