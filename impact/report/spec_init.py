"""``impact spec init``: a first spec for the user's panel, proposed from its columns.

Roles are proposed by name (``firm_id``, ``year``, ``first.treat``, ``sector`` ...) and
checked against the data (a unit-period pair identifies a row; a cohort is constant
within a unit and lies on the period grid or codes never-treated units); outcomes are the
numeric columns that vary within units, grouped into families by scale (logs, levels,
binaries, counts with zeros). The spec is written as commented TOML with every table
the roles allow and why the others are off; :attr:`Proposal.checks` lists what the user
should check before trusting it.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.errors import ImpactError, InvalidOptionError
from impact.report.prepare import cohort_from_treatment
from impact.report.spec import Spec
from impact.report.spec_fit import OPTIONAL_ROLES, fit_spec
from impact.report.spec_roles import DEFAULT_ESTIMATORS, Columns, OutcomeFamily

__all__ = ["MAX_OUTCOMES_PER_FAMILY", "Proposal", "propose_spec"]

#: Outcomes proposed per family (the others are listed in a comment): each outcome runs
#: every estimator of its family, so a first report stays quick.
MAX_OUTCOMES_PER_FAMILY = 2

#: Column names (lower case, ``.``, ``-`` and spaces as ``_``) read as each role, in order
#: of preference.
NAMES = {
    "unit": ("firm_id", "firmid", "firm", "unit_id", "unit", "id", "countyreal", "county",
             "fcode", "plant_id", "plant", "establishment", "company_id", "company", "idcode"),
    "time": ("year", "period", "time", "yr", "t"),
    "cohort": ("join_year", "cohort", "first_treat", "firsttreat", "first_treated",
               "first_treatment", "gname", "g", "treat_year", "treatment_year",
               "adoption_year", "year_treated", "year_joined"),
    "cell": ("cell", "cell_id"),
    "region": ("region", "region_id", "state", "province", "nuts2", "nuts3", "nuts"),
    "sector": ("sector", "industry", "nace", "naics", "sic", "isic"),
    "cluster_cell": ("cluster_cell", "in_cluster_cell"),
    "launch": ("launch_year", "launch"),
    "size_class": ("size_class", "sizeclass"),
    "high_tech": ("high_tech", "hightech"),
    "treatment": ("treatment", "treated", "treat", "member", "membership", "participant",
                  "participation", "grant", "program", "policy", "d"),
}  # fmt: skip

#: Family names by outcome scale.
FAMILY_NAMES = {"log": "logs", "level": "levels", "binary": "binaries", "count": "counts"}

_LOG_NAME = re.compile(r"^(log|ln)(_|[a-z])|^l[a-z]{2,}$")


def _key(name: object) -> str:
    return re.sub(r"[\s.\-]+", "_", str(name).strip().lower())


def _by_name(data: pd.DataFrame, role: str, taken: set[str]) -> str | None:
    keys = {_key(c): str(c) for c in data.columns if str(c) not in taken}
    return next((keys[n] for n in NAMES[role] if n in keys), None)


def _unit_constant(data: pd.DataFrame, unit: str, col: str) -> bool:
    s = data[col]
    filled = s.astype(object).where(s.notna(), "__missing__")
    return bool((filled.groupby(data[unit].to_numpy()).nunique() <= 1).all())


def _scale(values: pd.Series, name: str) -> str:
    v = values.dropna().to_numpy(dtype=float)
    if v.size and np.isin(v, (0.0, 1.0)).all():
        return "binary"
    integral = v.size and np.all(v == np.round(v))
    if integral and (v >= 0).all() and (v == 0).any() and v.max() > 1:
        return "count"
    return "log" if _LOG_NAME.match(_key(name)) and not integral else "level"


@dataclass(frozen=True)
class Proposal:
    """A proposed spec: the ``spec``, its TOML ``text`` (with comments), and ``checks``,
    one line per thing the user should check."""

    spec: Spec
    text: str
    checks: tuple[str, ...]


def _roles(data: pd.DataFrame) -> dict[str, str | None]:
    taken: set[str] = set()
    roles: dict[str, str | None] = {}
    for role in ("unit", "time", "cohort", *OPTIONAL_ROLES):
        found = _by_name(data, role, taken)
        roles[role] = found
        if found:
            taken.add(found)
    unit = roles["unit"]
    if unit and roles["time"] and not roles["cohort"]:
        roles["treatment"] = _treatment(data, unit, taken)
    missing = [r for r in ("unit", "time") if not roles[r]]
    if not (roles["cohort"] or roles.get("treatment")):
        missing.append("cohort")
    if missing:
        raise InvalidOptionError(
            f"could not find the {missing} column(s) by name among {list(map(str, data.columns))}; "
            "write the spec's [columns] by hand (unit, time and cohort are required; a 0/1 "
            "treatment column can stand in for the cohort)."
        )
    for role in OPTIONAL_ROLES:  # a role of the unit must be constant within it
        col = roles[role]
        if col and role != "region" and not _unit_constant(data, unit, col):
            roles[role] = None
    return roles


def _treatment(data: pd.DataFrame, unit: str, taken: set[str]) -> str | None:
    """A 0/1 treatment status found by name that changes within some units (a group
    indicator constant within units is not a treatment status)."""
    keys = {_key(c): str(c) for c in data.columns if str(c) not in taken}
    for name in NAMES["treatment"]:
        col = keys.get(name)
        if col is None:
            continue
        values = data[col].dropna()
        if values.isin([0, 1, True, False]).all() and not _unit_constant(data, unit, col):
            taken.add(col)
            return col
    return None


def _derived_name(key: str, keys: set[str]) -> bool:
    """``x_1`` (a lag) or ``cx``/``dx``/``chx`` (a change) where ``x`` is another column."""
    lag = re.match(r"^(.+)_\d+$", key)
    if lag and lag.group(1) in keys:
        return True
    return any(key.startswith(p) and key[len(p) :] in keys for p in ("c", "d", "ch", "d_", "diff_"))


def _status(data: pd.DataFrame, roles: dict[str, str | None]) -> np.ndarray | None:
    """Each row's treatment status implied by the cohort (1 from the cohort on), or None
    when the time or cohort cannot be read as numbers."""
    if not roles["cohort"] or not pd.api.types.is_numeric_dtype(data[roles["time"]]):
        return None
    g = pd.to_numeric(data[roles["cohort"]], errors="coerce").to_numpy(dtype=float)
    g = np.where(np.isfinite(g) & (g != 0), g, np.inf)
    return (data[roles["time"]].to_numpy(dtype=float) >= g).astype(float)


def _is_status(values: pd.Series, status: np.ndarray) -> bool:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(v)
    return bool(ok.any()) and bool(np.array_equal(v[ok], status[ok]))


def _outcomes(data: pd.DataFrame, roles: dict[str, str | None]) -> tuple[dict, list[str]]:
    """Numeric columns varying within units, by scale; and time-invariant numeric
    columns (candidate covariates)."""
    used = {c for c in roles.values() if c}
    status = _status(data, roles)
    by_scale: dict[str, list[str]] = {s: [] for s in FAMILY_NAMES}
    constant: list[str] = []
    lower = {_key(c) for c in data.columns}
    for col in data.columns:
        name = str(col)
        s = data[col]
        if name in used or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        if _unit_constant(data, roles["unit"], name):
            constant.append(name)
            continue
        if _unit_constant(data, roles["time"], name):
            continue  # a function of the period (year dummies, prices)
        treat = roles.get("treatment")
        if treat and _derived_name(_key(name), {_key(treat)}):
            continue  # a lag or change of the treatment status
        if status is not None and _is_status(s, status):
            continue  # the treatment status itself (1 from the cohort on)
        if f"log_{_key(name)}" in lower or f"l{_key(name)}" in lower:
            continue  # a level whose log is a column: the log is proposed
        if _derived_name(_key(name), lower):
            continue  # a lag (x_1) or a change (cx, dx) of another column
        by_scale[_scale(s, name)].append(name)
    return by_scale, constant


def _window(data: pd.DataFrame, roles: dict[str, str | None]) -> tuple[int, int]:
    try:
        t = period_numbers(data[roles["time"]])
        if not roles["cohort"]:
            t = data[roles["time"]].to_numpy(dtype=float)  # the treatment's cohorts are times
    except (ImpactError, TypeError, ValueError):
        return (-5, 5)
    if roles["cohort"]:
        g = pd.to_numeric(data[roles["cohort"]], errors="coerce").to_numpy(dtype=float)
    else:
        g = cohort_from_treatment(data, roles["unit"], roles["time"], roles["treatment"])
    ok = np.isfinite(g) & (g != 0)
    if not ok.any():
        return (-5, 5)
    e = t[ok] - g[ok]
    return (int(max(-5, min(-1, e.min()))), int(min(5, max(0, e.max()))))


def propose_spec(data: pd.DataFrame) -> Proposal:
    """Propose a spec for ``data`` (see the module docstring).

    Raises
    ------
    InvalidOptionError
        No column could be read as the unit, the time or the cohort.
    """
    roles = _roles(data)
    by_scale, constant = _outcomes(data, roles)
    fams, extra = [], {}
    for scale, names in by_scale.items():
        if names:
            fams.append(OutcomeFamily(FAMILY_NAMES[scale], tuple(names[:MAX_OUTCOMES_PER_FAMILY]),
                                      scale, DEFAULT_ESTIMATORS[scale]))  # fmt: skip
            extra[FAMILY_NAMES[scale]] = names[MAX_OUTCOMES_PER_FAMILY:]
    if not fams:
        raise InvalidOptionError(
            "no numeric column varies within units: there is no outcome to evaluate."
        )
    columns = Columns(**{r: roles[r] or "" for r in ("unit", "time", "cohort", *OPTIONAL_ROLES)},
                      treatment=roles.get("treatment"))  # fmt: skip
    shown = [o for f in fams for o in f.outcomes]
    baseline = [o for f in fams if f.scale in ("log", "binary") for o in f.outcomes]
    full = Spec(columns=columns, families=tuple(fams), derived={}, describe=tuple(shown),
                selection=tuple(baseline), production=None,
                window=_window(data, roles))  # fmt: skip
    probe = fit_spec(full, data)  # the shipped defaults' tables, roles and options, fitted
    skipped = [n for n in probe.notes if " skipped: " in n]
    cohort_check = (
        f"cohort = {roles['cohort']!r} (the first treated period; empty, 0 or inf for "
        "never-treated units)"
        if roles["cohort"]
        else f"treatment = {roles['treatment']!r}: each unit's cohort is its first period "
        "with status 1 (later periods count as treated)"
    )
    checks = [
        f"unit = {roles['unit']!r}, time = {roles['time']!r}, {cohort_check}",
        *(f"outcome family {f.name} ({f.scale}): {list(f.outcomes)}" for f in fams),
        f"window = {list(probe.spec.window)} (event times of the dynamic table)",
        'standard errors are clustered by the unit: set cluster = "<column>" for the level '
        "at which treatment was assigned",
    ]
    text = _toml(probe.spec, extra, constant, skipped)
    return Proposal(Spec.from_dict(tomllib.loads(text)), text, tuple(checks))


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _list(values) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _toml(spec: Spec, extra, constant, skipped) -> str:
    c = spec.columns
    lines = [
        "# Written by `impact spec init`: check every line, then run",
        "#   impact spec check --spec <this file> --data <your data>",
        "#   impact replicate --spec <this file> --data <your data> --out <folder>",
        "",
        f"seed = {spec.seed}",
        f"window = [{spec.window[0]}, {spec.window[1]}]   # event times of the dynamic table",
        f"# cluster = {_q(c.unit)}   # default: the unit; the level treatment was assigned at",
        f'control = "{spec.control}"',
        f"sector_by_year = {'true' if spec.sector_by_year else 'false'}",
        f"covariates = {_list(spec.covariates)}"
        + (f"   # time-invariant candidates: {_list(constant)}" if constant else ""),
        f"describe = {_list(spec.describe)}   # table 1: pre-programme means",
        f"selection = {_list(spec.selection)}   # tables 3-4: baseline characteristics",
        f"heterogeneity = {_list(spec.heterogeneity)}",
        f"tables = {_list(spec.tables)}",
        f"figures = {_list(spec.figures)}",
        *(f"# {n}" for n in skipped),
        "",
        "[columns]",
    ]
    for role in ("unit", "time", "cohort", *OPTIONAL_ROLES):
        value = getattr(c, role) or ""
        lines.append(f"{role} = {_q(value)}" + ("" if value else "   # not found: absent"))
        if role == "cohort" and c.treatment:
            lines[-1] = f'cohort = ""   # no cohort column: the first period with {c.treatment} = 1'
            lines.append(f"treatment = {_q(c.treatment)}")
    for fam in spec.families:
        lines += ["", f"[families.{fam.name}]", f"outcomes = {_list(fam.outcomes)}",
                  f'scale = "{fam.scale}"', f"estimators = {_list(fam.estimators)}"]  # fmt: skip
        if extra.get(fam.name):
            lines.append(f"# other {fam.scale} outcomes: {_list(extra[fam.name])}")
    lines += ["", "[production]", "enabled = false   # value added, inputs and a proxy: see docs"]
    return "\n".join(lines) + "\n"
