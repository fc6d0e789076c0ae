"""The evaluation context shared by every report table and figure.

:class:`Evaluation` holds the prepared data (a copy: derived outcomes, the control pool,
the membership indicator), the spec and the optional truth, and memoises estimator fits
so that a table and a figure that need the same event study fit it once. Table and
figure builders are listed in :mod:`impact.report.registry`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts
from impact.errors import InvalidOptionError
from impact.estimators.att_gt import att_gt
from impact.estimators.etwfe import etwfe
from impact.estimators.event_study import EventStudyResult, event_study
from impact.estimators.feols import feols
from impact.linear.formula import formula_name
from impact.report.spec import Spec, derive_column

__all__ = [
    "COHORT",
    "EXPOSURE",
    "MEMBER",
    "OUTSIDE",
    "PLACEBO",
    "POOL",
    "POOL_NOTYET",
    "RESERVED",
    "TRUTH_TABLES",
    "Evaluation",
    "prepare",
]

#: Columns added to the evaluation's copy of the data.
POOL = "_impact_control_pool"
#: The pool plus every eventual member (controls of not-yet-treated comparisons).
POOL_NOTYET = "_impact_control_pool_notyet"
MEMBER = "_impact_member"
#: The cohort with every never-member code (NaN, 0, inf) read as NaN.
COHORT = "_impact_cohort"
#: Columns added by single tables to their own copies: the placebo cohort and the
#: outside-cell pool of table 9, the exposure cohort and pool of table 8.
PLACEBO = "_impact_placebo_cohort"
OUTSIDE = "_impact_outside_cells"
EXPOSURE = "_impact_exposure"
#: Every column name the report adds: a user column of one of these names is refused, so
#: that no table reads the report's values where the user's were meant (or the reverse).
RESERVED = (POOL, POOL_NOTYET, MEMBER, COHORT, PLACEBO, OUTSIDE, EXPOSURE)

#: Truth tables read from a truth object or mapping (DGP.md §4.9).
TRUTH_TABLES = ("firm_year", "att_gt", "att_event", "att_overall", "spillover_event", "hetero")

#: Outcomes whose truth is kept under another name in the truth files (counts: the
#: expected count, which Poisson estimators target).
TRUTH_NAMES = {"patents": "patent_mu"}

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


def prepare(data: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """The evaluation's copy of ``data``: derived outcomes, cohort, control pool, membership.

    The cohort is read as the estimators read it (:func:`normalize_cohorts`: NaN, 0 and
    inf mean never-member). Boolean covariates become 0/1 floats. ``data`` is not
    modified.
    """
    spec.validate(data)
    c = spec.columns
    for name in RESERVED:
        if name in data.columns:
            raise InvalidOptionError(f"column name {name!r} is reserved by impact.evaluate.")
    out = data.copy()
    for name, expr in spec.used_derived().items():
        out[name] = derive_column(data, name, expr)
    if data[c.cluster_cell].isna().any():
        raise InvalidOptionError(
            f"cluster-cell column {c.cluster_cell!r} has missing values; it must say for every "
            "row whether the firm's cell hosts a cluster."
        )
    in_cell = data[c.cluster_cell].astype(bool)
    out[POOL] = {"out_of_cell": ~in_cell, "in_cell": in_cell, "never": in_cell | True}[spec.control]
    periods = np.unique(period_numbers(data[c.time]))
    cohort = normalize_cohorts(data[c.cohort], periods=periods)
    out[COHORT] = cohort
    out[POOL_NOTYET] = out[POOL] | ~np.isnan(cohort)
    out[MEMBER] = (data[c.time].to_numpy(dtype=float) >= cohort).astype(float)
    for cov in spec.covariates:
        if pd.api.types.is_bool_dtype(out[cov]):
            out[cov] = out[cov].astype(float)
    return out


def _truth_tables(truth: Any) -> dict[str, Any]:
    """Truth tables from a :class:`~impact.datasets.ClusterTruth` or a mapping; ``params``
    (the generator's parameters, e.g. ``beta_l``) becomes a plain dict."""
    if truth is None:
        return {}
    get = truth.get if isinstance(truth, Mapping) else lambda k: getattr(truth, k, None)
    out: dict[str, Any] = {k: get(k) for k in TRUTH_TABLES if get(k) is not None}
    params = get("params")
    if params is not None:
        out["params"] = dict(params) if isinstance(params, Mapping) else dataclasses.asdict(params)
    return out


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Prepared data, spec, truth and a memo of fits; what every builder receives.

    Attributes
    ----------
    data : DataFrame
        Prepared copy (see :func:`prepare`).
    spec : Spec
        The user's spec with the cohort role pointing at the normalised cohort column.
    truth : dict
        The generator's truth tables (DataFrames) and ``params`` (empty for real data).
    """

    data: pd.DataFrame
    spec: Spec
    truth: dict[str, Any] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def build(cls, data: pd.DataFrame, spec: Spec, truth: Any = None) -> Evaluation:
        """Validate and prepare ``data`` for ``spec``; ``truth`` is optional."""
        internal = spec.replace(columns=dataclasses.replace(spec.columns, cohort=COHORT))
        return cls(prepare(data, spec), internal, _truth_tables(truth))

    # ------------------------------------------------------------------ shared settings
    @property
    def sector_fe(self) -> str | None:
        """Sector-by-period effects of the regression estimators (None if switched off)."""
        c = self.spec.columns
        sector, time = formula_name(c.sector), formula_name(c.time)
        return f"{sector}^{time}" if self.spec.sector_by_year else None

    @property
    def vcov(self) -> dict[str, str]:
        return {"cluster": self.spec.cluster}

    def _design(self) -> dict[str, Any]:
        c = self.spec.columns
        return {"unit": c.unit, "time": c.time, "cohort": c.cohort, "control_pool": POOL}

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """Fit once per key (fits are deterministic given the spec's seed)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # ------------------------------------------------------------------ fits
    def event_study(self, outcome: str, estimator: str, **extra: Any) -> EventStudyResult:
        """Event-time effects of ``outcome`` over the spec's window.

        ``estimator`` is an :func:`impact.event_study` estimator; regression estimators
        absorb sector-by-year effects, CS conditions on the spec's covariates.
        """
        key = ("es", outcome, estimator, tuple(sorted(extra.items())))
        return self.memo(key, lambda: self._event_study(outcome, estimator, **extra))

    def _event_study(self, outcome: str, estimator: str, **extra: Any) -> EventStudyResult:
        kw: dict[str, Any] = {**self._design(), "window": self.spec.window, **extra}
        if estimator == "cs":
            kw["covariates"] = list(self.spec.covariates)
        else:
            kw["fixed_effects"] = self.sector_fe
        if estimator != "imputation" or self.spec.cluster != self.spec.columns.unit:
            kw["vcov"] = self.vcov
        return event_study(self.data, y=outcome, estimator=estimator, seed=self.spec.seed, **kw)

    def att_gt(self, outcome: str, control: str = "never", **extra: Any) -> Any:
        """Doubly robust ATT(g,t) with the spec's covariates and control pool (memoised).

        ``control="notyet"`` also lets later joiners (in cluster cells) serve as controls
        before they join.
        """
        key = ("gt", outcome, control, tuple(sorted(extra.items())))
        return self.memo(key, lambda: self.fit_att_gt(self.data, outcome, control, **extra))

    def fit_att_gt(
        self, data: pd.DataFrame, outcome: str, control: str = "never", **extra: Any
    ) -> Any:
        """:func:`impact.att_gt` on ``data`` (a subset of the prepared data), not memoised."""
        pool = {"control_pool": POOL_NOTYET} if control == "notyet" else {}
        kw = {"covariates": list(self.spec.covariates), **self._design(), **pool, **extra}
        return att_gt(data, y=outcome, control=control, vcov=self.vcov, **kw)

    def static_twfe(self, outcome: str) -> Any:
        """``outcome ~ member | unit + sector^time`` on members and the control pool."""
        c = self.spec.columns

        def make() -> Any:
            member = ~np.isnan(self.data[COHORT].to_numpy())
            sample = self.data[member | self.data[POOL].to_numpy()]
            fe = " + ".join([formula_name(c.unit), self.sector_fe or formula_name(c.time)])
            fml = f"{formula_name(outcome)} ~ {MEMBER} | {fe}"
            return feols(fml, data=sample, vcov=self.vcov)

        return self.memo(("twfe", outcome), make)

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
                control_pool=POOL,
                family="poisson",
                fixed_effects=self.sector_fe,
                vcov=self.vcov,
            ),
        )

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
        fy = self.truth.get("firm_year")
        name = TRUTH_NAMES.get(outcome, outcome)
        ref = {"total": "00", "direct": "0S"}.get(self.spec.effect)
        if fy is None or ref is None or f"{name}_DS" not in fy.columns:
            return float("nan")
        g, t = fy["join_year"].to_numpy(dtype=float), fy["year"].to_numpy(dtype=float)
        alive = fy["alive_DS"].astype(bool).to_numpy()
        obs, cf = fy[f"{name}_DS"].to_numpy(dtype=float), fy[f"{name}_{ref}"].to_numpy(dtype=float)
        num = den = 0.0
        for cohort in np.unique(g[~np.isnan(g)]):
            post = (g == cohort) & (t >= cohort) & alive
            base = (g == cohort) & (t == cohort - 1) & alive
            if not post.any() or not base.any():
                continue
            shift = obs[base].sum() / cf[base].sum()
            num += obs[post].sum()
            den += cf[post].sum() * shift
        return float(num / den - 1) if den > 0 else float("nan")


def finite_mean(x: pd.Series) -> float:
    """Mean of the finite values (NaN if none)."""
    v = x.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")
