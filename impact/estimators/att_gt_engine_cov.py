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
from impact.engine.expressions import expression
from impact.errors import ConvergenceError
from impact.estimators.drdid import PS_MAX, PS_TRIM, check_covariates, control_gram_inverse
from impact.linear.engine_fit import literal as _lit
from impact.linear.engine_sample import LONG_EXPRESSION
from impact.linear.logit import LOGIT_TOL

__all__ = [
    "LOGIT_MAXITER",
    "WEIGHT",
    "CovariateCells",
    "covariate_cells",
    "long_expressions",
    "product",
]

#: Newton steps of a propensity logit before giving up (as :func:`logit_fit`).
LOGIT_MAXITER = 100
#: The unit weight column of the engine panel.
WEIGHT = f"{P}w"


@dataclass
class _Group:
    """Cells sharing their units (treated cohort, control set, periods observed) and base
    period: one propensity fit and one outcome-regression Gram."""

    index: int
    cells: list[int] = field(default_factory=list)
    xs: list[str] = field(default_factory=list)  # "1" and the base-period covariates

    @property
    def m(self) -> str:  # member of the group's comparison (0/1)
        return f"{P}m{self.index}"

    @property
    def d(self) -> str:  # treated member (0/1)
        return f"{P}d{self.index}"

    @property
    def ps(self) -> str:
        return f"{P}ps{self.index}"

    @property
    def trim(self) -> str:
        return f"{P}tr{self.index}"


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


def product(*factors: str) -> str:
    """The product of expression ``factors`` (a factor ``1`` left out)."""
    return " * ".join(f for f in factors if f != "1") or "1"


def _dot(xs: list[str], coef: np.ndarray) -> str:
    return "(" + " + ".join(product(_lit(b), x) for x, b in zip(xs, coef, strict=True)) + ")"


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
    groups: dict[tuple, _Group] = {}
    where: dict[int, tuple[_Group, int, int]] = {}
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
            grp = _Group(len(groups))
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


def long_expressions(exprs: dict[str, str]) -> dict[str, Any]:
    """Checked expressions of internal length (estimators' long sums)."""
    return {k: expression(v, max_length=LONG_EXPRESSION) for k, v in exprs.items()}


def _pairs(xs: list[str]) -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(xs)) for b in range(a, len(xs))]


def _sym(row: pd.Series, name: str, k: int) -> np.ndarray:
    M = np.empty((k, k))
    for a in range(k):
        for b in range(a, k):
            M[a, b] = M[b, a] = float(row[f"{name}_{a}_{b}"])
    return M


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
            cols[eta] = _dot(xs, beta[i])
            cols[f"{P}p{i}"] = f"1 / (1 + exp(-{eta}))"
            p, wm = f"{P}p{i}", product(WEIGHT, grp.m)
            softplus = f"({eta} + abs({eta})) / 2 + log1p(exp(-abs({eta})))"
            sums[f"dev{i}"] = f"{wm} * ({softplus} - {grp.d} * {eta})"
            for a, x in enumerate(xs):
                sums[f"g{i}_{a}"] = product(wm, f"({grp.d} - {p})", x)
            for a, b in _pairs(xs):
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
            H = _sym(row, f"h{i}", k) / mw
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


def _saturated(grp: _Group, row: pd.Series, sz: dict) -> tuple[float, float] | None:
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


def _propensity(grp: _Group, gamma: dict, shares: dict) -> str:
    """The fitted propensity score's expression: the logistic of the index, or the shares
    of a saturated design (exactly ``p1`` and ``p0``, as in memory)."""
    if grp.index in shares:
        p0, p1 = shares[grp.index]
        x = grp.xs[1]
        return f"{_lit(p1)} * {x} + {_lit(p0)} * (1 - {x})"
    return f"1 / (1 + exp(-{_dot(grp.xs, gamma[grp.index])}))"


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
            sums |= {f"P{i}_{a}_{b}": product(wm, xs[a], xs[b]) for a, b in _pairs(xs)}
            if len(xs) == 2:
                x = xs[1]
                sums |= {
                    f"bin{i}": product(grp.m, f"abs({x} * (1 - {x}))"),
                    f"wdx{i}": product(wd, x),
                }
        if method == "ipw":
            continue
        sums |= {f"G{i}_{a}_{b}": product(wc, xs[a], xs[b]) for a, b in _pairs(xs)}
        if method == "reg":
            sums |= {f"tx{i}_{a}": product(wd, x) for a, x in enumerate(xs)}
        for c in grp.cells:
            dy = _dy(where[c])
            sums |= {f"S{c}_{a}": product(wc, x, dy) for a, x in enumerate(xs)}
            if method == "reg":
                sums[f"ty{c}"] = product(wd, dy)
    row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
    size = {
        g.index: {k: float(row[f"{k}{g.index}"]) for k in ("n", "nt", "wm", "wd")} for g in groups
    }
    return size, row


def _dy(place: tuple) -> str:
    _, jt, js = place
    return f"({P}y{jt} - {P}y{js})"


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
    expression."""
    keys, groups, info = _groups(panel, cells, control)
    where, spec = info["where"], info["spec"]
    table = _members(engine, panel, keys, groups, spec)
    size, row = _sizes(engine, table, groups, cells, where, method)
    K, N = len(cells), panel.n_units
    out = CovariateCells(
        att=np.array([0.0 if t == s else np.nan for _, t, s in cells]),
        n_treat=np.zeros(K, dtype=int),
        n_ctrl=np.zeros(K, dtype=int),
        empty=[],
        psi={},
        table=table,
    )
    out.wall = float(row["wall"])
    active = []
    for grp in groups:
        sz = size[grp.index]
        nt, nc = round(sz["nt"]), round(sz["n"] - sz["nt"])
        out.n_treat[grp.cells], out.n_ctrl[grp.cells] = nt, nc
        if nt < min_cell_units or nc < min_cell_units:
            out.empty += [(cells[c][0], cells[c][1]) for c in grp.cells]
        else:
            active.append(grp)
    if not active:
        return out
    for grp in active:  # in memory's order: the propensity design, then the controls'
        k = len(grp.xs)
        if method != "reg":
            check_covariates(_sym(row, f"P{grp.index}", k), names, "units")
        if method != "ipw":
            check_covariates(_sym(row, f"G{grp.index}", k), names, "controls")
    beta: dict[int, np.ndarray] = {}
    inv: dict[int, np.ndarray] = {}
    for grp in active:
        if method == "ipw":
            break
        i, k = grp.index, len(grp.xs)
        n, mw = size[i]["n"], size[i]["wm"] / size[i]["n"]
        inv[i] = control_gram_inverse(_sym(row, f"G{i}", k) / mw / n)
        for c in grp.cells:
            beta[c] = inv[i] @ (np.array([float(row[f"S{c}_{a}"]) for a in range(k)]) / mw / n)
    if method == "reg":
        for grp in active:
            _reg_cells(out, grp, row, size[grp.index], beta, inv[grp.index], where, N)
        return out
    shares = {g.index: sh for g in active if (sh := _saturated(g, row, size[g.index]))}
    gamma = _logits(engine, table, [g for g in active if g.index not in shares], size)
    scored = _scores(engine, table, active, gamma, shares)  # releases ``table``
    out.table = scored
    row = engine.group_sums(
        scored, [], long_expressions(_weighted_sums(active, beta, where)), count=None
    )
    for grp in active:
        _dr_cells(out, grp, row.iloc[0], size[grp.index], beta, inv.get(grp.index), where, N)
    return out


def _wc(grp: _Group) -> str:
    """The reweighted controls' weight ``w ps / (1 - ps)`` (zero once trimmed)."""
    return f"{WEIGHT} * ({grp.m} - {grp.d}) * (1 - {grp.trim}) * {grp.ps} / (1 - {grp.ps})"


def _resid(c: int, grp: _Group, beta: dict, where: dict) -> str:
    dy = _dy(where[c])
    return f"({dy} - {_dot(grp.xs, beta[c])})" if c in beta else dy


def _weighted_sums(groups: list, beta: dict, where: dict) -> dict[str, str]:
    """Pass three (IPW, DR): the treated and reweighted controls' sums per group, the
    propensity Hessian at the capped scores, and each cell's residual sums."""
    sums: dict[str, str] = {}
    for grp in groups:
        i, xs = grp.index, grp.xs
        wt, wc = product(WEIGHT, grp.d), _wc(grp)
        sums |= {f"wt{i}": wt, f"wc{i}": wc}
        sums |= {f"wtx{i}_{a}": product(wt, x) for a, x in enumerate(xs)}
        sums |= {f"wcx{i}_{a}": product(wc, x) for a, x in enumerate(xs)}
        pq = f"{grp.ps} * (1 - {grp.ps})"
        sums |= {f"H{i}_{a}_{b}": product(WEIGHT, grp.m, pq, xs[a], xs[b]) for a, b in _pairs(xs)}
        for c in grp.cells:
            r = _resid(c, grp, beta, where)
            sums |= {f"rt{c}": product(wt, r), f"rc{c}": product(wc, r)}
            sums |= {f"rcx{c}_{a}": product(wc, r, x) for a, x in enumerate(xs)}
    return sums


def _vec(row: pd.Series, name: str, k: int) -> np.ndarray:
    return np.array([float(row[f"{name}_{a}"]) for a in range(k)])


def _dr_cells(out, grp, row, sz, beta, inv, where, N) -> None:
    """IPW and DR: ATT and influence-function expression of the group's cells
    (:func:`impact.estimators.drdid.did_covariates_batch`, with weights normalised to
    mean 1 in the group and the result scaled to the full sample)."""
    i, k, n = grp.index, len(grp.xs), sz["n"]
    mw = sz["wm"] / n
    Wt, Wc = float(row[f"wt{i}"]) / mw / n, float(row[f"wc{i}"]) / mw / n
    m_t, m_c = _vec(row, f"wtx{i}", k) / mw / n, _vec(row, f"wcx{i}", k) / mw / n
    minv = np.linalg.inv(_sym(row, f"H{i}", k) / mw) * n
    sx = _vec(row, f"wcx{i}", k) / mw
    for c in grp.cells:
        eta_t = float(row[f"rt{c}"]) / mw / n / Wt
        eta_c = float(row[f"rc{c}"]) / mw / n / Wc
        u = minv @ ((_vec(row, f"rcx{c}", k) / mw - sx * eta_c) / n)
        out.att[c] = eta_t - eta_c
        r = _resid(c, grp, beta, where)
        terms = [
            product(WEIGHT, grp.d, f"({r} - {_lit(eta_t)})", _lit(1 / Wt)),
            product(f"-{_lit(1 / Wc)}", _wc(grp), f"({r} - {_lit(eta_c)})"),
            product(f"-{_lit(1 / Wc)}", WEIGHT, f"({grp.d} - {grp.m} * {grp.ps})", _dot(grp.xs, u)),
        ]
        if inv is not None:  # DR: the outcome regression's estimation effect
            alpha = inv @ (m_c / Wc - m_t / Wt)
            terms.append(product(WEIGHT, f"({grp.m} - {grp.d})", r, _dot(grp.xs, alpha)))
        out.psi[c] = product(_lit(N / (n * mw)), "(" + " + ".join(terms) + ")")


def _reg_cells(out, grp, row, sz, beta, inv, where, N) -> None:
    """Outcome regression: ATT and influence-function expression of the group's cells."""
    i, k, n = grp.index, len(grp.xs), sz["n"]
    mw = sz["wm"] / n
    Wt = sz["wd"] / mw / n
    m_t = _vec(row, f"tx{i}", k) / mw / n
    gam = inv @ m_t
    for c in grp.cells:
        eta_t = float(row[f"ty{c}"]) / mw / n / Wt
        eta_c = float(m_t @ beta[c]) / Wt
        out.att[c] = eta_t - eta_c
        dy, fit = _dy(where[c]), _dot(grp.xs, beta[c])
        terms = [
            product(WEIGHT, grp.d, f"({dy} - {fit} - {_lit(eta_t - eta_c)})"),
            product("-1", WEIGHT, f"({grp.m} - {grp.d})", f"({dy} - {fit})", _dot(grp.xs, gam)),
        ]
        out.psi[c] = product(_lit(N / (n * mw * Wt)), "(" + " + ".join(terms) + ")")
