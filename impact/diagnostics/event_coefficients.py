"""One view of every event-study-like result for the diagnostics: the event-time
coefficients, their joint covariance (pre and post periods) and the reference period."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.inference.clusters import influence_vcov
from impact.results.aggregate import AggregateResult
from impact.results.did_multiplegt import DidMultiplegtResult
from impact.results.event_study import EventStudyResult
from impact.results.linear import FeolsResult

__all__ = ["EventCoefficients", "event_coefficients"]

#: A feols coefficient of an ``i(var, ref=...)`` dummy, ``var::k``, or of an
#: ``i(var, by, ref=...)`` interaction, ``var::k:by``.
_DUMMY = re.compile(r"^(?P<var>[^:]+)::(?P<k>-?\d+(?:\.0+)?)(?::(?P<by>.+))?$")


@dataclass(frozen=True)
class EventCoefficients:
    """Event-time coefficients relative to a reference period.

    Attributes
    ----------
    rel_time : ndarray of int
        Sorted event times, the reference excluded.
    estimate : ndarray
    vcov : ndarray
        Joint covariance of ``estimate`` (pre- and post-period coefficients).
    reference : int
        The normalised event time (its coefficient is 0 by construction).
    source : str
        What the coefficients come from (for messages and summaries).
    """

    rel_time: np.ndarray
    estimate: FloatArray
    vcov: FloatArray
    reference: int
    source: str

    @property
    def pre(self) -> np.ndarray:
        """The pre-periods: event times before the reference."""
        return self.rel_time < self.reference

    @property
    def post(self) -> np.ndarray:
        """The post-periods: event times after the reference (with anticipation, the
        anticipation periods between the reference and 0 count as post)."""
        return self.rel_time > self.reference


def event_coefficients(result: Any, reference: int | None = None) -> EventCoefficients:
    """The event-time coefficients of ``result`` with their joint covariance.

    Accepts :func:`impact.event_study` results (every estimator but imputation), a
    dynamic aggregation of :func:`impact.att_gt` with ``base_period="universal"``, and a
    :func:`impact.feols` fit with ``i(rel_time, ref=...)`` dummies (``reference`` then
    defaults to the event time missing from the dummies, else -1).

    Raises
    ------
    InvalidOptionError
        The result has no joint covariance of pre- and post-period coefficients (with
        the estimator that has one), or is not an event study.
    """
    if isinstance(result, FeolsResult):
        return _checked(_from_feols(result, reference))
    if isinstance(result, DidMultiplegtResult):
        if reference is not None and reference != -1:
            raise InvalidOptionError(
                "did_multiplegt's effects and placebos are changes from the period before "
                f"the switch (event time -1); reference= ({reference!r}) applies to feols "
                "fits only."
            )
        return _checked(_from_switching(result))
    if isinstance(result, EventStudyResult | AggregateResult):
        coef = (
            _from_event_study(result)
            if isinstance(result, EventStudyResult)
            else _from_aggregation(result)
        )
        if reference is not None and reference != coef.reference:
            raise InvalidOptionError(
                f"{coef.source} is normalised on event time {coef.reference}; reference= "
                f"({reference!r}) applies to feols fits only."
            )
        return _checked(coef)
    raise InvalidOptionError(
        f"{type(result).__name__} is not an event study: pass an impact.event_study result, "
        "att_gt(..., base_period='universal').aggregate('dynamic'), or a feols fit with "
        "i(rel_time, ref=...) dummies."
    )


def _checked(coef: EventCoefficients) -> EventCoefficients:
    """Finite coefficients and covariances, and at least one post-period."""
    if not (np.all(np.isfinite(coef.estimate)) and np.all(np.isfinite(coef.vcov))):
        bad = coef.rel_time[~np.isfinite(coef.estimate) | ~np.isfinite(coef.vcov).all(axis=0)]
        raise InvalidOptionError(
            f"{coef.source}: event times {bad.tolist()} have a missing coefficient or "
            "covariance (e.g. no observations); narrow the window or refit."
        )
    if not coef.post.any():
        raise InvalidOptionError(
            f"{coef.source} has no event time after the reference {coef.reference}."
        )
    return coef


def _from_event_study(res: EventStudyResult) -> EventCoefficients:
    if res.estimator == "imputation":
        raise InvalidOptionError(
            "estimator='imputation' has no joint covariance of its pre- and post-period "
            "coefficients (its pre-period coefficients come from a separate regression on "
            "untreated rows); use estimator='did2s', which estimates both jointly."
        )
    if res.vcov is None or not len(res.vcov):
        raise InvalidOptionError(f"the {res.estimator} event study has no covariance matrix.")
    rel = np.asarray(res.vcov.index, dtype=int)
    order = np.argsort(rel)
    est = res.table.set_index("rel_time").loc[rel[order], "estimate"].to_numpy(dtype=float)
    V = res.vcov.to_numpy(dtype=float)[np.ix_(order, order)]
    reference = int(res.settings.get("reference", -1))
    return EventCoefficients(rel[order], est, V, reference, f"event_study({res.estimator})")


def _from_switching(res: DidMultiplegtResult) -> EventCoefficients:
    """Placebos (event times -2, -3, ...) and effects (0, 1, ...) of did_multiplegt: long
    differences from the period before the switch, as an event study with a universal
    base period."""
    rel = np.sort(np.asarray(res.vcov.index, dtype=int))
    est = res.table.set_index("rel_time").loc[rel, "estimate"].to_numpy(dtype=float)
    V = res.vcov.loc[rel, rel].to_numpy(dtype=float)
    return EventCoefficients(rel, est, V, -1, "did_multiplegt")


def _from_aggregation(agg: AggregateResult) -> EventCoefficients:
    if agg.type != "dynamic":
        raise InvalidOptionError(
            f"a {agg.type!r} aggregation is not an event study; use aggregate('dynamic')."
        )
    if agg.base_period != "universal":
        raise InvalidOptionError(
            "att_gt's pre-period effects with a varying base period are period-to-period "
            "changes, not deviations from one reference period; refit with "
            "base_period='universal'."
        )
    if agg.table_influence is None:
        raise InvalidOptionError("this aggregation carries no influence functions.")
    tab = agg.table
    reference = -1 - agg.anticipation
    keep = (tab["rel_time"] != reference).to_numpy() & tab["std_error"].notna().to_numpy()
    rel = tab["rel_time"].to_numpy(dtype=int)[keep]
    V = influence_vcov(agg.table_influence[:, keep], agg.cluster)
    est = tab["estimate"].to_numpy(dtype=float)[keep]
    return EventCoefficients(rel, est, V, reference, "att_gt dynamic aggregation")


def _from_feols(fit: FeolsResult, reference: int | None) -> EventCoefficients:
    parsed = [(name, _DUMMY.match(str(name))) for name in fit.coef.index]
    dummies = [(name, m) for name, m in parsed if m]
    variables = {(m.group("var"), m.group("by")) for _, m in dummies}
    if len(variables) != 1:
        raise InvalidOptionError(
            "the feols fit needs exactly one set of i(rel_time, ref=...) event-time dummies "
            f"(found {sorted(str(v) for v in variables) or 'none'})."
        )
    names = [name for name, _ in dummies]
    rel = np.array([int(float(m.group("k"))) for _, m in dummies])
    order = np.argsort(rel)
    rel, names = rel[order], [names[i] for i in order]
    reference = _feols_reference(fit, rel, reference)
    V = fit.vcov.loc[names, names].to_numpy(dtype=float)
    est = fit.coef[names].to_numpy(dtype=float)
    return EventCoefficients(rel, est, V, reference, "feols i() event study")


def _feols_reference(fit: FeolsResult, rel: np.ndarray, reference: object) -> int:
    """The reference event time: ``reference=``, else the ``ref=`` of the formula's i()
    term, else the one event time missing between two observed neighbours."""
    if reference is None:
        found = re.search(r"\bi\([^)]*\bref\s*=\s*(-?\d+(?:\.0+)?)\s*[,)]", fit.formula)
        if found:
            reference = int(float(found.group(1)))
        else:
            gaps = [int(a) + 1 for a, b in itertools.pairwise(rel) if b - a == 2]
            if len(gaps) != 1:
                raise InvalidOptionError(
                    "cannot tell the reference event time of the i() dummies: give reference=."
                )
            reference = gaps[0]
    try:
        whole = not isinstance(reference, bool | str) and float(reference).is_integer()
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise InvalidOptionError(f"reference must be a whole event time, got {reference!r}.")
    reference = int(reference)
    if reference in set(rel.tolist()):
        raise InvalidOptionError(f"reference event time {reference} has a coefficient.")
    if not rel.min() - 1 <= reference <= rel.max():
        raise InvalidOptionError(
            f"reference event time {reference} lies outside the dummies' event times "
            f"{int(rel.min())} .. {int(rel.max())}."
        )
    return reference
