"""The immutable result of a production-function estimation (:func:`impact.prodest`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.inference.intervals import interval, two_sided_p
from impact.results.block_bootstrap import BlockBootstrap
from impact.results.plotting import plot_coefficients
from impact.results.protocol import (
    TIDY_COLUMNS,
    ModelInfo,
    ResultProtocol,
    finite_stats,
)

__all__ = ["ProdestByResult", "ProdestResult"]

METHOD_LABELS = {
    "ols": "OLS",
    "fe": "Within (firm FE)",
    "op": "Olley-Pakes",
    "lp": "Levinsohn-Petrin",
    "acf": "Ackerberg-Caves-Frazer",
    "wooldridge": "Wooldridge GMM",
}


@dataclass(frozen=True, eq=False)
class ProdestResult(ResultProtocol):
    """Estimates of a Cobb-Douglas production function and the implied productivity.

    Attributes
    ----------
    method : str
        ``"ols"``, ``"fe"``, ``"op"``, ``"lp"``, ``"acf"`` or ``"wooldridge"``.
    coef, se : Series
        Coefficients of the production-function terms (the inputs, free then state; the
        translog adds squares ``l^2`` and products ``l:k``) and their standard errors.
        For Cobb-Douglas these are the output elasticities.
    vcov : DataFrame
        Their covariance (bootstrap or analytic, see ``vcov_label``).
    nobs : int
        Firm-years in the estimation sample (the first stage for control-function methods).
    n_firms : int
    depvar : str
    tfp : Series
        Log TFP ``y - x'b`` on every row of the user's frame with output and inputs present
        (NaN elsewhere), aligned to its index. Includes the intercept and the transitory
        shock.
    omega : Series
        Productivity without the transitory shock, ``phi - x'b`` (control-function and
        Wooldridge methods; on the first-stage sample, NaN elsewhere). For OLS and FE no
        first stage separates the shock and ``omega`` equals ``tfp``.
    objective : float
        GMM criterion at the estimate (NaN for OLS/FE).
    j_stat : float
        Hansen's J of the second-stage moments (ACF/LP/OP; NaN otherwise).
    rho : float
        Persistence of productivity (Wooldridge; NaN otherwise).
    restarts : DataFrame or None
        Every optimiser start: start and end coefficients, criterion, J, convergence.
    bootstrap : BlockBootstrap or None
        Firm-block bootstrap draws, when the standard errors are bootstrapped.
    vcov_label : str
    sample_log : SampleLog
    elasticities : DataFrame
        Output elasticity of each input on every row of the user's frame (NaN where an
        input is missing); constant columns for Cobb-Douglas.
    form : str
        ``"cobb_douglas"`` or ``"translog"``.

    Examples
    --------
    Least squares on the shipped synthetic panel, whose true output elasticities are 0.6 (labour)
    and 0.3 (capital): simultaneity biases the labour elasticity upwards (the proxy estimators of
    :func:`impact.prodest` recover it).

    >>> import impact
    >>> firms = impact.datasets.load("cluster_panel").dropna(subset=["log_va"])
    >>> res = impact.prodest(firms, output="log_va", free="log_emp", state="log_k",
    ...                      unit="firm_id", time="year", method="ols")
    >>> res.method, res.coef.index.tolist(), res.n_firms
    ('ols', ['log_emp', 'log_k'], 3095)
    >>> bool(res.coef["log_emp"] > 0.6), bool(res.tfp.notna().sum() == res.nobs)
    (True, True)
    """

    method: str
    coef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    nobs: int
    n_firms: int
    depvar: str
    tfp: pd.Series
    omega: pd.Series
    objective: float
    j_stat: float
    rho: float
    restarts: pd.DataFrame | None
    bootstrap: BlockBootstrap | None
    vcov_label: str
    sample_log: SampleLog
    unit: str
    time: str
    elasticities: pd.DataFrame | None = None
    rts_gradient: np.ndarray | None = None
    form: str = "cobb_douglas"

    # ------------------------------------------------------------------ inference
    @property
    def tstat(self) -> pd.Series:
        """Estimate / standard error."""
        return self.coef / self.se

    @property
    def pvalue(self) -> pd.Series:
        """Two-sided normal p-values."""
        return pd.Series(two_sided_p(self.tstat.to_numpy()), index=self.coef.index)

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Normal confidence intervals (``conf_low``, ``conf_high``)."""
        low, high = interval(self.coef.to_numpy(), self.se.to_numpy(), 1 - level)
        return pd.DataFrame({"conf_low": low, "conf_high": high}, index=self.coef.index)

    @property
    def _rts_weights(self) -> np.ndarray:
        if self.rts_gradient is not None:
            return np.asarray(self.rts_gradient)
        return np.ones(len(self.coef))

    @property
    def returns_to_scale(self) -> float:
        """Sum of the output elasticities (translog: mean over the estimation sample)."""
        return float(self._rts_weights @ self.coef.to_numpy())

    @property
    def returns_to_scale_se(self) -> float:
        """Standard error of the returns to scale (from ``vcov``; linear in the terms)."""
        a = self._rts_weights
        return float(np.sqrt(a @ self.vcov.to_numpy() @ a))

    # ------------------------------------------------------------------ etable protocol
    @property
    def fixef_names(self) -> tuple[str, ...]:
        """Absorbed effects: period effects always, firm effects for ``"fe"``."""
        return (self.unit, self.time) if self.method == "fe" else (self.time,)

    @property
    def n_clusters(self) -> dict[str, int]:
        """Firms (the cluster / resampling unit)."""
        return {self.unit: self.n_firms}

    @property
    def ssc(self) -> None:
        """No small-sample preset (etable shows nothing)."""
        return None

    # ------------------------------------------------------------------ output
    def tidy(self) -> pd.DataFrame:
        """One row per input: estimate, std_error, statistic, p_value, conf_low, conf_high."""
        ci = self.confint()
        return pd.DataFrame(
            {
                "term": self.coef.index,
                "estimate": self.coef.to_numpy(),
                "std_error": self.se.to_numpy(),
                "statistic": self.tstat.to_numpy(),
                "p_value": self.pvalue.to_numpy(),
                "conf_low": ci["conf_low"].to_numpy(),
                "conf_high": ci["conf_high"].to_numpy(),
            }
        )

    def model_info(self) -> ModelInfo:
        """Output, observations, the inference used, firms (the cluster), absorbed effects."""
        return ModelInfo(
            depvar=self.depvar,
            nobs=self.nobs,
            vcov_label=self.vcov_label,
            clusters=self.n_clusters,
            fixef=self.fixef_names,
            stats=finite_stats(n_units=self.n_firms, j_stat=self.j_stat),
        )

    def plot(self, ax: object = None) -> object:
        """Input elasticities with their confidence intervals; returns the Axes."""
        title = f"{METHOD_LABELS[self.method]}: {self.depvar}"
        return plot_coefficients(self.tidy(), ax=ax, title=title)

    def tfp_dispersion(self, upper: float = 0.9, lower: float = 0.1) -> float:
        """Difference of two quantiles of log TFP (default the 90-10 log ratio)."""
        t = self.tfp.dropna()
        return float(t.quantile(upper) - t.quantile(lower))

    def summary(self) -> str:
        """Printable summary."""
        tab = self.tidy().set_index("term")
        lines = [
            f"Production function ({METHOD_LABELS[self.method]}): {self.depvar}",
            f"Observations: {self.nobs:,}   Firms: {self.n_firms:,}   "
            f"Std. errors: {self.vcov_label}",
            tab.to_string(float_format=lambda v: f"{v:.4f}"),
            f"Returns to scale: {self.returns_to_scale:.4f} ({self.returns_to_scale_se:.4f})",
        ]
        if np.isfinite(self.objective):
            extra = f"GMM criterion: {self.objective:.4g}"
            if np.isfinite(self.j_stat):
                extra += f"   Hansen J: {self.j_stat:.3f}"
            if np.isfinite(self.rho):
                extra += f"   rho: {self.rho:.4f}"
            lines.append(extra)
        lines.append(f"TFP 90-10 log difference: {self.tfp_dispersion():.4f}")
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


@dataclass(frozen=True, eq=False)
class ProdestByResult(ResultProtocol):
    """Production functions estimated by group (``prodest(..., by=column)``).

    Attributes
    ----------
    by : str
        The grouping column.
    results : dict
        Group value -> :class:`ProdestResult`, or None for a group that was not
        estimated (too few firms, or the estimation raised; see ``reasons``).
    reasons : dict
        Group value -> why it was not estimated.
    """

    by: str
    results: dict
    reasons: dict
    index: pd.Index
    positions: dict

    def _fitted(self) -> list[ProdestResult]:
        return [r for r in self.results.values() if r is not None]

    def tidy(self) -> pd.DataFrame:
        """Every group's :meth:`ProdestResult.tidy` rows, term ``input[by=group]``; NaN
        estimates for groups not estimated. Further columns: ``by`` (the group),
        ``input``, ``returns_to_scale``, ``nobs``, ``n_firms``, ``note``."""
        fitted = self._fitted()
        inputs = list(fitted[0].coef.index) if fitted else []
        empty = pd.DataFrame({c: np.nan for c in TIDY_COLUMNS}, index=range(len(inputs)))
        frames = []
        for level, res in self.results.items():
            ok = res is not None
            t = res.tidy() if ok else empty.assign(term=inputs)
            t = t.assign(
                term=[f"{x}[{self.by}={level}]" for x in inputs], input=inputs,
                returns_to_scale=res.returns_to_scale if ok else np.nan,
                nobs=res.nobs if ok else 0, n_firms=res.n_firms if ok else 0,
                note="" if ok else self.reasons.get(level, ""),
            )  # fmt: skip
            t.insert(len(TIDY_COLUMNS), self.by, [level] * len(t))
            frames.append(t)
        if not frames:
            return pd.DataFrame(columns=[*TIDY_COLUMNS, self.by, "input"])
        return pd.concat(frames, ignore_index=True)

    def model_info(self) -> ModelInfo:
        """Output, observations and firms summed over the estimated groups; the groups'
        inference (one label when they share it)."""
        fitted = self._fitted()
        labels = sorted({r.vcov_label for r in fitted})
        label = labels[0] if len(labels) == 1 else "; ".join(labels)
        return ModelInfo(
            depvar=fitted[0].depvar if fitted else "",
            nobs=sum(r.nobs for r in fitted),
            vcov_label=f"{label}, by {self.by}" if label else f"by {self.by}",
            stats=finite_stats(n_units=sum(r.n_firms for r in fitted)),
        )

    def plot(self, ax: object = None) -> object:
        """Every group's input elasticities with their confidence intervals; returns the Axes."""
        return plot_coefficients(self.tidy(), ax=ax, title=f"Production function by {self.by}")

    def _combined(self, attr: str) -> pd.Series:
        values = np.full(len(self.index), np.nan)
        for level, res in self.results.items():
            if res is not None:
                values[self.positions[level]] = getattr(res, attr).to_numpy()
        return pd.Series(values, index=self.index, name=attr)

    @property
    def tfp(self) -> pd.Series:
        """Log TFP from each row's group estimates (NaN in groups not estimated)."""
        return self._combined("tfp")

    @property
    def omega(self) -> pd.Series:
        """Productivity from each row's group estimates."""
        return self._combined("omega")

    def summary(self) -> str:
        """Printable per-group table."""
        head = f"Production functions by {self.by}   Std. errors: {self.model_info().vcov_label}"
        cols = [self.by, "input", "estimate", "std_error", "p_value", "returns_to_scale",
                "nobs", "n_firms", "note"]  # fmt: skip
        body = self.tidy()[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
        return head + "\n" + body

    def __repr__(self) -> str:
        return self.summary()
