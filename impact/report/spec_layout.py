"""Types of a spec's TOML layout, checked before a :class:`~impact.report.spec.Spec` is built.

A spec file may come from a stranger. Every value is checked against the type its key
takes, so that a wrong type is a typed error naming the key, never a Python exception
from deep inside or a silently different setting (``sector_by_year = "no"`` is a
non-empty string, which Python reads as true). Unknown keys are reported by
:meth:`Spec.from_dict`, with the closest known name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impact.errors import InvalidOptionError

__all__ = ["check_layout"]

STR, BOOL, INT, STRS, TABLE, WINDOW = "str", "bool", "int", "strs", "table", "window"

_NAMES = {
    STR: "a string",
    BOOL: "true or false",
    INT: "an integer",
    STRS: "a list of strings",
    TABLE: "a table",
    WINDOW: "a list of two integers",
}

#: Top-level keys and their types.
TOP = {
    "columns": TABLE, "families": TABLE, "production": TABLE, "derived": TABLE,
    "describe": STRS, "selection": STRS, "covariates": STRS, "tables": STRS, "figures": STRS,
    "heterogeneity": STRS, "sme_classes": STRS, "cluster": STR, "seed": INT, "control": STR,
    "sector_by_year": BOOL, "window": WINDOW, "n_boot": INT, "disclosure_min_firms": INT,
}  # fmt: skip
#: Keys of one ``[families.NAME]`` table.
FAMILY = {"outcomes": STRS, "scale": STR, "estimators": STRS}
#: Keys of the ``[production]`` table.
PRODUCTION = {
    "enabled": BOOL, "tfp_did": BOOL, "output": STR, "proxy": STR, "group_trends": STR,
    "free": STRS, "state": STRS, "exog_instruments": STRS, "methods": STRS,
}  # fmt: skip


def _is(value: Any, kind: str) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == STRS:
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if kind == WINDOW:
        return (
            isinstance(value, list | tuple) and len(value) == 2 and all(_is(v, INT) for v in value)
        )
    return isinstance(value, Mapping)


def _check(table: Mapping[str, Any], types: Mapping[str, str], where: str) -> None:
    for key, value in table.items():
        kind = types.get(key)
        if kind is not None and not _is(value, kind):
            raise InvalidOptionError(
                f"spec key {where}{key!r} must be {_NAMES[kind]}, got {value!r}."
            )


def _check_all(table: Mapping[str, Any], kind: str, where: str) -> None:
    _check(table, dict.fromkeys(table, kind), where)


def check_layout(d: Any) -> None:
    """Check the types of every known key of a spec mapping (the TOML layout).

    Raises
    ------
    InvalidOptionError
        Names the key (with its table), the type it takes and the value given.
    """
    if not isinstance(d, Mapping):
        raise InvalidOptionError(f"a spec must be a table of keys, got {type(d).__name__}.")
    bad = [k for k in d if not isinstance(k, str)]
    if bad:
        raise InvalidOptionError(f"spec keys must be strings, got {bad[0]!r}.")
    _check(d, TOP, "")
    if "columns" in d:
        _check_all(d["columns"], STR, "columns.")
    if "derived" in d:
        _check_all(d["derived"], STR, "derived.")
    if "production" in d:
        _check(d["production"], PRODUCTION, "production.")
    for name, family in d.get("families", {}).items():
        if not isinstance(family, Mapping):
            raise InvalidOptionError(f"spec key families.{name!r} must be a table.")
        _check(family, FAMILY, f"families.{name}.")
