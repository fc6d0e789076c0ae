"""``att_gt`` with covariates in a query engine: the outcome-regression, IPW and doubly
robust ATT(g,t) of :mod:`impact.estimators.drdid` (R ``DRDID``'s ``reg_did_panel``,
``std_ipw_did_panel`` and ``drdid_panel``), every nuisance fit as sums over the units.

Cells that use the same units and base period share their nuisance fits (a *group*, as in
memory). One pass sums the groups' sizes and outcome-regression Grams; the propensity
logits of all groups take their Newton steps together, one pass per step (the driver
solves the small systems); one pass gives each cell's sums. A unit's influence function
in a cell is then a closed expression of its row with cell-level literals, so the
engine writes a table of influence functions (one row per unit) and sums its
cross-products, or its cluster sums: the rows of :class:`EngineRows`.
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
from impact.errors import ConvergenceError, ImpactError
from impact.estimators.drdid import PS_MAX, PS_TRIM, control_gram_inverse
from impact.estimators.engine_types import cluster_codes
from impact.inference.clusters import check_cluster_count
from impact.linear.engine_fit import literal as _lit
from impact.linear.engine_sample import LONG_EXPRESSION
from impact.linear.logit import LOGIT_TOL
from impact.results.aggregation import EngineRows

__all__ = [
    "GRAM_CHUNK",
    "LOGIT_MAXITER",
    "CovariateCells",
    "covariate_cells",
    "covariate_rows",
    "gram_rows",
]

#: Newton steps of a propensity logit before giving up (as :func:`logit_fit`).
LOGIT_MAXITER = 100
_W = f"{P}w"


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


def _mul(*factors: str) -> str:
    return " * ".join(f for f in factors if f != "1") or "1"


def _dot(xs: list[str], coef: np.ndarray) -> str:
    return "(" + " + ".join(_mul(_lit(b), x) for x, b in zip(xs, coef, strict=True)) + ")"


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
        obs = _mul(*(f"{P}o{j}" for j in seen))
        cols[grp.d] = _mul(f"{P}tc{ci}", obs)
        cols[grp.m] = _mul(f"({P}tc{ci} + {P}cc{rule})", obs)
    return engine.materialize(engine.with_columns(joined, _long(cols)))


def _long(exprs: dict[str, str]) -> dict[str, Any]:
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
            p, wm = f"{P}p{i}", _mul(_W, grp.m)
            softplus = f"({eta} + abs({eta})) / 2 + log1p(exp(-abs({eta})))"
            sums[f"dev{i}"] = f"{wm} * ({softplus} - {grp.d} * {eta})"
            for a, x in enumerate(xs):
                sums[f"g{i}_{a}"] = _mul(wm, f"({grp.d} - {p})", x)
            for a, b in _pairs(xs):
                sums[f"h{i}_{a}_{b}"] = _mul(wm, p, f"(1 - {p})", xs[a], xs[b])
        view = engine.with_columns(table, _long({k: v for k, v in cols.items() if "eta" in k}))
        view = engine.with_columns(view, _long({k: v for k, v in cols.items() if "eta" not in k}))
        row = engine.group_sums(view, [], _long(sums), count=None).iloc[0]
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


def _scores(engine: Engine, table: Any, groups: list, gamma: dict) -> Any:
    """The table with each group's capped propensity score and trimming flag
    (materialised; ``table`` is released)."""
    raw = {f"{P}q{g.index}": f"1 / (1 + exp(-{_dot(g.xs, gamma[g.index])}))" for g in groups}
    view = engine.with_columns(table, _long(raw))
    view = engine.flags(view, [(f"{P}q{g.index}", ">", PS_MAX, f"{P}cap{g.index}") for g in groups])
    capped = {
        g.ps: f"{P}q{g.index} * (1 - {P}cap{g.index}) + {_lit(PS_MAX)} * {P}cap{g.index}"
        for g in groups
    }
    view = engine.with_columns(view, _long(capped))
    view = engine.flags(view, [(g.ps, ">=", PS_TRIM, g.trim) for g in groups])
    made = engine.materialize(view)
    engine.release(table)
    return made


def _sizes(engine, table, groups, cells, where, method) -> tuple[dict, pd.Series]:
    """Pass one: each group's units, treated units and weight sums, its outcome-regression
    Gram among controls and, per cell, the controls' (and treated) outcome-change sums."""
    sums: dict[str, str] = {"wall": _W}
    for grp in groups:
        i, xs = grp.index, grp.xs
        wm, wd, wc = _mul(_W, grp.m), _mul(_W, grp.d), _mul(_W, f"({grp.m} - {grp.d})")
        sums |= {f"n{i}": grp.m, f"nt{i}": grp.d, f"wm{i}": wm, f"wd{i}": wd}
        if method == "ipw":
            continue
        sums |= {f"G{i}_{a}_{b}": _mul(wc, xs[a], xs[b]) for a, b in _pairs(xs)}
        if method == "reg":
            sums |= {f"tx{i}_{a}": _mul(wd, x) for a, x in enumerate(xs)}
        for c in grp.cells:
            dy = _dy(where[c])
            sums |= {f"S{c}_{a}": _mul(wc, x, dy) for a, x in enumerate(xs)}
            if method == "reg":
                sums[f"ty{c}"] = _mul(wd, dy)
    row = engine.group_sums(table, [], _long(sums), count=None).iloc[0]
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
) -> CovariateCells:
    """ATT(g,t) with covariates of every cell and its influence-function expression."""
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
    out.wall = float(row["wall"])  # type: ignore[attr-defined]
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
    gamma = _logits(engine, table, active, size)
    scored = _scores(engine, table, active, gamma)  # releases ``table``
    out.table = scored
    row = engine.group_sums(scored, [], _long(_weighted_sums(active, beta, where)), count=None)
    for grp in active:
        _dr_cells(out, grp, row.iloc[0], size[grp.index], beta, inv.get(grp.index), where, N)
    return out


def _wc(grp: _Group) -> str:
    """The reweighted controls' weight ``w ps / (1 - ps)`` (zero once trimmed)."""
    return f"{_W} * ({grp.m} - {grp.d}) * (1 - {grp.trim}) * {grp.ps} / (1 - {grp.ps})"


def _resid(c: int, grp: _Group, beta: dict, where: dict) -> str:
    dy = _dy(where[c])
    return f"({dy} - {_dot(grp.xs, beta[c])})" if c in beta else dy


def _weighted_sums(groups: list, beta: dict, where: dict) -> dict[str, str]:
    """Pass three (IPW, DR): the treated and reweighted controls' sums per group, the
    propensity Hessian at the capped scores, and each cell's residual sums."""
    sums: dict[str, str] = {}
    for grp in groups:
        i, xs = grp.index, grp.xs
        wt, wc = _mul(_W, grp.d), _wc(grp)
        sums |= {f"wt{i}": wt, f"wc{i}": wc}
        sums |= {f"wtx{i}_{a}": _mul(wt, x) for a, x in enumerate(xs)}
        sums |= {f"wcx{i}_{a}": _mul(wc, x) for a, x in enumerate(xs)}
        pq = f"{grp.ps} * (1 - {grp.ps})"
        sums |= {f"H{i}_{a}_{b}": _mul(_W, grp.m, pq, xs[a], xs[b]) for a, b in _pairs(xs)}
        for c in grp.cells:
            r = _resid(c, grp, beta, where)
            sums |= {f"rt{c}": _mul(wt, r), f"rc{c}": _mul(wc, r)}
            sums |= {f"rcx{c}_{a}": _mul(wc, r, x) for a, x in enumerate(xs)}
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
            _mul(_W, grp.d, f"({r} - {_lit(eta_t)})", _lit(1 / Wt)),
            _mul(f"-{_lit(1 / Wc)}", _wc(grp), f"({r} - {_lit(eta_c)})"),
            _mul(f"-{_lit(1 / Wc)}", _W, f"({grp.d} - {grp.m} * {grp.ps})", _dot(grp.xs, u)),
        ]
        if inv is not None:  # DR: the outcome regression's estimation effect
            alpha = inv @ (m_c / Wc - m_t / Wt)
            terms.append(_mul(_W, f"({grp.m} - {grp.d})", r, _dot(grp.xs, alpha)))
        out.psi[c] = _mul(_lit(N / (n * mw)), "(" + " + ".join(terms) + ")")


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
            _mul(_W, grp.d, f"({dy} - {fit} - {_lit(eta_t - eta_c)})"),
            _mul("-1", _W, f"({grp.m} - {grp.d})", f"({dy} - {fit})", _dot(grp.xs, gam)),
        ]
        out.psi[c] = _mul(_lit(N / (n * mw * Wt)), "(" + " + ".join(terms) + ")")


def gram_rows(Q: np.ndarray, null: np.ndarray, K: int, pg_mean: np.ndarray, n: int) -> EngineRows:
    """Unit-level rows ``R`` with ``R'R = Q``, the cross-products of ``Z_i = [psi_i, pg_i,
    1]`` (``K`` cells); the ``null`` columns (zero up to rounding) are set to zero and the
    rest scaled to a unit diagonal first, so that no column drowns the others.

    Raises
    ------
    ImpactError
        ``Q`` lost its positive semi-definiteness to rounding.
    """
    Q = Q.copy()
    Q[null, :] = Q[:, null] = 0.0
    diag = np.clip(np.diag(Q), 0.0, None)
    d = np.where(~null & (diag > 0), np.sqrt(diag), 1.0)
    vals, vecs = np.linalg.eigh((Q + Q.T) / 2 / np.outer(d, d))
    if vals.min(initial=0.0) < -1e-6 * max(vals.max(initial=0.0), 1.0):
        raise ImpactError(
            "the influence functions' cross-products lost their positive semi-definiteness "
            "to rounding (outcomes many orders of magnitude apart?); rescale the outcome or "
            "fit an in-memory pandas frame."
        )
    R = np.sqrt(np.clip(vals, 0.0, None))[:, None] * vecs.T * d[None, :]
    C = len(Q) - K - 1
    return EngineRows(R[:, :K], R[:, K : K + C], R[:, -1], pg_mean, n, None)


#: Sums of products per engine statement when the cross-products are summed in chunks.
GRAM_CHUNK = 2000


def covariate_rows(
    engine: Engine, panel: EnginePanel, cells: list, cc: CovariateCells, cluster: str | None
) -> tuple[EngineRows, np.ndarray | None, np.ndarray | None]:
    """Rows standing for the units' ``Z_i = [psi_i, pg_i, 1]`` (see
    :func:`impact.estimators.att_gt_engine.influence_rows`): the engine writes every
    unit's influence functions and cohort indicators, then sums their cross-products (or
    their cluster sums)."""
    K, C = len(cells), len(panel.cohorts)
    mw = cc.wall / panel.n_units
    periods = panel.periods
    slot = {int(p): j for j, p in enumerate(panel.slots)}
    z = {f"{P}z{c}": e for c, e in cc.psi.items()}
    for j, cohort in enumerate(panel.cohorts):
        base = slot[int(periods[periods + panel.anticipation < cohort][-1])]
        z[f"{P}pg{j}"] = _mul(_W, f"{P}tc{j}", f"{P}o{base}", _lit(1 / mw))
    keep = [*z, *([cluster] if cluster else [])]
    table = engine.materialize(engine.select(engine.with_columns(cc.table, _long(z)), keep))
    engine.release(cc.table)
    names = [f"{P}z{c}" if c in cc.psi else "0" for c in range(K)]
    names += [f"{P}pg{j}" for j in range(C)]
    try:
        if cluster is not None:
            by = engine.group_sums(
                table, [cluster], {f"s{a}": v for a, v in enumerate(names) if v != "0"}, count="u"
            )
            codes, labels = cluster_codes(by[cluster], cluster)
            check_cluster_count(len(labels), cluster, "att_gt")
            S = np.zeros((len(labels), K + C))
            for a, v in enumerate(names):
                if v != "0":
                    S[codes, a] = by[f"s{a}"].to_numpy(dtype=float)
            units = np.zeros(len(labels))
            units[codes] = by["u"].to_numpy(dtype=float)
            pg_mean = S[:, K:].sum(axis=0) / panel.n_units
            rows = EngineRows(S[:, :K], S[:, K:], units, pg_mean, panel.n_units, len(labels))
            return rows, np.arange(len(labels)), labels
        names.append("1")
        m = len(names)
        # every pair but (1, 1), which is the number of units
        todo = [
            (a, b) for a in range(m - 1) for b in range(a, m) if "0" not in (names[a], names[b])
        ]
        Q = np.zeros((m, m))
        Q[-1, -1] = panel.n_units
        for start in range(0, len(todo), GRAM_CHUNK):
            part = todo[start : start + GRAM_CHUNK]
            sums = {f"q{a}_{b}": _mul(names[a], names[b]) for a, b in part}
            row = engine.group_sums(table, [], _long(sums), count=None).iloc[0]
            for a, b in part:
                Q[a, b] = Q[b, a] = float(row[f"q{a}_{b}"])
    finally:
        engine.release(table)
    pg_mean = Q[K : K + C, -1] / panel.n_units
    return gram_rows(Q, np.zeros(m, dtype=bool), K, pg_mean, panel.n_units), None, None
