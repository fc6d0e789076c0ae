"""The evaluation spec: which columns mean what, which outcomes, which tables.

A :class:`Spec` is a plain, immutable Python object; :meth:`Spec.from_toml` reads the
same content from a TOML file (``replication/config.toml`` is the shipped report's spec).
:meth:`Spec.validate` checks every named column against the data before any estimation,
so a spec that names a missing column fails at once with a typed error.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.errors import (
    ColumnNotFoundError,
    ExpressionError,
    InvalidOptionError,
    close_matches_hint,
)
from impact.report import spec_roles
from impact.report.expression import evaluate_expression, expression
from impact.report.spec_layout import check_layout
from impact.report.spec_roles import (  # noqa: F401  (re-exported: see __all__)
    CONTROLS,
    DEFAULT_ESTIMATORS,
    ESTIMATORS,
    HETEROGENEITY,
    SCALES,
    Columns,
    OutcomeFamily,
    Production,
)

__all__ = ["Spec", "derive_column", *spec_roles.__all__]


def _default_families() -> tuple[OutcomeFamily, ...]:
    return (
        OutcomeFamily("jobs", ("log_emp",), "log"),
        OutcomeFamily("productivity", ("log_va_per_worker",), "log"),
        OutcomeFamily("exports", ("export",), "binary"),
        OutcomeFamily("innovation", ("rd_performer",), "binary"),
        OutcomeFamily("counts", ("patents", "export_value"), "count"),
    )


@dataclass(frozen=True)
class Spec:
    """Everything :func:`impact.evaluate` needs besides the data.

    Attributes
    ----------
    columns : Columns
    families : tuple of OutcomeFamily
    derived : dict of str to str
        Outcomes computed from columns before estimation: name -> an expression of the
        whitelisted grammar of :mod:`impact.engine.expressions` over column names, e.g.
        ``{"log_va_per_worker": "log_va - log_emp"}``; only those named by a family,
        ``describe`` or ``covariates`` are computed.
    describe : tuple of str
        Firm characteristics of the descriptive table (table 1).
    selection : tuple of str
        Baseline characteristics of the selection logit (table 3) and of the balance
        table's propensity score (table 4).
    covariates : tuple of str, optional
        Covariates of Callaway-Sant'Anna (doubly robust, at the base period); numeric
        or boolean columns. None: the high-tech column if the spec has one.
    heterogeneity : tuple of {"size", "high_tech", "founder"}
        Subgroup splits of table 7: SMEs vs large firms (``sme_classes`` of the size-class
        column are SMEs), high-tech vs other, founders (joining at the launch) vs later.
    sme_classes : tuple of str
    control : {"out_of_cell", "in_cell", "never"}
        Never-member controls of the main comparison: outside cluster cells (the total
        effect of membership), inside them (the direct effect), or all (a mix).
    sector_by_year : bool
        Regression estimators absorb sector-by-year effects (sector trends differ between
        members and controls when cells are selected on sector).
    window : (int, int)
        Event times of the dynamic table and event-study figures; table 5's event-study
        estimators average event times 0 .. window end.
    cluster : str, optional
        Clustering column of the standard errors (None: the unit column).
    production : Production
    n_boot : int
        Bootstrap draws of the production-function and two-stage TFP standard errors.
    tables, figures : tuple of str
        What to build, in order.
    seed : int
        Seed of every random step (bootstraps, simultaneous bands), in the provenance.
    disclosure_min_firms : int
        Minimum-cell-count disclosure control (:mod:`impact.report.disclosure`): every
        statistic resting on 1 to k - 1 firms is suppressed in the written tables and
        figures. 0 (default) turns it off; data centres commonly ask for 3 to 10.

    Examples
    --------
    A spec for R did's minimum-wage county panel: its column roles, one outcome family estimated
    by Callaway-Sant'Anna, never-treated controls and every event time of the panel.

    >>> import impact
    >>> spec = impact.Spec.from_dict({
    ...     "columns": {"unit": "countyreal", "time": "year", "cohort": "first.treat"},
    ...     "families": {"jobs": {"outcomes": ["lemp"], "scale": "log", "estimators": ["cs"]}},
    ...     "control": "never", "window": [-4, 3], "tables": ["main"], "figures": []})
    >>> spec.outcomes, spec.cluster, spec.window
    (['lemp'], 'countyreal', (-4, 3))
    >>> spec.replace(tables=("main", "dynamic")).tables
    ('main', 'dynamic')
    >>> impact.Spec().tables[:3]  # the shipped report's defaults
    ('descriptives', 'rollout', 'selection')
    """

    columns: Columns = field(default_factory=Columns)
    families: tuple[OutcomeFamily, ...] = field(default_factory=_default_families)
    derived: Mapping[str, str] = field(
        default_factory=lambda: {"log_va_per_worker": "log_va - log_emp"}
    )
    describe: tuple[str, ...] = ("log_emp", "log_va", "log_k", "export", "rd_performer")
    selection: tuple[str, ...] = (
        "log_emp", "log_va_per_worker", "log_k", "export", "rd_performer", "high_tech",
    )  # fmt: skip
    covariates: tuple[str, ...] | None = None
    heterogeneity: tuple[str, ...] = ("size", "high_tech", "founder")
    sme_classes: tuple[str, ...] = ("small", "medium")
    control: str = "out_of_cell"
    sector_by_year: bool = True
    window: tuple[int, int] = (-5, 5)
    cluster: str | None = None
    production: Production | None = field(default_factory=Production)
    n_boot: int = 19
    tables: tuple[str, ...] = (
        "descriptives", "rollout", "selection", "balance", "main", "dynamic", "heterogeneity",
        "spillovers", "robustness", "production", "diagnostics", "sensitivity", "multiplicity",
    )  # fmt: skip
    figures: tuple[str, ...] = (
        "event_study", "trajectories", "att_gt_heatmap", "pscore_overlap", "rollout", "bacon",
        "sensitivity",
    )  # fmt: skip
    seed: int = 20261127
    disclosure_min_firms: int = 0

    def __post_init__(self) -> None:
        c = self.columns
        if self.cluster is None:
            object.__setattr__(self, "cluster", c.unit)
        if self.covariates is None:
            object.__setattr__(self, "covariates", (c.high_tech,) if c.high_tech else ())
        for key in ("describe", "selection", "covariates", "tables", "figures", "sme_classes"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        bad = [h for h in self.heterogeneity if h not in HETEROGENEITY]
        if bad:
            raise InvalidOptionError(
                f"unknown heterogeneity dimensions {bad}; known: {HETEROGENEITY}."
                + close_matches_hint(bad[0], HETEROGENEITY)
            )
        object.__setattr__(self, "heterogeneity", tuple(self.heterogeneity))
        if self.production is not None and self.production.group_trends is None:
            prod = dataclasses.replace(self.production, group_trends=c.sector)
            object.__setattr__(self, "production", prod)
        if self.control not in CONTROLS:
            raise InvalidOptionError(
                f"control must be one of {sorted(CONTROLS)}, got {self.control!r}."
            )
        try:
            w = tuple(int(v) for v in self.window)
            n_boot, seed = int(self.n_boot), int(self.seed)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"window must be two integers and n_boot, seed integers; got window="
                f"{self.window!r}, n_boot={self.n_boot!r}, seed={self.seed!r}."
            ) from None
        if len(w) != 2 or w[0] > -1 or w[1] < 0:
            raise InvalidOptionError(f"window must be (first <= -1, last >= 0), got {self.window}.")
        k = self.disclosure_min_firms
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InvalidOptionError(
                f"disclosure_min_firms must be a whole number >= 0 (0: no disclosure control), "
                f"got {k!r}."
            )
        object.__setattr__(self, "disclosure_min_firms", int(k))
        if n_boot < 2:
            raise InvalidOptionError(f"n_boot must be at least 2, got {self.n_boot}.")
        object.__setattr__(self, "window", w)
        object.__setattr__(self, "n_boot", n_boot)
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "derived", dict(self.derived))

    @property
    def outcomes(self) -> list[str]:
        """Every outcome of every family, in order, without repeats."""
        return list(dict.fromkeys(o for f in self.families for o in f.outcomes))

    @property
    def effect(self) -> str:
        """The effect of membership the main comparison targets (DGP.md §0 rule 8); "ATT"
        for data without cluster cells (no spillover exposure to tell apart)."""
        return CONTROLS[self.control] if self.columns.cluster_cell else "ATT"

    def required_columns(self) -> list[str]:
        """Every data column the spec names (derived outcomes excluded)."""
        cols = [*self.columns.names(), *self.outcomes, *self.describe, *self.covariates]
        cols += list(self.selection)
        cols += self.production.names() if self.production is not None else []
        return [c for c in dict.fromkeys([*cols, self.cluster]) if c not in self.derived]

    def read_columns(self) -> list[str]:
        """The data columns a report on this spec reads: :meth:`required_columns` and the
        columns its derived outcomes are computed from (what a Parquet or CSV file is
        projected to, so unused columns of a wide register are never loaded)."""
        cols = self.required_columns()
        for expr in self.used_derived().values():
            cols += list(expression(expr).columns)
        return list(dict.fromkeys(cols))

    def validate(self, data: pd.DataFrame) -> None:
        """Raise :class:`~impact.errors.ColumnNotFoundError` for the first missing column.

        Derived outcomes are checked by evaluating their expressions on the columns.
        """
        check_columns(data, self.required_columns(), role="spec column")
        for name, expr in self.used_derived().items():
            derive_column(data, name, expr)

    def used_derived(self) -> dict[str, str]:
        """The derived outcomes some family, description or covariate uses (others are
        ignored, so a spec's default derivations do not bind other data sets)."""
        used = {*self.outcomes, *self.describe, *self.covariates, *self.selection}
        return {k: v for k, v in self.derived.items() if k in used}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Spec:
        """Build a spec from a mapping with the TOML layout (see :meth:`from_toml`).

        Raises
        ------
        InvalidOptionError
            An unknown key, or a value of the wrong type (checked first, by
            :func:`~impact.report.spec_layout.check_layout`).
        """
        check_layout(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in d if k not in known]
        if unknown:
            raise InvalidOptionError(
                f"unknown spec keys {unknown}." + close_matches_hint(unknown[0], known)
            )
        kw: dict[str, Any] = {}
        if "columns" in d:
            col_fields = {f.name for f in dataclasses.fields(Columns)}
            bad = [k for k in d["columns"] if k not in col_fields]
            if bad:
                raise InvalidOptionError(
                    f"unknown column roles {bad}." + close_matches_hint(bad[0], col_fields)
                )
            kw["columns"] = Columns(**d["columns"])
        if "families" in d:
            kw["families"] = tuple(_family(name, f) for name, f in d["families"].items())
        if "production" in d:
            kw["production"] = _production(d["production"])
        for key in (
            "describe", "selection", "covariates", "tables", "figures", "heterogeneity",
            "sme_classes",
        ):  # fmt: skip
            if key in d:
                kw[key] = tuple(_str_list(d[key], key))
        for key in (
            "cluster", "seed", "control", "sector_by_year", "window", "n_boot", "derived",
            "disclosure_min_firms",
        ):  # fmt: skip
            if key in d:
                kw[key] = d[key]
        return cls(**kw)

    @classmethod
    def from_toml(cls, path: str | Path) -> Spec:
        """Read a spec from TOML (a file that is not valid TOML: InvalidOptionError).

        Layout::

            seed = 20261127
            cluster = "firm_id"
            describe = ["log_emp", "log_va"]
            tables = ["descriptives", "rollout"]
            [columns]
            unit = "firm_id"
            time = "year"
            [families.jobs]
            outcomes = ["log_emp"]
            scale = "log"
        """
        with open(path, "rb") as fh:
            try:
                raw = tomllib.load(fh)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                msg = f"spec file {str(path)!r} is not valid TOML: {exc}"
                raise InvalidOptionError(msg) from None
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (for the provenance sidecar)."""
        out = dataclasses.asdict(self)
        out["families"] = {
            f.name: {
                "outcomes": list(f.outcomes),
                "scale": f.scale,
                "estimators": list(f.estimators),
            }
            for f in self.families
        }
        out["columns"] = {k: v for k, v in out["columns"].items() if v}
        if self.production is None:
            del out["production"]
        return _lists(out)

    def replace(self, **changes: Any) -> Spec:
        """A copy with some fields changed (e.g. ``spec.replace(tables=("main",))``).

        With new ``columns``, fields that held the defaults resolved from the old column
        roles (cluster, covariates, group trends) are resolved again from the new ones.
        """
        if "columns" in changes:
            old = self.columns
            if "cluster" not in changes and self.cluster == old.unit:
                changes["cluster"] = None
            if "covariates" not in changes and self.covariates == (
                (old.high_tech,) if old.high_tech else ()
            ):
                changes["covariates"] = None
            prod = changes.get("production", self.production)
            if prod is not None and prod.group_trends == old.sector:
                changes["production"] = dataclasses.replace(prod, group_trends=None)
        return dataclasses.replace(self, **changes)


def _lists(obj: Any) -> Any:
    """Tuples to lists, recursively (TOML and JSON have lists only)."""
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj


def derive_column(data: pd.DataFrame, name: str, expr: str) -> pd.Series:
    """Evaluate a derived outcome's expression on ``data`` (not modified).

    Raises
    ------
    ColumnNotFoundError
        The expression names a column the data lack.
    ExpressionError
        The expression is outside the whitelisted grammar (:mod:`impact.engine.expressions`):
        spec expressions are data, never evaluated as code.
    """
    try:
        return evaluate_expression(data, expr).rename(name)
    except ExpressionError as exc:
        raise ExpressionError(f"derived outcome {name!r}: {exc}") from None
    except ColumnNotFoundError as exc:
        raise ColumnNotFoundError(f"derived outcome {name!r}: {exc}") from None


def _str_list(value: Any, key: str) -> Sequence[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidOptionError(f"spec key {key!r} must be a list of column names.")
    return value


def _family(name: str, f: Mapping[str, Any]) -> OutcomeFamily:
    if "outcomes" not in f:
        raise InvalidOptionError(f"outcome family {name!r} needs an 'outcomes' list.")
    bad = [k for k in f if k not in ("outcomes", "scale", "estimators")]
    if bad:
        raise InvalidOptionError(f"outcome family {name!r}: unknown keys {bad}.")
    return OutcomeFamily(
        name,
        tuple(_str_list(f["outcomes"], "outcomes")),
        f.get("scale", "log"),
        tuple(_str_list(f.get("estimators", []), "estimators")),
    )


def _production(p: Mapping[str, Any]) -> Production | None:
    if not p.get("enabled", True):
        return None
    known = {f.name for f in dataclasses.fields(Production)}
    bad = [k for k in p if k not in known | {"enabled"}]
    if bad:
        raise InvalidOptionError(
            f"unknown production keys {bad}." + close_matches_hint(bad[0], known)
        )
    return Production(**{k: v for k, v in p.items() if k != "enabled"})
