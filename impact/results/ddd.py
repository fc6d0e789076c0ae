"""Result of ``ddd``: group-time triple differences with the ATT(g,t) result protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from impact.results.att_gt import ATTgtResult

__all__ = ["DDDResult"]


@dataclass(frozen=True, eq=False)
class DDDResult(ATTgtResult):
    """Result of :func:`impact.ddd`: the ATT(g, t) of the eligible units of each enabling
    cohort, estimated by triple differences.

    It has every attribute and method of :class:`~impact.results.att_gt.ATTgtResult`
    (``table``, ``aggregate``, ``pretrend_test``, ``tidy``, ``plot``, ``summary``); the
    table's ``n_treated`` counts the eligible units of the cohort (subgroup 4),
    ``n_control`` every other unit the cell uses, and ``comparisons`` the comparison
    cohorts combined (by the efficient GMM weights when more than one).
    """

    title: ClassVar[str] = (
        "Group-time triple differences DDD(g,t) (Ortiz-Villavicencio & Sant'Anna 2025)"
    )
