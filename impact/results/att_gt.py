"""Results of ``att_gt``: the ATT(g,t) table, its aggregations and pre-trend test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.grid import PeriodGrid
from impact.errors import EmptySampleError, InvalidOptionError
from impact.inference.bootstrap import multiplier_bootstrap
from impact.linear.groupby import group_sums

__all__ = ["ATTgtResult", "AggregateResult", "if_vcov"]


def if_vcov(inf: FloatArray, cluster: np.ndarray | None) -> FloatArray:
    """Variance of estimates with influence functions ``inf`` (n, m): ``S'S / n^2``.

    With clusters, ``S`` holds the within-cluster sums of the influence functions.
    """
    n = inf.shape[0]
    S = inf if cluster is None else group_sums(cluster, int(cluster.max()) + 1, inf)
    S = S if S.ndim == 2 else S[:, None]
    return S.T @ S / n**2


def _require_rows(rows: list, kind: str) -> None:
    if not rows:
        raise EmptySampleError(
            f"no finite ATT(g,t) cell falls in the {kind} aggregation's window; widen "
            "min_e/max_e or check the cells' table."
        )


def _interval(est: FloatArray, se: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    z = stats.norm.ppf(1 - alpha / 2)
    return est - z * se, est + z * se


@dataclass(frozen=True, eq=False)
class AggregateResult:
    """An aggregation of ATT(g,t).

    Attributes
    ----------
    type : str
    estimate, std_error, conf_low, conf_high : float
        The overall parameter (for "dynamic": the average over event times >= 0; for
        "group": cohort-size-weighted average of cohort effects; for "calendar": the
        average over periods; for "simple": cohort-size-weighted average of post cells).
    table : DataFrame
        Per event time / cohort / period (not for "simple"): ``estimate``,
        ``std_error``, ``conf_low``, ``conf_high``.
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

    def __str__(self) -> str:
        head = (
            f"{self.type} aggregation: {self.estimate:.6g} (SE {self.std_error:.6g}), "
            f"CI [{self.conf_low:.6g}, {self.conf_high:.6g}]"
        )
        return head if self.table.empty else head + "\n" + self.table.to_string(index=False)


@dataclass(frozen=True, eq=False)
class ATTgtResult:
    """Result of :func:`impact.att_gt`.

    Attributes
    ----------
    table : DataFrame
        ``cohort``, ``time``, ``base_period``, ``event_time``, ``estimate``,
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
    ) -> ATTgtResult:
        """Assemble the result from the cell estimates (used by :func:`att_gt`).

        ``cells``, ``periods`` and ``wide_cohort`` are grid positions; the table shows
        the user's period labels (``grid``) and event time in periods.
        """
        g = np.array([c[0] for c in cells], dtype=float)
        t = np.array([c[1] for c in cells], dtype=float)
        s = np.array([c[2] for c in cells], dtype=float)
        V = if_vcov(inf, cluster)
        se = np.sqrt(np.clip(np.diag(V), 0, None))
        se[t == s] = np.nan
        se[np.isnan(att)] = np.nan
        crit = None
        band_lo = band_hi = np.full(len(att), np.nan)
        if bootstrap:
            valid = np.flatnonzero(np.isfinite(se))
            rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(9)[0])
            br = multiplier_bootstrap(
                inf[:, valid],
                draws=bootstrap,
                rng=rng,
                cluster=cluster,
                alpha=alpha,
                weights=bootstrap_weights,
            )
            se[valid] = br.std_error
            crit = br.critical_value
            band_lo, band_hi = att - crit * se, att + crit * se
        lo, hi = _interval(att, se, alpha)
        grid = grid if grid is not None else PeriodGrid(0, 1, int(periods.max()) + 1)
        table = pd.DataFrame(
            {
                "cohort": grid.labels(g.astype(int)),
                "time": grid.labels(t.astype(int)),
                "base_period": grid.labels(s.astype(int)),
                "event_time": (t - g).astype(int),
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
        w = wide_weights / wide_weights.mean()
        pg_units = np.zeros((len(wide_cohort), len(cohorts)))
        for j, c in enumerate(cohorts):
            base = periods[periods + anticipation < c][-1]
            seen = observed[:, int(np.searchsorted(periods, base))]
            pg_units[:, j] = w * ((wide_cohort == c) & seen)
        return cls(
            table=table,
            vcov=V,
            n_units=len(wide_cohort),
            n_clusters=None if cluster is None else int(cluster.max()) + 1,
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
            _last_period=float(periods.max()),
            units=units,
            _g=g,
            _t=t,
            _grid=grid,
        )

    # ------------------------------------------------------------------ summaries
    def tidy(self) -> pd.DataFrame:
        """The ATT(g,t) table."""
        return self.table.copy()

    def summary(self) -> str:
        """Printable table with the settings, clusters and sample log."""
        lines = [
            "Group-time ATT (Callaway & Sant'Anna 2021)",
            ", ".join(f"{k}={v}" for k, v in self.settings.items()),
            f"Units: {self.n_units}"
            + (f", clusters: {self.n_clusters}" if self.n_clusters else ""),
            "SEs from influence functions; normal critical values.",
            self.table.to_string(index=False),
        ]
        lines += list(self.notes)
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ tests
    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every pre-treatment ATT(g,t) is zero (chi-square).

        Returns
        -------
        dict
            ``statistic``, ``df``, ``p_value``.
        """
        tab = self.table
        pre = self._t < self._g - self.settings["anticipation"]
        pre &= (tab["time"] != tab["base_period"]).to_numpy() & tab["estimate"].notna().to_numpy()
        idx = np.flatnonzero(pre)
        if not len(idx):
            raise InvalidOptionError("there are no pre-treatment cells to test.")
        theta = tab["estimate"].to_numpy()[idx]
        V = self.vcov[np.ix_(idx, idx)]
        stat = float(theta @ np.linalg.pinv(V) @ theta)
        df = int(np.linalg.matrix_rank(V))
        return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df))}

    # ------------------------------------------------------------------ aggregation
    def _pg(self, cell_idx: np.ndarray) -> tuple[FloatArray, np.ndarray]:
        j = np.searchsorted(self._cohorts, self._g[cell_idx])
        return self._pg_units.mean(axis=0)[j], j

    def _combine(
        self, keep: np.ndarray, weights: FloatArray, with_wif: bool
    ) -> tuple[float, FloatArray]:
        att = self.table["estimate"].to_numpy()[keep]
        inf = self._inf[:, keep] @ weights
        if with_wif:
            pg, j = self._pg(keep)
            total = pg.sum()
            dev = self._pg_units[:, j] - pg[None, :]
            wif = dev / total - dev.sum(axis=1, keepdims=True) * (pg / total**2)[None, :]
            inf = inf + wif @ att
        return float(att @ weights), inf

    def _se(self, inf: FloatArray) -> float:
        return float(np.sqrt(if_vcov(inf[:, None], self._cluster)[0, 0]))

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
        (R ``did``'s ``wif``).
        """
        tab = self.table
        g, t = self._g, self._t
        e = t - g
        finite = tab["estimate"].notna().to_numpy()
        if not finite.any():
            raise EmptySampleError(
                "every ATT(g,t) cell is NaN (too few treated or control units); nothing to "
                "aggregate. Lower min_cell_units or check the sample log."
            )
        if type == "simple":
            keep = np.flatnonzero((g <= t) & (t <= g + max_e) & finite)
            pg, _ = self._pg(keep)
            est, inf = self._combine(keep, pg / pg.sum(), with_wif=True)
            return self._result("simple", est, inf, pd.DataFrame())
        if type == "group":
            rows, infs, sizes, keep_g = [], [], [], []
            for j, c in enumerate(self._cohorts):
                keep = np.flatnonzero((g == c) & (g <= t) & (t <= g + max_e) & finite)
                if not len(keep):
                    continue
                est, inf = self._combine(keep, np.full(len(keep), 1 / len(keep)), with_wif=False)
                rows.append(
                    {"cohort": self._grid.label(c), "estimate": est, "std_error": self._se(inf)}
                )
                infs.append(inf)
                sizes.append(self._pg_units[:, j].mean())
                keep_g.append(j)
            _require_rows(rows, "group")
            theta = np.array([r["estimate"] for r in rows])
            pg = np.array(sizes)
            W = np.column_stack(infs)
            dev = self._pg_units[:, keep_g] - pg[None, :]
            wif = dev / pg.sum() - dev.sum(axis=1, keepdims=True) * (pg / pg.sum() ** 2)[None, :]
            inf = W @ (pg / pg.sum()) + wif @ theta
            return self._result("group", float(theta @ pg / pg.sum()), inf, pd.DataFrame(rows), W)
        if type == "dynamic":
            ok = finite & (e >= min_e) & (e <= max_e)
            if balance_e is not None:
                ok &= (self._last_period - g >= balance_e) & (e <= balance_e)
            rows, infs, es = [], [], []
            for ev in np.unique(e[ok]):
                keep = np.flatnonzero(ok & (e == ev))
                pg, _ = self._pg(keep)
                est, inf = self._combine(keep, pg / pg.sum(), with_wif=True)
                base_only = bool(
                    (tab["time"].to_numpy()[keep] == tab["base_period"].to_numpy()[keep]).all()
                )
                se_ev = float("nan") if base_only else self._se(inf)  # the reference: no SE
                rows.append({"event_time": int(ev), "estimate": est, "std_error": se_ev})
                infs.append(inf)
                es.append(ev)
            _require_rows(rows, "dynamic")
            es = np.array(es)
            post = es >= 0
            inf = np.column_stack(infs)[:, post].mean(axis=1)
            est = float(np.mean([r["estimate"] for r, p in zip(rows, post, strict=True) if p]))
            return self._result("dynamic", est, inf, pd.DataFrame(rows), np.column_stack(infs))
        if type == "calendar":
            rows, infs = [], []
            for period in np.unique(t[(g <= t) & finite]):
                keep = np.flatnonzero((t == period) & (g <= t) & finite)
                pg, _ = self._pg(keep)
                est, inf = self._combine(keep, pg / pg.sum(), with_wif=True)
                rows.append(
                    {"time": self._grid.label(period), "estimate": est, "std_error": self._se(inf)}
                )
                infs.append(inf)
            _require_rows(rows, "calendar")
            inf = np.column_stack(infs).mean(axis=1)
            est = float(np.mean([r["estimate"] for r in rows]))
            return self._result("calendar", est, inf, pd.DataFrame(rows), np.column_stack(infs))
        raise InvalidOptionError(
            f"type must be 'simple', 'group', 'calendar' or 'dynamic', got {type!r}."
        )

    def _result(
        self,
        kind: str,
        est: float,
        inf: FloatArray,
        table: pd.DataFrame,
        table_inf: FloatArray | None = None,
    ) -> AggregateResult:
        se = self._se(inf)
        crit = None
        if self.bootstrap:
            key = ("simple", "group", "calendar", "dynamic").index(kind)
            streams = np.random.SeedSequence(self.seed).spawn(9)
            overall = multiplier_bootstrap(
                inf[:, None],
                draws=self.bootstrap,
                rng=np.random.default_rng(streams[1 + key]),
                cluster=self._cluster,
                alpha=self.alpha,
            )
            se = float(overall.std_error[0])
            if table_inf is not None:
                per = multiplier_bootstrap(
                    table_inf,
                    draws=self.bootstrap,
                    rng=np.random.default_rng(streams[5 + key]),
                    cluster=self._cluster,
                    alpha=self.alpha,
                )
                table = table.assign(std_error=per.std_error)
                crit = per.critical_value
        lo, hi = _interval(np.array(est), np.array(se), self.alpha)
        if not table.empty:
            est_t, se_t = table["estimate"].to_numpy(), table["std_error"].to_numpy()
            tl, th = _interval(est_t, se_t, self.alpha)
            table = table.assign(conf_low=tl, conf_high=th)
            if crit is not None:
                table = table.assign(band_low=est_t - crit * se_t, band_high=est_t + crit * se_t)
        return AggregateResult(
            kind, est, se, float(lo), float(hi), table, inf, crit, table_inf, self._cluster
        )
