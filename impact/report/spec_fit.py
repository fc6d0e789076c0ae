"""Fit a spec to the data it runs on: the minimal schema.

A panel needs a unit, a time and a cohort column and one outcome; every other role
(cluster cells, launch years, sectors, size classes, production inputs, covariates) is
optional. :func:`fit_spec` resolves a :class:`~impact.report.spec.Spec` against the
data's columns:

- a setting the user left at its default (the shipped panel's column names, tables and
  outcome families) whose columns the data lack is switched off, with one note saying so;
- a setting the user named whose columns are missing is an error, and every such error
  is reported at once (:class:`~impact.errors.SpecError`), before any estimation;
- each table and figure declares the roles it needs (:data:`TABLE_NEEDS`,
  :data:`FIGURE_NEEDS`); a default one whose roles are absent is skipped with a note, a
  table the user listed by name is an error.

"Left at its default" means equal to the field's default value: a user who writes the
shipped panel's names into their spec gets the notes, not the errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from impact.errors import ColumnNotFoundError, SpecError, close_matches_hint
from impact.report.spec import Spec, derive_column
from impact.report.spec_roles import Columns, Production

__all__ = ["FIGURE_NEEDS", "OPTIONAL_ROLES", "TABLE_NEEDS", "FittedSpec", "fit_spec"]

#: Column roles a panel may lack (unit, time and cohort are required).
OPTIONAL_ROLES = ("cell", "region", "sector", "cluster_cell", "launch", "size_class", "high_tech")

#: Roles every table of the cluster geography needs: cells, whether a cell hosts a
#: cluster, and the cell's launch year.
_GEOGRAPHY = ("cell", "cluster_cell", "launch")


def _cs_listed(spec: Spec) -> str | None:
    cs = any("cs" in f.estimators for f in spec.families)
    return None if cs else "no outcome family lists the Callaway-Sant'Anna estimator ('cs')"


def _roles(*roles: str) -> Callable[[Spec], str | None]:
    def need(spec: Spec) -> str | None:
        absent = [r for r in roles if not getattr(spec.columns, r)]
        return f"needs the column roles {absent}" if absent else None

    return need


def _describe(spec: Spec) -> str | None:
    return _roles("cluster_cell", "launch")(spec) or (
        None if spec.describe else "no 'describe' columns"
    )


def _selection(spec: Spec) -> str | None:
    return _roles(*_GEOGRAPHY)(spec) or (None if spec.selection else "no 'selection' columns")


def _heterogeneity(spec: Spec) -> str | None:
    return None if spec.heterogeneity else "no heterogeneity dimension has its column role"


def _production(spec: Spec) -> str | None:
    return None if spec.production is not None else "no [production] block"


def _nothing(spec: Spec) -> str | None:
    return None


#: What each table needs: a function of the fitted spec giving the reason it cannot be
#: built (None: it can).
TABLE_NEEDS: dict[str, Callable[[Spec], str | None]] = {
    "descriptives": _describe,
    "rollout": _roles(*_GEOGRAPHY),
    "selection": _selection,
    "balance": _selection,
    "main": _nothing,
    "dynamic": _nothing,
    "heterogeneity": _heterogeneity,
    "spillovers": _roles(*_GEOGRAPHY),
    "robustness": _roles(*_GEOGRAPHY),
    "production": _production,
    "diagnostics": _cs_listed,
    "sensitivity": _nothing,
    "multiplicity": _cs_listed,
}

#: What each figure needs (as :data:`TABLE_NEEDS`).
FIGURE_NEEDS: dict[str, Callable[[Spec], str | None]] = {
    "event_study": _nothing,
    "trajectories": _nothing,
    "att_gt_heatmap": _cs_listed,
    "pscore_overlap": _selection,
    "rollout": _roles(*_GEOGRAPHY),
    "bacon": _nothing,
    "sensitivity": _nothing,
}

#: Heterogeneity dimensions and the role each needs.
_DIMENSION_ROLE = {"size": "size_class", "high_tech": "high_tech", "founder": "launch"}


@dataclass(frozen=True)
class FittedSpec:
    """The spec fitted to the data, and one note per setting switched off or skipped."""

    spec: Spec
    notes: tuple[str, ...]


class _Fit:
    """Collects the fitted fields, notes and problems of one :func:`fit_spec` call."""

    def __init__(self, spec: Spec, data: pd.DataFrame) -> None:
        self.spec, self.data = spec, data
        self.defaults = Spec()
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.present: dict[str, bool] = {}
        self.why: dict[str, str] = {}

    def has(self, name: str) -> bool:
        """A column of the data, or a derived outcome computable from them (an expression
        outside the grammar raises :class:`~impact.errors.ExpressionError` at once)."""
        if name not in self.present:
            ok = name in self.data.columns
            if not ok and name in self.spec.derived:
                try:
                    derive_column(self.data, name, self.spec.derived[name])
                    ok = True
                except ColumnNotFoundError as exc:
                    self.why[name] = str(exc)
            self.present[name] = ok
        return self.present[name]

    def default(self, key: str) -> bool:
        return getattr(self.spec, key) == getattr(self.defaults, key)

    def missing(self, what: str, name: str) -> None:
        if name in self.why:  # a derived outcome: the expression's own message
            self.problems.append(f"{what} {name!r}: {self.why[name]}")
            return
        self.problems.append(
            f"{what} {name!r} is not a column of the data;"
            + close_matches_hint(str(name), list(map(str, self.data.columns)))
        )

    def columns(self) -> Columns:
        c, base = self.spec.columns, Columns()
        changes: dict = {}
        for role in ("unit", "time"):
            if not self.has(getattr(c, role)):
                self.missing(f"column role {role}", getattr(c, role))
        # the cohort: its column, or (no cohort column: "" or the default name absent)
        # each unit's first period with treatment status 1
        cohort_named = bool(c.cohort) and c.cohort != base.cohort
        if c.treatment and not self.has(c.treatment):
            self.missing("column role treatment", c.treatment)
        elif c.cohort and self.has(c.cohort):
            if c.treatment:
                self.notes.append(
                    f"treatment column {c.treatment!r} not used: the cohort column "
                    f"{c.cohort!r} gives each unit's first treated period"
                )
        elif c.treatment and not cohort_named:
            changes["cohort"] = ""  # derived from the treatment status
            leavers = (
                f"{_exits(self.data, c.unit, c.time, c.treatment)} units leave treatment and "
                if pd.api.types.is_numeric_dtype(self.data[c.time])
                else ""  # a time column that is not numeric is a problem of its own
            )
            self.notes.append(
                f"cohort: each unit's first period with {c.treatment} = 1 (first entry; "
                f"{leavers}their later periods count as treated)"
            )
        elif not c.cohort:
            self.problems.append("the spec needs a cohort column or a treatment column")
        else:
            self.missing("column role cohort", c.cohort)
        absent = []
        for role in OPTIONAL_ROLES:
            name = getattr(c, role)
            if not name or self.has(name):
                continue
            if name == getattr(base, role):
                changes[role] = None
                absent.append(role)
            else:
                self.missing(f"column role {role}", name)
        shipped = (c.unit, c.time, c.cohort) == (base.unit, base.time, base.cohort)
        attached = [
            r for r in OPTIONAL_ROLES
            if not shipped and getattr(c, r) and getattr(c, r) == getattr(base, r)
            and r not in absent
        ]  # fmt: skip
        if attached:  # a user's panel whose columns happen to carry the default names
            shown = ", ".join(f"{r} ({getattr(c, r)!r})" for r in attached)
            self.notes.append(
                f"column roles taken by their default names: {shown}; check that these "
                "columns mean what the roles do (sector: sector-by-year effects; high_tech: "
                "a Callaway-Sant'Anna covariate; cluster_cell, cell, launch: the cluster "
                "geography)"
            )
        if absent:
            shown = ", ".join(f"{r} ({getattr(c, r)!r})" for r in absent)
            self.notes.append(
                f"column roles absent (their default columns are not in the data): {shown}"
            )
        return dataclasses.replace(c, **changes)

    def names(self, key: str) -> tuple[str, ...]:
        """A list of columns: trimmed to the data when default, else all must exist."""
        values = getattr(self.spec, key)
        gone = [v for v in values if not self.has(v)]
        if gone and self.default(key):
            self.notes.append(f"{key}: {gone} not in the data, left out")
            return tuple(v for v in values if v not in gone)
        for v in gone:
            self.missing(f"{key} column", v)
        return tuple(values)

    def derived(self) -> dict[str, str]:
        """Derived outcomes: a default one whose name is a column of the data gives way
        to the column (noted); one the user wrote must not shadow a column."""
        out = {}
        for name, expr in self.spec.derived.items():
            if name in self.data.columns:
                if self.default("derived"):
                    self.notes.append(
                        f"derived outcome {name!r}: the data's own column is used (the "
                        f"default expression {expr!r} is not applied)"
                    )
                else:
                    self.problems.append(
                        f"derived outcome {name!r} is also a column of the data: rename one"
                    )
                continue
            out[name] = expr
        return out

    def families(self) -> tuple:
        kept = []
        for fam in self.spec.families:
            if not fam.outcomes:
                self.problems.append(f"outcome family {fam.name!r} has no outcomes")
                continue
            gone = [o for o in fam.outcomes if not self.has(o)]
            if gone and self.default("families"):
                self.notes.append(f"outcome family {fam.name}: {gone} not in the data, left out")
                if len(gone) < len(fam.outcomes):
                    kept.append(dataclasses.replace(
                        fam, outcomes=tuple(o for o in fam.outcomes if o not in gone)
                    ))  # fmt: skip
                continue
            for o in gone:
                self.missing(f"outcome of family {fam.name!r}", o)
            kept.append(fam)
        if not kept:
            self.problems.append(
                "no outcome family has its outcomes in the data: name one in [families] "
                "(e.g. [families.jobs] outcomes = ['log_emp'], scale = 'log')"
            )
        return tuple(kept)

    def production(self, c: Columns) -> Production | None:
        prod = self.spec.production
        if prod is None:
            return None
        if prod.group_trends and prod.group_trends == self.spec.columns.sector and not c.sector:
            prod = dataclasses.replace(prod, group_trends="")  # the sector role's default
        gone = [n for n in prod.names() if not self.has(n)]
        if not gone:
            return prod
        if dataclasses.replace(prod, group_trends=None) == dataclasses.replace(
            Production(), group_trends=None
        ):
            self.notes.append(f"production function off: {gone} not in the data")
            return None
        for n in gone:
            self.missing("production column", n)
        return prod


def _resolve_options(fit: _Fit, spec: Spec, c: Columns) -> dict:
    """Settings that depend on optional roles: control group, sector effects, cluster,
    covariates, heterogeneity dimensions."""
    out: dict = {}
    if not c.cluster_cell and spec.control != "never":
        if fit.default("control"):
            out["control"] = "never"
            fit.notes.append("no cluster-cell role: controls are all never-treated units")
        else:
            fit.problems.append(f"control = {spec.control!r} needs the cluster_cell role")
    if not c.sector and spec.sector_by_year:
        if fit.default("sector_by_year"):
            out["sector_by_year"] = False
            fit.notes.append("no sector role: regression estimators absorb period effects")
        else:
            fit.problems.append("sector_by_year = true needs the sector role")
    if spec.cluster != spec.columns.unit and not fit.has(spec.cluster):
        fit.missing("cluster", spec.cluster)
    dims = tuple(d for d in spec.heterogeneity if getattr(c, _DIMENSION_ROLE[d]))
    if dims != spec.heterogeneity:
        off = [d for d in spec.heterogeneity if d not in dims]
        if fit.default("heterogeneity"):
            out["heterogeneity"] = dims
            fit.notes.append(f"heterogeneity: {off} need absent column roles, left out")
        else:
            fit.problems.append(f"heterogeneity {off} need column roles that are absent")
    return out


def _exits(data: pd.DataFrame, unit: str, time: str, treatment: str) -> int:
    """Units whose 0/1 ``treatment`` goes from 1 back to 0 (in time order)."""
    frame = pd.DataFrame({
        "u": data[unit].to_numpy(), "t": data[time].to_numpy(),
        "d": pd.to_numeric(data[treatment], errors="coerce").to_numpy(),
    }).sort_values("t", kind="stable")  # fmt: skip
    prev = frame.groupby("u", sort=False)["d"].shift()
    return int(frame.loc[(prev == 1) & (frame["d"] == 0), "u"].nunique())


def _steps(fit: _Fit, spec: Spec, key: str, needs: dict) -> tuple[str, ...]:
    """The tables or figures that can be built: default ones that cannot are skipped with a
    note, named ones are problems."""
    keep = []
    for name in getattr(spec, key):
        why = needs[name](spec) if name in needs else None
        if why is None:
            keep.append(name)
        elif fit.default(key):
            fit.notes.append(f"{key[:-1]} {name!r} skipped: {why}")
        else:
            fit.problems.append(f"{key[:-1]} {name!r} cannot be built: {why}")
    return tuple(keep)


def fit_spec(spec: Spec, data: pd.DataFrame, *, rows: int | None = None) -> FittedSpec:
    """Resolve ``spec`` against ``data``'s columns (see the module docstring).

    ``rows``: the number of rows of the data when ``data`` is an empty frame standing for
    a panel held by a query engine (its columns and kinds only); default ``len(data)``.

    Raises
    ------
    SpecError
        Every problem at once, one per line: columns the spec names that the data lack,
        settings that need absent roles, tables or figures named that cannot be built.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    dup = sorted({str(x) for x in data.columns[data.columns.duplicated()]})
    if dup:  # every column lookup below would be ambiguous
        raise SpecError([f"the data have duplicate column names: {dup}; rename them"])
    fit = _Fit(spec, data)
    if (len(data) if rows is None else rows) == 0:
        fit.problems.append("the data have no rows")
    c = fit.columns()
    changes: dict = {"columns": c, "families": fit.families(), "production": fit.production(c),
                     "derived": fit.derived()}  # fmt: skip
    for key in ("describe", "selection"):
        changes[key] = fit.names(key)
    covariates = spec.covariates
    if spec.covariates == ((spec.columns.high_tech,) if spec.columns.high_tech else ()):
        covariates = (c.high_tech,) if c.high_tech else ()  # the role's default, re-resolved
    else:
        for v in covariates:
            if not fit.has(v):
                fit.missing("covariate", v)
    changes["covariates"] = covariates
    changes.update(_resolve_options(fit, spec, c))
    fitted = dataclasses.replace(spec, **changes)
    fitted = dataclasses.replace(
        fitted,
        tables=_steps(fit, fitted, "tables", TABLE_NEEDS),
        figures=_steps(fit, fitted, "figures", FIGURE_NEEDS),
    )
    if fit.problems:
        raise SpecError(fit.problems)
    return FittedSpec(fitted, tuple(fit.notes))
