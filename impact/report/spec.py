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

import pandas as pd

from impact.data.columns import check_columns
from impact.errors import InvalidOptionError, close_matches_hint

__all__ = ["Columns", "OutcomeFamily", "Spec"]

#: Outcome scales and what they mean for the estimators (docs/conventions.md).
SCALES = ("log", "level", "binary", "count")


@dataclass(frozen=True)
class Columns:
    """Roles of the panel's columns (defaults: the shipped synthetic panel's names).

    ``cohort`` is the join year (NaN for never-members); ``cluster_cell`` is True for firms
    in cells that host a cluster; ``launch`` is the cell's launch year. ``weights`` is
    optional.
    """

    unit: str = "firm_id"
    time: str = "year"
    cohort: str = "join_year"
    cell: str = "cell"
    region: str = "region"
    sector: str = "sector"
    cluster_cell: str = "cluster_cell"
    launch: str = "launch_year"
    size_class: str = "size_class"
    high_tech: str = "high_tech"
    weights: str | None = None

    def names(self) -> list[str]:
        """Every column named (without ``None``)."""
        return [v for v in dataclasses.asdict(self).values() if v is not None]


@dataclass(frozen=True)
class OutcomeFamily:
    """A group of outcomes reported together (jobs, productivity, exports, innovation)."""

    name: str
    outcomes: tuple[str, ...]
    scale: str = "log"

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InvalidOptionError(
                f"outcome family {self.name!r}: scale must be one of {SCALES}, got {self.scale!r}."
            )
        object.__setattr__(self, "outcomes", tuple(self.outcomes))


def _default_families() -> tuple[OutcomeFamily, ...]:
    return (
        OutcomeFamily("jobs", ("log_emp",), "log"),
        OutcomeFamily("productivity", ("log_va",), "log"),
        OutcomeFamily("exports", ("export",), "binary"),
        OutcomeFamily("innovation", ("rd_performer", "patents"), "binary"),
    )


@dataclass(frozen=True)
class Spec:
    """Everything :func:`impact.evaluate` needs besides the data.

    Attributes
    ----------
    columns : Columns
    families : tuple of OutcomeFamily
    describe : tuple of str
        Firm characteristics of the descriptive table (table 1).
    covariates : tuple of str
        Covariates of the conditional estimators.
    cluster : str
        Clustering column of the standard errors.
    tables, figures : tuple of str
        What to build.
    seed : int
        Seed of every random step (bootstraps), recorded in the provenance.
    """

    columns: Columns = field(default_factory=Columns)
    families: tuple[OutcomeFamily, ...] = field(default_factory=_default_families)
    describe: tuple[str, ...] = ("log_emp", "log_va", "log_k", "export", "rd_performer")
    covariates: tuple[str, ...] = ()
    cluster: str = "firm_id"
    tables: tuple[str, ...] = ("descriptives", "rollout")
    figures: tuple[str, ...] = ()
    seed: int = 20261127

    @property
    def outcomes(self) -> list[str]:
        """Every outcome of every family, in order, without repeats."""
        return list(dict.fromkeys(o for f in self.families for o in f.outcomes))

    def required_columns(self) -> list[str]:
        """Every column the spec names."""
        cols = [*self.columns.names(), *self.outcomes, *self.describe, *self.covariates]
        return list(dict.fromkeys([*cols, self.cluster]))

    def validate(self, data: pd.DataFrame) -> None:
        """Raise :class:`~impact.errors.ColumnNotFoundError` for the first missing column."""
        check_columns(data, self.required_columns(), role="spec column")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Spec:
        """Build a spec from a mapping with the TOML layout (see :meth:`from_toml`)."""
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
        for key in ("describe", "covariates", "tables", "figures"):
            if key in d:
                kw[key] = tuple(_str_list(d[key], key))
        for key in ("cluster", "seed"):
            if key in d:
                kw[key] = d[key]
        return cls(**kw)

    @classmethod
    def from_toml(cls, path: str | Path) -> Spec:
        """Read a spec from TOML.

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
            return cls.from_dict(tomllib.load(fh))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (for the provenance sidecar)."""
        out = dataclasses.asdict(self)
        out["families"] = {
            f.name: {"outcomes": list(f.outcomes), "scale": f.scale} for f in self.families
        }
        return out


def _str_list(value: Any, key: str) -> Sequence[str]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise InvalidOptionError(f"spec key {key!r} must be a list of column names.")
    return value


def _family(name: str, f: Mapping[str, Any]) -> OutcomeFamily:
    if "outcomes" not in f:
        raise InvalidOptionError(f"outcome family {name!r} needs an 'outcomes' list.")
    return OutcomeFamily(name, tuple(_str_list(f["outcomes"], "outcomes")), f.get("scale", "log"))
