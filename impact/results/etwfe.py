"""Result of :func:`impact.etwfe`: cell effects, aggregations, delta-method variances."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.design.grid import PeriodGrid
from impact.errors import InvalidOptionError
from impact.inference.intervals import interval

__all__ = ["ETWFEResult"]


def _tab(est: FloatArray, se: FloatArray, alpha: float) -> dict[str, FloatArray]:
    low, high = interval(est, se, alpha)
    return {"estimate": est, "std_error": se, "conf_low": low, "conf_high": high}


@dataclass(frozen=True, eq=False)
class ETWFEResult:
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
    _grad_level: FloatArray = field(repr=False)
    _s1: FloatArray = field(repr=False)  # per cell: sum of fitted means (treated)
    _s0: FloatArray = field(repr=False)  # per cell: sum of untreated means
    _g1: FloatArray = field(repr=False)  # per cell: gradient of s1
    _g0: FloatArray = field(repr=False)  # per cell: gradient of s0

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
    ) -> ETWFEResult:
        """Assemble the result; ``cells``, ``cohort`` and ``period`` are grid positions
        (the table shows the user's period labels and event time in periods)."""
        grid = grid if grid is not None else PeriodGrid(0, 1, int(np.max(period)) + 1)
        pos = {n: j for j, n in enumerate(names)}
        m, k = len(cells), len(names)
        att, n_c = np.empty(m), np.empty(m, dtype=int)
        grad = np.zeros((m, k))
        s1, s0 = np.full(m, np.nan), np.full(m, np.nan)
        g1, g0 = np.zeros((m, k)), np.zeros((m, k))
        eta = X @ beta
        for c, (cg, ct) in enumerate(cells):
            j = pos[f"cell::{grid.label(cg)}:{grid.label(ct)}"]
            rows = (cohort == cg) & (period == ct)
            n_c[c] = int(rows.sum())
            if family == "linear":
                att[c] = beta[j]
                grad[c, j] = 1.0
                continue
            Xc = X[rows]
            mu1 = np.exp(eta[rows])
            mu0 = mu1 * np.exp(-beta[j])
            att[c] = float(np.mean(mu1 - mu0))
            grad[c] = Xc.T @ (mu1 - mu0) / n_c[c]
            grad[c, j] = float(np.mean(mu1))  # d/dtau of exp(eta) - exp(eta - tau)
            s1[c], s0[c] = mu1.sum(), mu0.sum()
            g1[c] = Xc.T @ mu1
            g0[c] = Xc.T @ mu0
            g0[c, j] = 0.0  # the untreated mean does not depend on its cell's tau
        V_level = grad @ vcov @ grad.T
        ratio, ratio_se = cls._ratios(s1, s0, g1, g0, vcov, np.eye(m))
        table = pd.DataFrame(
            {
                "cohort": grid.labels([int(a) for a, _ in cells]),
                "period": grid.labels([int(b) for _, b in cells]),
                "rel_time": [int(b - a) for a, b in cells],
                "n": n_c,
                **_tab(att, np.sqrt(np.clip(np.diag(V_level), 0, None)), alpha),
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
            n_obs=len(period),
            n_units=n_units,
            sample_log=sample_log,
            vcov_label=vcov_label,
            alpha=alpha,
            _grad_level=grad,
            _s1=s1,
            _s0=s0,
            _g1=g1,
            _g0=g0,
        )

    @staticmethod
    def _ratios(s1, s0, g1, g0, vcov, W) -> tuple[FloatArray, FloatArray]:
        """``sum_c W s1 / sum_c W s0 - 1`` per row of W (0/1 selections), delta method."""
        if np.all(np.isnan(s1)):
            nan = np.full(W.shape[0], np.nan)
            return nan, nan
        A, B = W @ s1, W @ s0
        dA, dB = W @ g1, W @ g0
        G = (dA * B[:, None] - A[:, None] * dB) / (B**2)[:, None]
        V = G @ vcov @ G.T
        return A / B - 1, np.sqrt(np.clip(np.diag(V), 0, None))

    def aggregate(
        self, kind: str = "simple", *, min_e: int | None = None, max_e: int | None = None
    ) -> pd.DataFrame:
        """Average post-treatment cells (t >= g) by observation counts.

        Parameters
        ----------
        kind : {"simple", "group", "calendar", "dynamic"}
            One overall effect, by cohort, by period, or by event time (pre-treatment
            cells included for ``"dynamic"`` when ``control="never"``).
        min_e, max_e : int, optional
            Event-time window of ``"dynamic"``.

        Returns
        -------
        DataFrame
            ``key`` (cohort / period / event time; "ATT" for simple), ``estimate``,
            ``std_error``, ``conf_low``, ``conf_high`` in levels, ``ratio``, ``ratio_se``.
        """
        if kind not in ("simple", "group", "calendar", "dynamic"):
            raise InvalidOptionError(
                f"kind must be 'simple', 'group', 'calendar' or 'dynamic', got {kind!r}."
            )
        tab = self.cells
        post = (tab["rel_time"] >= 0).to_numpy()
        e = tab["rel_time"].to_numpy()
        use = post if kind != "dynamic" else np.ones(len(tab), dtype=bool)
        if kind == "dynamic":
            use &= (e >= (min_e if min_e is not None else e.min())) & (
                e <= (max_e if max_e is not None else e.max())
            )
        col = {"simple": None, "group": "cohort", "calendar": "period", "dynamic": "rel_time"}
        keys: list[Any] = (
            ["ATT"] if kind == "simple" else sorted(tab.loc[use, col[kind]].unique().tolist())
        )
        sel = np.zeros((len(keys), len(tab)))
        for i, key in enumerate(keys):
            mask = use if kind == "simple" else use & (tab[col[kind]] == key).to_numpy()
            sel[i, mask] = 1.0
        n = tab["n"].to_numpy(dtype=float)
        W = sel * n
        W = W / W.sum(axis=1, keepdims=True)
        est = W @ tab["estimate"].to_numpy()
        G = W @ self._grad_level
        se = np.sqrt(np.clip(np.diag(G @ self.vcov @ G.T), 0, None))
        ratio, ratio_se = self._ratios(self._s1, self._s0, self._g1, self._g0, self.vcov, sel)
        return pd.DataFrame(
            {"key": keys, **_tab(est, se, self.alpha), "ratio": ratio, "ratio_se": ratio_se}
        )

    def event_time_effects(
        self, min_e: int | None = None, max_e: int | None = None
    ) -> tuple[np.ndarray, FloatArray, FloatArray]:
        """Event times, level effects (cells weighted by observations) and their covariance."""
        e = self.cells["rel_time"].to_numpy()
        lo = e.min() if min_e is None else min_e
        hi = e.max() if max_e is None else max_e
        keys = np.unique(e[(e >= lo) & (e <= hi)])
        n = self.cells["n"].to_numpy(dtype=float)
        W = np.array([np.where(e == k, n, 0.0) for k in keys]).reshape(len(keys), len(e))
        W = W / W.sum(axis=1, keepdims=True)
        G = W @ self._grad_level
        return keys, W @ self.cells["estimate"].to_numpy(), G @ self.vcov @ G.T

    def __str__(self) -> str:
        simple = self.aggregate("simple").iloc[0]
        return (
            f"ETWFE ({self.family}, {self.control} controls): ATT {simple['estimate']:.6g} "
            f"(SE {simple['std_error']:.6g}); proportional {simple['ratio']:.6g} "
            f"(SE {simple['ratio_se']:.6g})\n" + self.cells.to_string(index=False)
        )
