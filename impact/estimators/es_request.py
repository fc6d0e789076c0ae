"""The validated arguments of :func:`impact.event_study`, read by every adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from impact._typing import VcovSpec

__all__ = ["EventRequest"]


@dataclass(frozen=True)
class EventRequest:
    """The validated arguments of :func:`impact.event_study`."""

    y: str
    unit: str
    time: str
    cohort: str
    window: tuple[int, int]
    reference: int
    covariates: Sequence[str]
    fixed_effects: str | None
    control_pool: str | None
    vcov: VcovSpec
    never_treated: float | None
    freq: str | None
    alpha: float
    family: str

    def design(self) -> dict[str, Any]:
        """Keywords every estimator shares."""
        return {
            "y": self.y, "unit": self.unit, "time": self.time, "cohort": self.cohort,
            "never_treated": self.never_treated, "freq": self.freq,
            "control_pool": self.control_pool,
        }  # fmt: skip
