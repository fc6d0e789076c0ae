"""The immutable result of a fixed-effects linear regression."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from impact._typing import FloatArray, VcovSpec
from impact.data.samplelog import SampleLog
from impact.engine.base import EngineUse
from impact.errors import InvalidOptionError
from impact.inference.linear_vcov import compute_vcov, frame_cluster_codes
from impact.inference.ssc import SSC, SmallSample
from impact.inference.vcov import parse_vcov
from impact.linear.demean import fixef_coefficients
from impact.linear.fixed_effects import FixedEffects
from impact.linear.formula import ParsedFormula
from impact.linear.model_matrix import build_design, factor_values
from impact.results.hypothesis import WaldTest, coef_table, lincom, wald_test
from impact.results.plotting import plot_coefficients
from impact.results.protocol import ModelInfo, ResultProtocol, finite_stats

__all__ = ["FeolsResult"]


@dataclass(frozen=True, eq=False)
class FeolsResult(ResultProtocol):
    """Result of :func:`impact.feols`. Immutable; holds no reference to the user's frame.

    Attributes
    ----------
    formula : str
    depvar : str
    coef, se : Series
        Estimates and standard errors by term.
    vcov : DataFrame
    nobs : int
        Observations used.
    df_resid : int
        ``N`` minus slopes minus identified fixed-effect coefficients.
    df_t : int
        Degrees of freedom of the t distribution used for p-values and intervals.
    n_clusters : dict
        Clusters per cluster variable (empty for iid/hetero).
    vcov_label : str
    ssc : SSC
    small_sample : SmallSample
    fixef_names : tuple of str
    fixef_sizes : dict
        Levels per fixed-effect dimension in the estimation sample.
    r2, r2_within : float
    ssr : float
    collinear : tuple of str
        Regressors dropped as collinear.
    vcov_psd_fixed : bool
        True if a multi-way cluster vcov had negative eigenvalues set to zero.
    sample_log : SampleLog
    demean_strategy : str

    Examples
    --------
    Wooldridge, *Introductory Econometrics*, Example 14.1 reports n = 162 firm-years, 104 degrees
    of freedom, a within R-squared of 0.201 and standard errors 0.151 (``grant``) and 0.210
    (``grant_1``).

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["lscrap"])
    >>> fit = impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain)
    >>> fit.nobs, fit.df_t, round(fit.r2_within, 3)
    (162, 104, 0.201)
    >>> fit.se[["grant", "grant_1"]].round(3).tolist()
    [0.151, 0.21]
    >>> fit.tidy().columns.tolist()
    ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high']
    """

    formula: str
    depvar: str
    coef: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    nobs: int
    df_resid: int
    df_t: int
    n_clusters: Mapping[str, int]
    vcov_label: str
    ssc: SSC
    small_sample: SmallSample
    fixef_names: tuple[str, ...]
    fixef_sizes: Mapping[str, int]
    r2: float
    r2_within: float
    ssr: float
    collinear: tuple[str, ...]
    vcov_psd_fixed: bool
    sample_log: SampleLog
    demean_strategy: str
    _parsed: ParsedFormula = field(repr=False)
    _row_index: pd.Index | None = field(repr=False)
    _y: FloatArray | None = field(repr=False)
    _resid: FloatArray | None = field(repr=False)
    _xbeta: FloatArray | None = field(repr=False)
    _fe: FixedEffects | None = field(repr=False)
    _weights: FloatArray | None = field(repr=False)
    _cat_levels: Mapping[str, list[object]] = field(repr=False)
    #: the design and outcome after absorbing the fixed effects, and the user's frame (a
    #: reference, never modified): what the wild cluster bootstrap refits from
    _Xd: FloatArray | None = field(default=None, repr=False, kw_only=True)
    _yd: FloatArray | None = field(default=None, repr=False, kw_only=True)
    _data: pd.DataFrame | None = field(default=None, repr=False, kw_only=True)
    #: the engine's passes and collected bytes when the fit ran in a query engine (its
    #: rows stayed there: no residuals, fitted values or fixed effects here)
    engine_use: EngineUse | None = field(default=None, kw_only=True)
    #: IV fits: per endogenous regressor, its first stage's coefficients on the excluded
    #: instruments (``coef``) and their Wald F (``f_stat``) under the variance the fit
    #: was estimated with (``vcov``; :meth:`vcov_as` does not recompute it)
    first_stage: Mapping[str, Mapping[str, object]] | None = field(default=None, kw_only=True)

    def _rows(self, what: str) -> None:
        if self._y is None:
            name = self.engine_use.engine if self.engine_use is not None else "a query"
            raise InvalidOptionError(
                f"this fit ran in the {name} engine and its rows stayed there, so {what} "
                "are not available; fit an in-memory pandas frame for them."
            )

    # ----------------------------------------------------------------- tables
    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficient table: term, estimate, std_error, statistic, p_value, conf_low, conf_high."""
        return coef_table(self.coef, self.se, self.df_t, alpha)

    def model_info(self) -> ModelInfo:
        """Outcome, observations, vcov, clusters, fixed effects, SSC and R²."""
        return ModelInfo(
            depvar=self.depvar,
            nobs=self.nobs,
            vcov_label=self.vcov_label,
            clusters=dict(self.n_clusters),
            fixef=tuple(self.fixef_names),
            ssc=self.ssc.name if self.ssc is not None else "",
            stats=self._fit_stats(),
        )

    def _fit_stats(self) -> dict[str, float]:
        return finite_stats(r2=self.r2, r2_within=self.r2_within if self.fixef_names else None)

    def plot(self, ax: object = None) -> object:
        """Coefficient plot (estimates with their confidence intervals); returns the Axes."""
        return plot_coefficients(self.tidy(), ax=ax, title=self.depvar)

    def confint(self, alpha: float = 0.05) -> pd.DataFrame:
        """Confidence intervals by term."""
        t = self.tidy(alpha).set_index("term")
        return t[["conf_low", "conf_high"]]

    @property
    def pvalue(self) -> pd.Series:
        """Two-sided p-values by term."""
        return self.tidy().set_index("term")["p_value"]

    @property
    def tstat(self) -> pd.Series:
        """t statistics by term."""
        return self.coef / self.se

    def summary(self) -> str:
        """Printable summary stating the sample, the vcov, clusters and the SSC preset."""
        t = self.tidy()
        lines = [
            f"{'2SLS' if self.first_stage is not None else 'OLS'}: {self.formula}",
            f"Observations: {self.nobs}"
            + (
                f"   Fixed effects: {', '.join(f'{k} ({v})' for k, v in self.fixef_sizes.items())}"
                if self.fixef_sizes
                else ""
            ),
            f"Standard errors: {self.vcov_label}"
            + (
                f", G = {', '.join(str(g) for g in self.n_clusters.values())}"
                if self.n_clusters
                else ""
            )
            + f"; SSC: {self.ssc.name} (K = {self.small_sample.K}); t df = {self.df_t}",
            "",
        ]
        width = max([len(str(s)) for s in t["term"]] + [8])
        lines.append(
            f"{'':<{width}} {'Estimate':>12} {'Std. Error':>12} {'t value':>9} {'Pr(>|t|)':>10}"
        )
        for row in t.itertuples(index=False):
            lines.append(
                f"{row.term!s:<{width}} {row.estimate:>12.6g} {row.std_error:>12.6g} "
                f"{row.statistic:>9.3f} {row.p_value:>10.4g}"
            )
        lines.append("")
        within = self.fixef_names and np.isfinite(self.r2_within)
        lines.append(
            f"R2: {self.r2:.5f}" + (f"   Within R2: {self.r2_within:.5f}" if within else "")
        )
        for name, first in (self.first_stage or {}).items():
            lines.append(
                f"First stage of {name}: F of the excluded instruments = "
                f"{first['f_stat']:.4g} ({first['vcov']})"
            )
        if self.collinear:
            lines.append(f"Dropped as collinear: {', '.join(self.collinear)}")
        if self.vcov_psd_fixed:
            lines.append(
                "Note: the multi-way cluster vcov was not PSD; negative eigenvalues set to 0."
            )
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        if self.engine_use is not None:
            u = self.engine_use
            lines.append(
                f"Engine: {u.engine}, {u.passes} passes over the data, "
                f"{u.bytes_collected:,} bytes collected"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    # ----------------------------------------------------------------- tests
    def wald(
        self,
        restriction: Mapping[str, float] | Sequence[str] | np.ndarray | None = None,
        q: float | Sequence[float] | None = None,
    ) -> WaldTest:
        """F test of ``R b = q`` with this model's vcov and t df (default: all slopes zero)."""
        restriction = list(self.coef.index) if restriction is None else restriction
        return wald_test(self.coef, self.vcov, restriction, q, df=self.df_t)

    def lincom(self, weights: Mapping[str, float], alpha: float = 0.05) -> pd.DataFrame:
        """Estimate and test a linear combination, e.g. ``{"grant": 1, "grant_1": 1}``."""
        return lincom(self.coef, self.vcov, weights, df=self.df_t, alpha=alpha)

    def _fit_rows(self, columns: list[str]) -> pd.DataFrame:
        """``columns`` of the fit's data on the fit's rows, after checking that those rows
        still hold the outcome the fit used (the frame was not reordered, re-indexed or
        changed since the fit)."""
        data = self._data
        try:
            rows = data.loc[self._row_index]
        except KeyError:
            rows = None
        same = rows is not None and self._parsed.depvar.var in rows
        if same:
            y = factor_values(rows, self._parsed.depvar)
            same = len(y) == len(self._y) and np.allclose(y, self._y, rtol=0, atol=0,
                                                          equal_nan=True)  # fmt: skip
        if not same:
            raise InvalidOptionError(
                "the fit's data changed after fitting (rows dropped, reordered or "
                "re-indexed, or the outcome changed): refit to recompute."
            )
        return rows[columns]

    def vcov_as(self, vcov: VcovSpec, ssc: SSC | None = None) -> FeolsResult:
        """The same fit with another variance, without refitting.

        Parameters
        ----------
        vcov : str or dict
            ``"iid"``, ``"hetero"``, ``{"cluster": "a"}``, ``{"CRV1": "a+b"}`` ... (as in
            :func:`impact.feols`; cluster columns are read from the fit's data, on the rows
            of the fit). CRV3 refits once per cluster: ask :func:`impact.feols` for it.
        ssc : SSC, optional
            Small-sample corrections (default: the fit's).

        Returns
        -------
        FeolsResult
            Coefficients unchanged; ``se``, ``vcov``, ``df_t``, ``n_clusters`` and the
            label of the new variance.
        """
        self._rows("another variance")
        request = parse_vcov(vcov)
        if request.kind == "CRV3" or self._Xd is None or self._data is None:
            raise InvalidOptionError(
                "vcov_as recomputes iid, hetero and CRV1 variances of an in-memory feols fit; "
                "for CRV3 (one refit per cluster) call impact.feols with that vcov."
            )
        ssc = self.ssc if ssc is None else ssc
        data = self._data
        missing = [c for c in request.clusters if c not in data.columns]
        if missing:
            raise InvalidOptionError(
                f"cluster columns {missing} are not columns of the fit's data."
            )
        if request.clusters and not data.index.is_unique:
            raise InvalidOptionError(
                "the fit's data has a repeated index: reset it (data.reset_index(drop=True)) "
                "and refit, so each row's cluster can be found."
            )
        frame = self._fit_rows(list(request.clusters)) if request.clusters else None
        w = self._weights
        wu = self._resid if w is None else self._resid * w
        Xd = self._Xd
        N, k = self.nobs, len(self.coef)
        vres = compute_vcov(
            request, ssc, bread=np.linalg.inv(Xd.T @ (Xd if w is None else Xd * w[:, None])),
            scores=Xd * wu[:, None], ssr_over_n=self.ssr / N, N=N, k=k, fe=self._fe,
            clusters=frame_cluster_codes(frame, request.clusters) if frame is not None else [],
            beta=self.coef.to_numpy(), fe_rank=N - k - self.df_resid,
        )  # fmt: skip
        names = list(self.coef.index)
        se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
        return dataclasses.replace(
            self, se=pd.Series(se, index=names, name="std_error"),
            vcov=pd.DataFrame(vres.V, index=names, columns=names), df_t=vres.small.df_t,
            n_clusters=dict(vres.n_clusters), vcov_label=request.label, ssc=ssc,
            small_sample=vres.small, vcov_psd_fixed=vres.psd_fixed,
        )  # fmt: skip

    # ----------------------------------------------------------------- post-estimation
    def _series(self, values: FloatArray, name: str) -> pd.Series:
        return pd.Series(values, index=self._row_index, name=name)

    def resid(self) -> pd.Series:
        """Residuals of the used rows, indexed like the user's frame."""
        self._rows("residuals")
        return self._series(self._resid, "resid")

    def fitted(self) -> pd.Series:
        """Fitted values (including fixed effects) of the used rows."""
        self._rows("fitted values")
        return self._series(self._y - self._resid, "fitted")

    @cached_property
    def _fixef_values(self) -> tuple[FloatArray, ...]:
        self._rows("fixed effects")
        if self._fe is None:
            return ()
        d = self._y - self._resid - self._xbeta
        return fixef_coefficients(d, self._fe, self._weights)

    def fixef(self) -> dict[str, pd.Series]:
        """Estimated fixed effects by dimension.

        Normalisation: the first level of every dimension after the first is zero, so
        only sums across dimensions are identified (as in fixest's ``fixef()``).
        """
        self._rows("fixed effects")
        if self._fe is None:
            return {}
        return {
            name: pd.Series(vals, index=labels, name=name)
            for name, vals, labels in zip(
                self._fe.names, self._fixef_values, self._fe.labels, strict=True
            )
        }

    def predict(self, newdata: pd.DataFrame | None = None) -> pd.Series:
        """Predictions including fixed effects.

        Without ``newdata``: the fitted values of the used rows. With ``newdata``: NaN
        where a regressor is missing or a categorical level or fixed-effect level was
        not in the estimation sample.
        """
        self._rows("predictions")
        if newdata is None:
            return self.fitted().rename("predict")
        cols = [c for t in self._parsed.terms for c in t.columns]
        cols += [c for fe in self._parsed.fixef for c in fe]
        missing = [c for c in dict.fromkeys(cols) if c not in newdata.columns]
        if missing:
            from impact.errors import ColumnNotFoundError

            raise ColumnNotFoundError(f"newdata lacks column {missing[0]!r} used by the model.")
        frame = newdata[list(dict.fromkeys(cols))]
        ok = frame.notna().all(axis=1).to_numpy().copy()
        for var, levels in self._cat_levels.items():
            ok &= pd.Index(levels).get_indexer(frame[var]) >= 0
        pred = np.full(len(frame), np.nan)
        sub = frame.loc[ok]
        if len(sub):
            design = build_design(
                sub, self._parsed, has_fixef=self._fe is not None, levels=self._cat_levels
            )
            X = pd.DataFrame(design.X, columns=list(design.names))
            X = X.reindex(columns=list(self.coef.index), fill_value=0.0)
            p = X.to_numpy() @ self.coef.to_numpy()
            if self._fe is not None:
                for fe_cols, labels, vals in zip(
                    self._parsed.fixef, self._fe.labels, self._fixef_values, strict=True
                ):
                    lookup = pd.Series(vals, index=labels)
                    if len(fe_cols) == 1:
                        keys = sub[fe_cols[0]]
                    else:
                        keys = pd.MultiIndex.from_frame(sub[list(fe_cols)])
                    p = p + lookup.reindex(keys).to_numpy()
            pred[ok] = np.where(np.isfinite(p), p, np.nan)
        return pd.Series(pred, index=newdata.index, name="predict")
