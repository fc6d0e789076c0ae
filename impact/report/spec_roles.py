"""The parts of an evaluation spec: column roles, outcome families, the production block,
and the option values they accept (re-exported by :mod:`impact.report.spec`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from impact.errors import InvalidOptionError, close_matches_hint

__all__ = [
    "CONTROLS",
    "DEFAULT_ESTIMATORS",
    "ESTIMATORS",
    "HETEROGENEITY",
    "SCALES",
    "Columns",
    "OutcomeFamily",
    "Production",
]

#: Outcome scales and what they mean for the estimators (docs/conventions.md).
SCALES = ("log", "level", "binary", "count")

#: Estimators of the main-results table (table 5), by key: static TWFE, Callaway-Sant'Anna
#: with never-treated or not-yet-treated controls, Sun-Abraham, imputation (BJS), did2s,
#: and Poisson ETWFE for counts.
ESTIMATORS = ("twfe", "cs", "cs_notyet", "sun_abraham", "imputation", "did2s", "etwfe_poisson")

#: Default estimators by scale (counts: Poisson ETWFE, the proportional effect).
DEFAULT_ESTIMATORS = {
    "log": ("twfe", "cs", "cs_notyet", "sun_abraham", "imputation"),
    "level": ("twfe", "cs", "cs_notyet", "sun_abraham", "imputation"),
    "binary": ("twfe", "cs", "sun_abraham", "imputation"),
    "count": ("etwfe_poisson",),
}

#: Subgroup splits of the heterogeneity table (table 7).
HETEROGENEITY = ("size", "high_tech", "founder")

#: Control groups: never-members outside cluster cells (the total effect of membership),
#: never-members inside cluster cells (the direct effect), or all never-members (a mix).
CONTROLS = {"out_of_cell": "total", "in_cell": "direct", "never": "mixed"}


@dataclass(frozen=True)
class Columns:
    """Roles of the panel's columns (defaults: the shipped synthetic panel's names).

    ``cohort`` is the join year (NaN, 0 or inf for never-members); ``cluster_cell`` is True
    for firms in cells that host a cluster; ``launch`` is the cell's launch year.
    ``region``, ``size_class`` and ``high_tech`` are optional (``""`` or None: absent).
    ``treatment`` is a 0/1 treatment status per row, for data without a cohort column
    (``cohort = ""``): a unit's cohort is then its first period with status 1 (first
    entry; later periods count as treated). ``weights`` is not supported by
    :func:`impact.evaluate` yet (a typed error).
    """

    unit: str = "firm_id"
    time: str = "year"
    cohort: str = "join_year"
    cell: str = "cell"
    region: str | None = "region"
    sector: str = "sector"
    cluster_cell: str = "cluster_cell"
    launch: str = "launch_year"
    size_class: str | None = "size_class"
    high_tech: str | None = "high_tech"
    treatment: str | None = None
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.weights:
            raise InvalidOptionError(
                "columns.weights: sampling weights are not supported by impact.evaluate yet "
                "(the event-study estimators are unweighted); drop the role or reweight first."
            )

    def names(self) -> list[str]:
        """Every column named (without absent optional roles)."""
        return [v for v in dataclasses.asdict(self).values() if v]


@dataclass(frozen=True)
class OutcomeFamily:
    """A group of outcomes reported together (jobs, productivity, exports, innovation)."""

    name: str
    outcomes: tuple[str, ...]
    scale: str = "log"
    estimators: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InvalidOptionError(
                f"outcome family {self.name!r}: scale must be one of {SCALES}, got {self.scale!r}."
            )
        object.__setattr__(self, "outcomes", tuple(self.outcomes))
        est = tuple(self.estimators) or DEFAULT_ESTIMATORS[self.scale]
        bad = [e for e in est if e not in ESTIMATORS]
        if bad:
            raise InvalidOptionError(
                f"outcome family {self.name!r}: unknown estimators {bad}; known: {ESTIMATORS}."
                + close_matches_hint(bad[0], ESTIMATORS)
            )
        if self.scale == "count" and set(est) - {"etwfe_poisson"}:
            raise InvalidOptionError(
                f"outcome family {self.name!r}: counts take estimators=['etwfe_poisson'] "
                "(linear DiD on counts depends on units; docs/conventions.md)."
            )
        object.__setattr__(self, "estimators", est)


@dataclass(frozen=True)
class Production:
    """Production-function columns and options (table 10 and the TFP row of table 5).

    The production function is value added on ``free`` and ``state`` inputs with ``proxy``
    the control-function proxy; ``exog_instruments`` are excluded instruments (input
    prices); ``group_trends`` a category column with its own trend (None: the sector
    column; ``""``: none).
    ``tfp_did`` adds log TFP (ACF productivity, two-stage bootstrap) to table 5.
    """

    output: str = "log_va"
    free: tuple[str, ...] = ("log_emp",)
    state: tuple[str, ...] = ("log_k",)
    proxy: str = "log_materials"
    exog_instruments: tuple[str, ...] = ("log_wage",)
    group_trends: str | None = None
    methods: tuple[str, ...] = ("ols", "fe", "lp", "acf", "wooldridge")
    tfp_did: bool = True

    def __post_init__(self) -> None:
        for key in ("free", "state", "exog_instruments", "methods"):
            object.__setattr__(self, key, tuple(getattr(self, key)))

    def fit_kwargs(self, unit: str, time: str) -> dict[str, Any]:
        """Keywords of :func:`impact.prodest` / :func:`impact.tfp_did` for this block."""
        return {
            "output": self.output,
            "free": list(self.free),
            "state": list(self.state),
            "proxy": self.proxy,
            "unit": unit,
            "time": time,
            "group_trends": self.group_trends or None,
            "exog_instruments": list(self.exog_instruments) or None,
        }

    def names(self) -> list[str]:
        """Every column named."""
        cols = [self.output, *self.free, *self.state, self.proxy, *self.exog_instruments]
        return cols + ([self.group_trends] if self.group_trends else [])
