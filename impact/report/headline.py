"""What the report calls the headline: the event-study estimators of table 5 and each
family's headline estimator (tables 6 to 9 and the figures show it)."""

from __future__ import annotations

from impact.report.spec import OutcomeFamily

__all__ = ["EVENT_ESTIMATORS", "primary_estimator"]

#: Table-5 estimators with an event-study form (table 6, figures): key -> event_study name.
EVENT_ESTIMATORS = {
    "cs": "cs",
    "sun_abraham": "sun_abraham",
    "imputation": "imputation",
    "did2s": "did2s",
    "twfe": "twfe",
}


def primary_estimator(family: OutcomeFamily) -> str | None:
    """The family's headline event-study estimator: CS if listed, else the first one."""
    keys = [e for e in family.estimators if e in EVENT_ESTIMATORS]
    return "cs" if "cs" in keys else (keys[0] if keys else None)
