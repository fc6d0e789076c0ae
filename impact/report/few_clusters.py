"""Few-cluster inference in the report: when the spec's cluster variable has fewer than
:data:`~impact.inference.clusters.FEW_CLUSTERS` clusters, tables 5 and 13 add wild
(cluster) bootstrap p-values that hold there, and say so in their notes."""

from __future__ import annotations

import warnings

from impact.errors import FewClustersWarning, ImpactError
from impact.estimators.did_wildboot import did_wildboot
from impact.estimators.wildboot import wildboot
from impact.inference.clusters import FEW_CLUSTERS
from impact.report.evaluation import Evaluation
from impact.report.headline import EVENT_ESTIMATORS

__all__ = ["WILD_DRAWS", "WILD_MIN_CLUSTERS", "few_clusters", "n_clusters", "wild_p"]

#: Draws of the wild bootstraps in the report (Webb weights).
WILD_DRAWS = 999
#: Fewer clusters than this: no wild bootstrap either (too few distinct draws to resolve
#: a 5% test; MacKinnon & Webb), the column stays blank and the note says so.
WILD_MIN_CLUSTERS = 6
#: Estimators with a wild bootstrap in table 5: CS (bootstrap-t of the dynamic
#: aggregation), imputation and did2s (bootstrap-t of the event study's average), static
#: TWFE (restricted wild cluster bootstrap of the coefficient).
WILD_ESTIMATORS = ("cs", "cs_notyet", "imputation", "did2s", "twfe")


def n_clusters(ev: Evaluation) -> int:
    """Clusters of the spec's cluster variable in the estimators' sample (members and
    the control pool: units outside it are never compared with)."""
    return int(ev.twfe_sample()[ev.spec.cluster].nunique())


def few_clusters(ev: Evaluation) -> int | None:
    """:func:`n_clusters` when it is below :data:`FEW_CLUSTERS`, else None."""
    n = n_clusters(ev)
    return n if n < FEW_CLUSTERS else None


def _run(ev: Evaluation, outcome: str, estimator: str) -> float:
    last, seed = ev.spec.window[1], ev.spec.seed
    if estimator in ("cs", "cs_notyet"):
        gt = ev.att_gt(outcome, control="notyet" if estimator == "cs_notyet" else "never")
        res = did_wildboot(gt, ev.data, aggregate="dynamic", min_e=0, max_e=last,
                           B=WILD_DRAWS, seed=seed)  # fmt: skip
        return float(res.table["p_value"].iloc[0])
    if estimator == "twfe":
        fit = ev.static_twfe(outcome)
        res = wildboot(fit, param=ev.names.member, B=WILD_DRAWS, weights="webb", seed=seed)
        return float(res.p_value)
    es = ev.event_study(outcome, EVENT_ESTIMATORS[estimator])
    return float(did_wildboot(es, ev.data, B=WILD_DRAWS, seed=seed).table["p_value"].iloc[0])


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
