"""Few-cluster inference in the report: when the spec's cluster variable has fewer than
:data:`~impact.inference.clusters.FEW_CLUSTERS` clusters, tables 5 and 13 add wild
(cluster) bootstrap p-values that hold there, table 6 bootstrap-t p-values and sup-t
bands by event time, and their notes say so."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact.errors import FewClustersWarning, ImpactError
from impact.estimators.did_linear import subgroup_difference
from impact.estimators.did_wildboot import did_wildboot, wild_bootstrap_t
from impact.estimators.wildboot import wildboot
from impact.inference.clusters import FEW_CLUSTERS
from impact.report.evaluation import Evaluation
from impact.report.headline import EVENT_ESTIMATORS

__all__ = [
    "WILD_DRAWS",
    "WILD_MIN_CLUSTERS",
    "few_clusters",
    "n_clusters",
    "wild_event_times",
    "wild_p",
    "wild_subgroups",
]

#: Draws of the wild bootstraps in the report (Webb weights).
WILD_DRAWS = 999
#: Fewer clusters than this: no wild bootstrap either (too few distinct draws to resolve
#: a 5% test; MacKinnon & Webb), the column stays blank and the note says so.
WILD_MIN_CLUSTERS = 6
#: Estimators with a wild bootstrap in table 5: CS (bootstrap-t of the dynamic
#: aggregation), Sun-Abraham, imputation and did2s (bootstrap-t of the event study's
#: average), static TWFE (restricted wild cluster bootstrap of the coefficient).
WILD_ESTIMATORS = ("cs", "cs_notyet", "sun_abraham", "imputation", "did2s", "twfe")


def n_clusters(ev: Evaluation) -> int:
    """Clusters of the spec's cluster variable in the estimators' sample (members and
    the control pool: units outside it are never compared with)."""
    if ev.engine is not None:  # counted in the engine
        return ev.engine.distinct(ev.spec.cluster, where=ev.names.pool_notyet)
    return int(ev.twfe_sample()[ev.spec.cluster].nunique())


def few_clusters(ev: Evaluation) -> int | None:
    """:func:`n_clusters` when it is below :data:`FEW_CLUSTERS`, else None."""
    n = n_clusters(ev)
    return n if n < FEW_CLUSTERS else None


def _run(ev: Evaluation, outcome: str, estimator: str) -> float:
    last, seed = ev.spec.window[1], ev.spec.seed
    if estimator in ("cs", "cs_notyet"):
        gt = ev.att_gt(outcome, control="notyet" if estimator == "cs_notyet" else "never",
                       rows=True)  # fmt: skip
        res = did_wildboot(gt, ev.data, aggregate="dynamic", min_e=0, max_e=last,
                           B=WILD_DRAWS, seed=seed)  # fmt: skip
        return float(res.table["p_value"].iloc[0])
    if estimator == "twfe":
        fit = ev.static_twfe(outcome, rows=True)
        res = wildboot(fit, param=ev.names.member, B=WILD_DRAWS, weights="webb", seed=seed)
        return float(res.p_value)
    return float(_event_wild(ev, outcome, EVENT_ESTIMATORS[estimator]).table["p_value"].iloc[0])


def _event_wild(ev: Evaluation, outcome: str, estimator: str):
    """did_wildboot of the report's event study (memoised: tables 5 and 6 share it); for
    CS, of its att_gt fit's dynamic aggregation over the window."""

    def make():
        es = ev.event_study(outcome, estimator, rows=True)
        if estimator != "cs":
            return did_wildboot(es, ev.data, B=WILD_DRAWS, seed=ev.spec.seed)
        lo, hi = ev.spec.window
        return did_wildboot(es.fit, ev.data, aggregate="dynamic", min_e=lo, max_e=hi,
                            B=WILD_DRAWS, seed=ev.spec.seed)  # fmt: skip

    return ev.memo(("wild_es", outcome, estimator), make)


def wild_event_times(ev: Evaluation, outcome: str, estimator: str, notes: list[str]):
    """Table 6's few-cluster columns for one event study: ``rel_time``, ``p_wild``,
    ``wild_band_low``, ``wild_band_high`` (bootstrap-t p-value and sup-t band of each event
    time); None when it fails (the reason goes to ``notes``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)  # table 5 notes it
            res = _event_wild(ev, outcome, estimator)
    except ImpactError as exc:
        notes.append(f"{outcome}, {estimator}: no wild bootstrap ({str(exc).rstrip('.')})")
        return None
    tab = res.table.iloc[1:]  # the overall effect first
    rel = [int(str(t).rsplit("::", 1)[1]) for t in tab["term"]]
    out = pd.DataFrame({
        "rel_time": np.asarray(rel, dtype=int),
        "p_wild": tab["p_value"].to_numpy(dtype=float),
        "wild_band_low": tab["band_low"].to_numpy(dtype=float),
        "wild_band_high": tab["band_high"].to_numpy(dtype=float),
    })  # fmt: skip
    return out


def wild_p(ev: Evaluation, outcome: str, estimator: str, notes: list[str]) -> float:
    """The wild bootstrap p-value of table 5's effect of ``estimator`` on ``outcome``
    (NaN for estimators without one, or when it fails: the reason goes to ``notes``, as
    does a few-treated-clusters warning)."""
    if estimator not in WILD_ESTIMATORS:
        return float("nan")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FewClustersWarning)
            p = _run(ev, outcome, estimator)
    except ImpactError as exc:
        notes.append(f"{outcome}, {estimator}: no wild bootstrap ({str(exc).rstrip('.')})")
        return float("nan")
    for w in caught:  # few treated clusters: the table says so instead of a console warning
        if not issubclass(w.category, FewClustersWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
            continue
        text = f"{outcome}: {str(w.message).rstrip('.')}"
        if "treated" in text and text not in notes:
            notes.append(text)
    return p


def wild_subgroups(ev: Evaluation, fits, masks, unit_cluster, notes: list[str]) -> list[float]:
    """Table 7's few-cluster p-values for two subgroup fits: the bootstrap-t p-value of
    each subgroup's effect and of their difference, from one set of draws (the same
    weight for a cluster in both subgroups); NaN when it fails (the reason to ``notes``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)  # table 5 notes it
            lin = subgroup_difference(fits, masks, ev.data, unit_cluster)
            res = wild_bootstrap_t(lin, ev.data, B=WILD_DRAWS, weights="webb", alpha=0.05,
                                   seed=ev.spec.seed, residuals="jackknife")  # fmt: skip
    except ImpactError as exc:
        notes.append(f"no wild bootstrap ({str(exc).rstrip('.')})")
        return [float("nan")] * 3
    return [float(p) for p in res.table["p_value"]]
