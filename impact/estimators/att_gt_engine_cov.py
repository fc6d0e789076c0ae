"""``att_gt`` with covariates in a query engine: the outcome-regression, IPW and doubly
robust ATT(g,t) of :mod:`impact.estimators.drdid` (R ``DRDID``'s ``reg_did_panel``,
``std_ipw_did_panel`` and ``drdid_panel``), every nuisance fit as sums over the units.

Cells that use the same units and base period share their nuisance fits (a *group*, as in
memory). One pass sums the groups' sizes and outcome-regression Grams; the propensity
logits of all groups take their Newton steps together, one pass per step (the driver
solves the small systems); one pass gives each cell's sums. A unit's influence function
in a cell is then a closed expression of its row with cell-level literals
(:mod:`impact.estimators.att_gt_engine_rows` sums their cross-products).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla

from impact.design.engine_panel import NEVER, EnginePanel, P
from impact.engine.base import Engine
from impact.errors import ConvergenceError
from impact.estimators.att_gt_engine_effects import dr_cells, reg_cells, weighted_sums
from impact.estimators.att_gt_engine_terms import (
    WEIGHT,
    Group,
    change,
    dot,
    long_expressions,
    pairs,
    product,
    symmetric,
)
from impact.estimators.drdid import (
    OVERLAP_TOL,
    PS_MAX,
    PS_TRIM,
    check_covariates,
    control_gram_inverse,
)
from impact.linear.engine_fit import literal as _lit
from impact.linear.logit import LOGIT_TOL

__all__ = [
    "LOGIT_MAXITER",
    "CovariateCells",
    "Prepared",
    "covariate_cells",
    "prepare_cells",
    "propensity_fits",
]

#: Newton steps of a propensity logit before giving up (as :func:`logit_fit`).
LOGIT_MAXITER = 100


@dataclass
class CovariateCells:
    """Cell estimates and counts, and each cell's influence-function expression."""

    att: np.ndarray
    n_treat: np.ndarray
    n_ctrl: np.ndarray
    empty: list[tuple]
    psi: dict[int, str]
    table: Any  # the unit table with the columns the expressions read
    wall: float = 0.0  # the units' weight sum
    #: cells whose propensity score leaves the comparison units no weight (no overlap)
    separated: list = field(default_factory=list)


def _groups(panel: EnginePanel, cells: list, control: str) -> tuple[pd.DataFrame, list, dict]:
    """The groups of the cells, and the small table (keyed by cohort and pool) of their
    treated and control indicators before the periods observed."""
    slot = {int(p): j for j, p in enumerate(panel.slots)}
    cohorts = [float(c) for c in panel.cohorts]
    keys = pd.DataFrame(
        [(g, p) for g in [NEVER, *cohorts] for p in (0.0, 1.0)], columns=[f"{P}g", f"{P}pool"]
    )
    g, pool = keys[f"{P}g"].to_numpy(), keys[f"{P}pool"].to_numpy() == 1.0
    never = g == NEVER
    rules: dict[tuple, int] = {}
    groups: dict[tuple, Group] = {}
    where: dict[int, tuple[Group, int, int]] = {}
    for c, (gc, t, s) in enumerate(cells):
        if t == s:
            continue
        m = max(t, s) + panel.anticipation
        rule = ("never",) if control == "never" else (float(gc), float(m))
        if rule not in rules:
            ctrl = never & pool if control == "never" else (never | (g > m)) & (g != gc) & pool
            rules[rule] = len(rules)
            keys[f"{P}cc{rules[rule]}"] = ctrl.astype(float)
        jt, js = slot[int(t)], slot[int(s)]
        seen = () if panel.complete else (jt, js)
        key = (float(gc), rules[rule], seen, js)
        if key not in groups:
            grp = Group(len(groups))
            grp.xs = ["1", *(f"{P}x{js}_{k}" for k in range(panel.n_covariates))]
            groups[key] = grp
        groups[key].cells.append(c)
        where[c] = (groups[key], jt, js)
    for i, gc in enumerate(cohorts):
        keys[f"{P}tc{i}"] = (g == gc).astype(float)
    spec = {grp.index: (k, cohorts.index(k[0])) for k, grp in groups.items()}
    return keys, list(groups.values()), {"where": where, "spec": spec}


def _members(engine: Engine, panel: EnginePanel, keys: pd.DataFrame, groups, spec) -> Any:
    """The unit table with each group's member and treated indicators (materialised)."""
    joined = engine.join_small(panel.units, keys, [f"{P}g", f"{P}pool"])
    cols = {}
    for grp in groups:
        (_, rule, seen, _), ci = spec[grp.index]
        obs = product(*(f"{P}o{j}" for j in seen))
        cols[grp.d] = product(f"{P}tc{ci}", obs)
        cols[grp.m] = product(f"({P}tc{ci} + {P}cc{rule})", obs)
    return engine.materialize(engine.with_columns(joined, long_expressions(cols)))


def _logits(engine: Engine, table: Any, groups: list, size: dict) -> dict[int, np.ndarray]:
    """Every group's propensity logit by Newton's method, all groups' step sums in one
    pass per step, mirroring :func:`impact.linear.logit.logit_fit` (its start, deviance
    and step criteria, on weights normalised to mean 1 within the group)."""
    beta, dev_old, done = {}, {}, {}
    for grp in groups:
        b = np.zeros(len(grp.xs))
        share = size[grp.index]["wd"] / size[grp.index]["wm"]
        if 0 < share < 1:
            b[0] = np.log(share / (1 - share))
        beta[grp.index], dev_old[grp.index] = b, np.inf
    for it in range(1, LOGIT_MAXITER + 1):
        active = [grp for grp in groups if grp.index not in done]
        if not active:
            return done
        cols, sums = {}, {}
        for grp in active:
            i, xs = grp.index, grp.xs
            eta = f"{P}eta{i}"
            cols[eta] = dot(xs, beta[i])
            cols[f"{P}p{i}"] = f"1 / (1 + exp(-{eta}))"
            p, wm = f"{P}p{i}", product(WEIGHT, grp.m)
            softplus = f"({eta} + abs({eta})) / 2 + log1p(exp(-abs({eta})))"
            sums[f"dev{i}"] = f"{wm} * ({softplus} - {grp.d} * {eta})"
            for a, x in enumerate(xs):
                sums[f"g{i}_{a}"] = product(wm, f"({grp.d} - {p})", x)
            for a, b in pairs(xs):
                sums[f"h{i}_{a}_{b}"] = product(wm, p, f"(1 - {p})", xs[a], xs[b])
        view = engine.with_columns(
            table, long_expressions({k: v for k, v in cols.items() if "eta" in k})
        )
        view = engine.with_columns(
            view, long_expressions({k: v for k, v in cols.items() if "eta" not in k})
        )
        row = engine.group_sums(view, [], long_expressions(sums), count=None).iloc[0]
        for grp in active:
            i, k = grp.index, len(grp.xs)
            mw = size[i]["wm"] / size[i]["n"]  # weights normalised to mean 1 in the group
            dev = 2.0 * float(row[f"dev{i}"]) / mw
            if abs(dev - dev_old[i]) <= LOGIT_TOL * (abs(dev) + 0.1) and it > 2:
                done[i] = beta[i]
                continue
            dev_old[i] = dev
            grad = np.array([float(row[f"g{i}_{a}"]) for a in range(k)]) / mw
            H = symmetric(row, f"h{i}", k) / mw
            try:
                step = sla.solve(H, grad, assume_a="pos", check_finite=False)
            except (sla.LinAlgError, ValueError) as exc:
                raise ConvergenceError(
                    "propensity-score logit: the information matrix is singular (a "
                    "regressor has no variation, duplicates another, or separates the "
                    "outcome's two groups)."
                ) from exc
            beta[i] = beta[i] + step
            if np.max(np.abs(step)) <= LOGIT_TOL * max(1.0, float(np.max(np.abs(beta[i])))):
                done[i] = beta[i]
    raise ConvergenceError(
        f"propensity-score logit did not converge in {LOGIT_MAXITER} Newton steps; "
        "regressors may perfectly separate the outcome's two groups."
    )


def _saturated(grp: Group, row: pd.Series, sz: dict) -> tuple[float, float] | None:
    """The fitted shares ``(p0, p1)`` of a constant and one 0/1 covariate, in closed form
    as :func:`impact.linear.logit.logit_fit` takes them (None: another design, or a share
    of 0 or 1, which Newton's method handles)."""
    i = grp.index
    if len(grp.xs) != 2 or float(row[f"bin{i}"]) != 0.0:
        return None
    w1 = float(row[f"P{i}_0_1"])
    w0 = sz["wm"] - w1
    if w1 <= 0 or w0 <= 0:
        return None
    p1 = float(row[f"wdx{i}"]) / w1
    p0 = (sz["wd"] - float(row[f"wdx{i}"])) / w0
    return (p0, p1) if 0.0 < p0 < 1.0 and 0.0 < p1 < 1.0 else None


def _propensity(grp: Group, gamma: dict, shares: dict) -> str:
    """The fitted propensity score's expression: the logistic of the index, or the shares
    of a saturated design (exactly ``p1`` and ``p0``, as in memory)."""
    if grp.index in shares:
        p0, p1 = shares[grp.index]
        x = grp.xs[1]
        return f"{_lit(p1)} * {x} + {_lit(p0)} * (1 - {x})"
    return f"1 / (1 + exp(-{dot(grp.xs, gamma[grp.index])}))"


def _scores(engine: Engine, table: Any, groups: list, gamma: dict, shares: dict) -> Any:
    """The table with each group's capped propensity score and trimming flag
    (materialised; ``table`` is released)."""
    raw = {f"{P}q{g.index}": _propensity(g, gamma, shares) for g in groups}
    view = engine.with_columns(table, long_expressions(raw))
    view = engine.flags(view, [(f"{P}q{g.index}", ">", PS_MAX, f"{P}cap{g.index}") for g in groups])
    capped = {
        g.ps: f"{P}q{g.index} * (1 - {P}cap{g.index}) + {_lit(PS_MAX)} * {P}cap{g.index}"
        for g in groups
    }
    view = engine.with_columns(view, long_expressions(capped))
    view = engine.flags(view, [(g.ps, ">=", PS_TRIM, g.trim) for g in groups])
    made = engine.materialize(view)
    engine.release(table)
    return made


def _sizes(engine, table, groups, cells, where, method) -> tuple[dict, pd.Series]:
    """Pass one: each group's units, treated units and weight sums, its outcome-regression
    Gram among controls and, per cell, the controls' (and treated) outcome-change sums."""
    sums: dict[str, str] = {"wall": WEIGHT}
    for grp in groups:
        i, xs = grp.index, grp.xs
        wm, wd, wc = (
            product(WEIGHT, grp.m),
            product(WEIGHT, grp.d),
            product(WEIGHT, f"({grp.m} - {grp.d})"),
        )
        sums |= {f"n{i}": grp.m, f"nt{i}": grp.d, f"wm{i}": wm, f"wd{i}": wd}
        if method != "reg":  # the propensity design's Gram; a 0/1 covariate's sums
            sums |= {f"P{i}_{a}_{b}": product(wm, xs[a], xs[b]) for a, b in pairs(xs)}
            if len(xs) == 2:
                x = xs[1]
                sums |= {
                    f"bin{i}": product(grp.m, f"abs({x} * (1 - {x}))"),
                    f"wdx{i}": product(wd, x),
                }
        if method == "ipw":
            continue
        sums |= {f"G{i}_{a}_{b}": product(wc, xs[a], xs[b]) for a, b in pairs(xs)}
        if method == "reg":
            sums |= {f"tx{i}_{a}": product(wd, x) for a, x in enumerate(xs)}
        for c in grp.cells:
            dy = change(where[c])
            sums |= {f"S{c}_{a}": product(wc, x, dy) for a, x in enumerate(xs)}
            if method == "reg":
                sums[f"ty{c}"] = product(wd, dy)
    row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
    size = {
        g.index: {k: float(row[f"{k}{g.index}"]) for k in ("n", "nt", "wm", "wd")} for g in groups
    }
    return size, row


@dataclass
class Prepared:
    """What every method shares: the cells' frame of results, the groups with enough
    units, pass one's sums and the unit table with the groups' indicators."""

    out: CovariateCells
    active: list[Group]
    size: dict
    row: pd.Series
    where: dict
    table: Any


def prepare_cells(
    engine: Engine,
    panel: EnginePanel,
    cells: list,
    *,
    method: str,
    control: str,
    min_cell_units: int,
    names: list[str],
) -> Prepared:
    """The groups of the cells, pass one, the cell counts and the covariates' rank checks
    (in memory's order: the propensity design, then the controls')."""
    keys, groups, info = _groups(panel, cells, control)
    where, spec = info["where"], info["spec"]
    table = _members(engine, panel, keys, groups, spec)
    size, row = _sizes(engine, table, groups, cells, where, method)
    K = len(cells)
    out = CovariateCells(
        att=np.array([0.0 if t == s else np.nan for _, t, s in cells]),
        n_treat=np.zeros(K, dtype=int),
        n_ctrl=np.zeros(K, dtype=int),
        empty=[],
        psi={},
        table=table,
        wall=float(row["wall"]),
    )
    active = []
    for grp in groups:
        sz = size[grp.index]
        nt, nc = round(sz["nt"]), round(sz["n"] - sz["nt"])
        out.n_treat[grp.cells], out.n_ctrl[grp.cells] = nt, nc
        if nt < min_cell_units or nc < min_cell_units:
            out.empty += [(cells[c][0], cells[c][1]) for c in grp.cells]
        else:
            active.append(grp)
    for grp in active:
        k = len(grp.xs)
        if method != "reg":
            check_covariates(symmetric(row, f"P{grp.index}", k), names, "units")
        if method != "ipw":
            check_covariates(symmetric(row, f"G{grp.index}", k), names, "controls")
    return Prepared(out, active, size, row, where, table)


def propensity_fits(
    engine: Engine, prep: Prepared
) -> tuple[dict[int, np.ndarray], dict[int, tuple[float, float]]]:
    """The active groups' logit coefficients (Newton) and, for saturated designs, their
    fitted shares ``(p0, p1)`` (closed form), as :func:`impact.linear.logit.logit_fit`."""
    shares = {
        g.index: sh for g in prep.active if (sh := _saturated(g, prep.row, prep.size[g.index]))
    }
    todo = [g for g in prep.active if g.index not in shares]
    return _logits(engine, prep.table, todo, prep.size), shares


def covariate_cells(
    engine: Engine,
    panel: EnginePanel,
    cells: list,
    *,
    method: str,
    control: str,
    min_cell_units: int,
    names: list[str],
) -> CovariateCells:
    """ATT(g,t) with covariates (``names``) of every cell and its influence-function
    expression (methods "reg", "ipw" and "dr")."""
    prep = prepare_cells(
        engine, panel, cells, method=method, control=control,
        min_cell_units=min_cell_units, names=names,
    )  # fmt: skip
    out, active, size, row, where, table = (
        prep.out, prep.active, prep.size, prep.row, prep.where, prep.table
    )  # fmt: skip
    N = panel.n_units
    if not active:
        return out
    beta: dict[int, np.ndarray] = {}
    inv: dict[int, np.ndarray] = {}
    for grp in active:
        if method == "ipw":
            break
        i, k = grp.index, len(grp.xs)
        n, mw = size[i]["n"], size[i]["wm"] / size[i]["n"]
        inv[i] = control_gram_inverse(symmetric(row, f"G{i}", k) / mw / n)
        for c in grp.cells:
            beta[c] = inv[i] @ (np.array([float(row[f"S{c}_{a}"]) for a in range(k)]) / mw / n)
    if method == "reg":
        for grp in active:
            reg_cells(out, grp, row, size[grp.index], beta, inv[grp.index], where, N)
        return out
    gamma, shares = propensity_fits(engine, prep)
    scored = _scores(engine, table, active, gamma, shares)  # releases ``table``
    out.table = scored
    row = engine.group_sums(
        scored, [], long_expressions(weighted_sums(active, beta, where)), count=None
    )
    for grp in active:
        dr_cells(out, grp, row.iloc[0], size[grp.index], beta, inv.get(grp.index), where, N)
        r = row.iloc[0]
        if float(r[f"wc{grp.index}"]) < OVERLAP_TOL * float(r[f"wt{grp.index}"]):
            out.separated += [cells[c][:2] for c in grp.cells]
    return out
