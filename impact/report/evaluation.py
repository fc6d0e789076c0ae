"""The evaluation context shared by every report table and figure.

:class:`Evaluation` holds the prepared data (a copy: derived outcomes, the control pool,
the membership indicator), the spec and the optional truth, and memoises estimator fits
so that a table and a figure that need the same event study fit it once. Table and
figure builders are listed in :mod:`impact.report.registry`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from impact.diagnostics.bacon import bacon
from impact.diagnostics.event_coefficients import event_coefficients
from impact.diagnostics.honest_did import honest_did
from impact.diagnostics.twfe_weights import twfe_weights
from impact.errors import MultipleMinimaWarning
from impact.estimators.att_gt import att_gt
from impact.estimators.es_engine import ENGINE_ESTIMATORS
from impact.estimators.etwfe import etwfe
from impact.estimators.event_study import EventStudyResult, event_study
from impact.estimators.feols import feols
from impact.linear.formula import formula_name
from impact.productivity.prodest import prodest
from impact.productivity.tfp_did import tfp_did
from impact.report.disclosure import check_engine_treated_firms, check_treated_firms
from impact.report.engine_input import EngineInput
from impact.report.prepare import InternalColumns, prepare
from impact.report.selection import BaselineFirms, baseline_firms, ipw_balance, selection_logit
from impact.report.spec import Spec
from impact.report.truth import TRUTH_TABLES, pooled_ratio, truth_tables

__all__ = [
    "LABELS", "SENSITIVITY_MBAR", "TRUTH_TABLES", "Evaluation", "InternalColumns", "prepare",
]  # fmt: skip

#: Relative-magnitude bounds of the report's sensitivity table and figure.
SENSITIVITY_MBAR = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)

#: Human-readable estimator labels.
LABELS = {
    "twfe": "static TWFE",
    "event_twfe": "TWFE event study",
    "cs": "Callaway-Sant'Anna",
    "cs_notyet": "Callaway-Sant'Anna, not-yet-treated",
    "sun_abraham": "Sun-Abraham",
    "imputation": "imputation (BJS)",
    "did2s": "did2s (Gardner)",
    "etwfe_poisson": "ETWFE Poisson",
}


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Prepared data, spec, truth and a memo of fits; what every builder receives.

    Attributes
    ----------
    frame : DataFrame or None
        Prepared copy (see :func:`prepare`); None when the panel is held by a query engine
        (``engine``), whose prepared copy :attr:`data` reads on first use.
    spec : Spec
        The user's spec with the cohort role pointing at the normalised cohort column.
    names : InternalColumns
        Names of the columns the report added to ``data`` (fresh for every data set).
    truth : dict
        The generator's truth tables (DataFrames) and ``params`` (empty for real data).
    engine : EngineInput or None
        The panel in a query engine: the fits that have an engine path run there
        (:meth:`in_engine`), the rest on :attr:`data`.
    """

    frame: pd.DataFrame | None
    spec: Spec
    names: InternalColumns
    truth: dict[str, Any] = field(default_factory=dict)
    engine: EngineInput | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)
    #: Progress of bootstrap draws: ``on_draws(what, done, total)``, set by the report's
    #: build loop per step (a display hook: no result depends on it).
    on_draws: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def build(cls, data: pd.DataFrame, spec: Spec, truth: Any = None) -> Evaluation:
        """Validate and prepare ``data`` for ``spec``; ``truth`` is optional."""
        prepared, names = prepare(data, spec)
        internal = spec.replace(columns=dataclasses.replace(spec.columns, cohort=names.cohort))
        check_treated_firms(prepared, internal, names.cohort)
        return cls(prepared, internal, names, truth_tables(truth))

    @classmethod
    def on_engine(cls, source: EngineInput, truth: Any = None) -> Evaluation:
        """The evaluation of a panel held by a query engine (see :mod:`.engine_input`)."""
        spec, names = source.spec, source.names
        internal = spec.replace(columns=dataclasses.replace(spec.columns, cohort=names.cohort))
        check_engine_treated_firms(source, internal)
        return cls(None, internal, names, truth_tables(truth), source)

    @property
    def data(self) -> pd.DataFrame:
        """The prepared in-memory copy (read from the engine on first use when the panel
        is held by one)."""
        if self.frame is not None:
            return self.frame
        assert self.engine is not None
        return self.engine.frame()

    def in_engine(self, estimator: str) -> bool:
        """Whether the event study ``estimator`` (an :func:`impact.event_study` name) runs
        in the query engine: CS always, TWFE, Sun-Abraham, imputation and did2s without
        sector-by-year effects (the engine's event studies absorb unit and period effects
        only). ATT(g,t) and static TWFE always run there."""
        if self.engine is None:
            return False
        return estimator == "cs" or (estimator in ENGINE_ESTIMATORS and self.sector_fe is None)

    # ------------------------------------------------------------------ shared settings
    @property
    def sector_fe(self) -> str | None:
        """Sector-by-period effects of the regression estimators (None if switched off)."""
        c = self.spec.columns
        if not (self.spec.sector_by_year and c.sector):
            return None
        return f"{formula_name(c.sector)}^{formula_name(c.time)}"

    @property
    def vcov(self) -> dict[str, str]:
        return {"cluster": self.spec.cluster}

    def _design(self) -> dict[str, Any]:
        c = self.spec.columns
        return {"unit": c.unit, "time": c.time, "cohort": c.cohort, "control_pool": self.names.pool}

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """Fit once per key (fits are deterministic given the spec's seed)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # ------------------------------------------------------------------ fits
    def event_study(
        self, outcome: str, estimator: str, *, rows: bool = False, **extra: Any
    ) -> EventStudyResult:
        """Event-time effects of ``outcome`` over the spec's window.

        ``estimator`` is an :func:`impact.event_study` estimator; regression estimators
        absorb sector-by-year effects, CS conditions on the spec's covariates. ``rows``:
        a fit on the in-memory rows even when the panel is held by an engine (the wild
        bootstraps and joint tests resample the units' own scores).
        """
        rows = rows and self.in_engine(estimator)
        key = ("es", outcome, estimator, rows, tuple(sorted(extra.items())))
        return self.memo(key, lambda: self._event_study(outcome, estimator, rows, **extra))

    def _event_study(
        self, outcome: str, estimator: str, rows: bool, **extra: Any
    ) -> EventStudyResult:
        kw: dict[str, Any] = {**self._design(), "window": self.spec.window, **extra}
        if estimator == "cs":
            kw["covariates"] = list(self.spec.covariates)
        else:
            kw["fixed_effects"] = self.sector_fe
        kw["vcov"] = self.vcov
        if self.engine is not None and self.in_engine(estimator) and not rows:
            data, kw["engine"] = self.engine.source, self.engine.engine
        else:
            data = self.data
        return event_study(data, y=outcome, estimator=estimator, seed=self.spec.seed, **kw)

    def att_gt(self, outcome: str, control: str = "never", *, rows: bool = False,
               **extra: Any) -> Any:  # fmt: skip
        """Doubly robust ATT(g,t) with the spec's covariates and control pool (memoised).

        ``control="notyet"`` also lets later joiners (in cluster cells) serve as controls
        before they join. ``rows``: as in :meth:`event_study`.
        """
        rows = rows and self.engine is not None
        key = ("gt", outcome, control, rows, tuple(sorted(extra.items())))
        if self.engine is not None and not rows:
            on = {"engine": self.engine.engine}
            make = lambda: self.fit_att_gt(self.engine.source, outcome, control, **extra, **on)  # noqa: E731
        else:
            make = lambda: self.fit_att_gt(self.data, outcome, control, **extra)  # noqa: E731
        return self.memo(key, make)

    def fit_att_gt(self, data: Any, outcome: str, control: str = "never", **extra: Any) -> Any:
        """:func:`impact.att_gt` on ``data`` (a subset of the prepared data, or its engine
        relation), not memoised."""
        pool = {"control_pool": self.names.pool_notyet} if control == "notyet" else {}
        kw = {"covariates": list(self.spec.covariates), **self._design(), **pool, **extra}
        return att_gt(data, y=outcome, control=control, vcov=self.vcov, **kw)

    def static_twfe(self, outcome: str, *, rows: bool = False) -> Any:
        """``outcome ~ member | unit + sector^time`` on members and the control pool;
        ``rows`` as in :meth:`event_study`."""
        c = self.spec.columns
        rows = rows and self.engine is not None

        def make() -> Any:
            n = self.names
            fe = " + ".join([formula_name(c.unit), self.sector_fe or formula_name(c.time)])
            fml = f"{formula_name(outcome)} ~ {formula_name(n.member)} | {fe}"
            if self.engine is not None and not rows:  # members and pool, chosen in the engine
                e = self.engine
                sample = e.engine.where(e.source, n.pool_notyet, ">", 0.5)
                return feols(fml, data=sample, vcov=self.vcov, engine=e.engine)
            return feols(fml, data=self.twfe_sample(), vcov=self.vcov)

        return self.memo(("twfe", outcome, rows), make)

    def twfe_sample(self) -> pd.DataFrame:
        """Members and the control pool: the sample of static TWFE and its diagnostics."""
        n = self.names
        member = ~np.isnan(self.data[n.cohort].to_numpy())
        return self.data[member | self.data[n.pool].to_numpy()]

    def twfe_weights(self, outcome: str) -> Any:
        """De Chaisemartin-D'Haultfoeuille weights of ``outcome ~ member | unit + time``
        on the static-TWFE sample (memoised)."""
        c = self.spec.columns
        return self.memo(
            ("twfe_weights", outcome),
            lambda: twfe_weights(
                self.twfe_sample(), y=outcome, unit=c.unit, time=c.time,
                treatment=self.names.member,
            ),
        )  # fmt: skip

    def bacon(self, outcome: str) -> Any:
        """Goodman-Bacon decomposition of ``outcome ~ member | unit + time`` on the firms of
        the static-TWFE sample observed with ``outcome`` in every period (the
        decomposition needs a balanced panel; memoised)."""
        c = self.spec.columns

        def make() -> Any:
            d = self.twfe_sample()
            ok = np.isfinite(d[outcome].to_numpy(dtype=float))
            periods = d.loc[ok, c.time].nunique()
            seen = d.loc[ok].groupby(c.unit)[c.time].nunique()
            complete = set(seen.index[seen == periods])
            balanced = d[ok & d[c.unit].isin(complete).to_numpy()]
            return bacon(balanced, y=outcome, unit=c.unit, time=c.time, treatment=self.names.member)

        return self.memo(("bacon", outcome), make)

    def honest_did(self, outcome: str, estimator: str, method: str) -> Any:
        """HonestDiD sensitivity of the average effect over event times 0 .. window end of
        ``estimator``'s event study (memoised): ``method="relative_magnitude"`` at
        :data:`SENSITIVITY_MBAR`, ``"smoothness"`` at ``M = 0`` (a linear pre-trend
        continues), each with its breakdown value."""

        def make() -> Any:
            es = self.event_study(outcome, estimator)
            n_post = int(event_coefficients(es).post.sum())
            bounds = {"Mbar": SENSITIVITY_MBAR} if method == "relative_magnitude" else {"M": 0.0}
            l_vec = [1.0 / n_post] * n_post
            return honest_did(es, method=method, l_vec=l_vec, seed=self.spec.seed, **bounds)

        return self.memo(("honest_did", outcome, estimator, method), make)

    def etwfe_poisson(self, outcome: str) -> Any:
        """Poisson ETWFE (cohort and period effects) against the control pool."""
        c = self.spec.columns
        return self.memo(
            ("etwfe", outcome),
            lambda: etwfe(
                self.data,
                y=outcome,
                unit=c.unit,
                time=c.time,
                cohort=c.cohort,
                control="never",
                control_pool=self.names.pool,
                family="poisson",
                fixed_effects=self.sector_fe,
                vcov=self.vcov,
            ),
        )

    def tfp_did(self) -> Any:
        """Log TFP (the production block's method, ACF by default), then CS with the spec's
        covariates and control pool, with the two-stage firm-block bootstrap (memoised)."""
        spec, c = self.spec, self.spec.columns

        def make() -> Any:
            return tfp_did(
                self.data,
                **spec.production.fit_kwargs(c.unit, c.time),
                cohort=c.cohort,
                did={"control_pool": self.names.pool, "covariates": list(spec.covariates)},
                event_times=tuple(range(spec.window[1] + 1)),
                n_boot=spec.n_boot,
                seed=spec.seed,
                progress=self.draw_reporter("tfp_did two-stage bootstrap"),
            )

        return self.memo("tfp_did", make)

    def draw_reporter(self, what: str) -> Any:
        """``progress=`` for a bootstrap: False, or a callback to :attr:`on_draws`."""
        if self.on_draws is None:
            return False
        return partial(self.on_draws, what)

    def prodest(self, method: str) -> tuple[Any, bool]:
        """The production block's function by ``method`` with membership in the law of
        motion (memoised); the flag says whether the GMM moments accept another minimum
        (a :class:`~impact.errors.MultipleMinimaWarning` was raised, recorded here)."""
        spec, c = self.spec, self.spec.columns

        def make() -> tuple[Any, bool]:
            args = {**spec.production.fit_kwargs(c.unit, c.time), "treatment": self.names.member}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", MultipleMinimaWarning)
                res = prodest(
                    self.data, method=method, n_boot=spec.n_boot, seed=spec.seed,
                    progress=self.draw_reporter(f"{method} bootstrap"), **args,
                )  # fmt: skip
            rival = any(issubclass(w.category, MultipleMinimaWarning) for w in caught)
            return res, rival

        return self.memo(("prodest", method), make)

    def baseline_firms(self) -> BaselineFirms:
        """Firms in the year before the first launch (tables 3 and 4; memoised)."""
        return self.memo(
            "baseline", lambda: baseline_firms(self.data, self.spec, list(self.spec.selection))
        )

    def selection_logit(self, in_cell_only: bool = False) -> pd.DataFrame:
        """Logit of membership on the baseline characteristics (table 3; memoised)."""

        def make() -> pd.DataFrame:
            firms = self.baseline_firms()
            if in_cell_only:
                return selection_logit(
                    firms.where(firms.in_cell), list(self.spec.selection), "firms in cluster cells"
                )
            return selection_logit(firms, list(self.spec.selection), "all firms")

        return self.memo(("selection", in_cell_only), make)

    def ipw_balance(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Balance of members and the control pool before and after inverse-probability
        weighting, and the propensity scores (table 4 and the overlap figure; memoised)."""

        def make() -> tuple[pd.DataFrame, pd.DataFrame]:
            firms = self.baseline_firms()
            pool = self.data.groupby(self.spec.columns.unit)[self.names.pool].first()
            control = ~firms.member & pool.reindex(firms.unit).to_numpy(bool)
            return ipw_balance(firms, list(self.spec.selection), control)

        return self.memo("balance", make)

    # ------------------------------------------------------------------ truth
    def true_event(self, outcome: str, effect: str | None = None) -> pd.Series | None:
        """True ATT(e) by event time for the spec's effect (None without a truth)."""
        tab = self.truth.get("att_event")
        effect = effect or self.spec.effect
        if tab is None or effect == "mixed" or outcome not in set(tab["outcome"]):
            return None
        t = tab[tab["outcome"] == outcome]
        return t.set_index("event_time")[f"att_{effect}_base"].astype(float)

    def true_post_average(self, outcome: str) -> float:
        """True effect averaged over event times 0 .. window end (NaN if unknown)."""
        e = self.true_event(outcome)
        if e is None:
            return float("nan")
        return float(e[(e.index >= 0) & (e.index <= self.spec.window[1])].mean())

    def true_simple(self, outcome: str) -> float:
        """True CS "simple" aggregation (cohort-size weights over post cells)."""
        tab = self.truth.get("att_overall")
        if tab is None or self.spec.effect == "mixed":
            return float("nan")
        t = tab[(tab["outcome"] == outcome) & (tab["aggregation"] == "simple")]
        return float(t[f"att_{self.spec.effect}_base"].iloc[0]) if len(t) else float("nan")

    def true_ratio(self, outcome: str) -> float:
        """True proportional effect on members' post-joining firm-years, as Poisson ETWFE
        with never-member controls measures it: each cohort's post-period ratio
        sum Y(D,S) / sum Y(ref) relative to the same ratio in its base year g - 1 (which
        the comparison differences out), pooled over post firm-years; ``ref`` is the
        no-policy path (total effect) or the exposure-only path (direct effect)."""
        return pooled_ratio(self.truth.get("firm_year"), outcome, self.spec.effect)


def finite_mean(x: pd.Series) -> float:
    """Mean of the finite values (NaN if none)."""
    v = x.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")
