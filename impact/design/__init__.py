"""Treatment timing: cohorts, never-treated units, control pools."""

from impact.design.cohorts import cohort_from_membership, normalize_cohorts

__all__ = ["cohort_from_membership", "normalize_cohorts"]
