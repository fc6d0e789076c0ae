"""The improved doubly robust ATT(g,t) in a query engine (Sant'Anna & Zhao 2020; R
``DRDID::drdid_imp_panel``, in memory :func:`impact.estimators.drdid.did_panel` with
``method="dr_improved"``).

The calibrated propensity score minimises ``mean(w [exp(x'g) (1 - D) - D x'g])`` from the
logit estimate by Newton steps with step halving: every trial point of every group is one
pass of sums (its loss, gradient and Hessian), so the driver takes memory's steps and
halvings exactly. The outcome regression among controls is weighted by the fitted odds;
with no estimation effect in the influence function, a unit's influence function is
``N w (summand - D att) / sum(w D)`` with ``summand = (1 - (1 - D) / (1 - ps)) resid``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from impact.design.engine_panel import EnginePanel, P
from impact.engine.base import Engine
from impact.errors import ConvergenceError
from impact.estimators.att_gt_engine_cov import (
    CovariateCells,
    Prepared,
    prepare_cells,
    propensity_fits,
)
from impact.estimators.att_gt_engine_terms import (
    WEIGHT,
    Group,
    change,
    dot,
    long_expressions,
    pairs,
    product,
    symmetric,
    vector,
)
from impact.linear.engine_fit import literal as _lit

__all__ = ["CALIBRATION_MAXITER", "CALIBRATION_TOL", "PS_CAP", "improved_cells"]

#: Newton steps of the calibrated propensity score (as in memory).
CALIBRATION_MAXITER = 200
#: A step moving no coefficient by more than this (relative) ends the calibration.
CALIBRATION_TOL = 1e-12
#: Fitted calibrated scores are capped here (as in memory).
PS_CAP = 1 - 1e-16
#: Step halving stops below this step length (and takes the point), as in memory.
MIN_STEP = 1e-10


def _trial_sums(grp: Group, gamma: np.ndarray) -> dict[str, str]:
    """The calibration loss, gradient and Hessian at ``gamma`` (unnormalised sums)."""
    i, xs = grp.index, grp.xs
    v = dot(xs, gamma)
    # exp(x'g) on controls, 0 elsewhere (the exponent is 0 there: no 0 * inf)
    e = f"({grp.m} - {grp.d}) * exp(({grp.m} - {grp.d}) * {v})"
    sums = {f"L{i}": product(WEIGHT, f"({e} - {grp.d} * {v})")}
    sums |= {f"g{i}_{a}": product(WEIGHT, f"({e} - {grp.d})", x) for a, x in enumerate(xs)}
    sums |= {f"h{i}_{a}_{b}": product(WEIGHT, e, xs[a], xs[b]) for a, b in pairs(xs)}
    return sums


def _calibrate(engine: Engine, table: Any, groups: list, start: dict) -> dict[int, np.ndarray]:
    """Every group's calibrated propensity coefficients, one pass per trial point of all
    groups (memory's Newton steps and halvings, on sums whose scale cancels)."""
    state = {g.index: {"gamma": start[g.index], "cand": start[g.index], "t": None} for g in groups}
    done: dict[int, np.ndarray] = {}
    for _ in range(CALIBRATION_MAXITER * 40):
        todo = [g for g in groups if g.index not in done]
        if not todo:
            return done
        sums: dict[str, str] = {}
        for grp in todo:
            sums |= _trial_sums(grp, state[grp.index]["cand"])
        row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
        for grp in todo:
            st, i, k = state[grp.index], grp.index, len(grp.xs)
            loss = float(row[f"L{i}"])
            if st["t"] is not None:  # a trial point of a step
                if not (loss <= st["loss"] or st["t"] < MIN_STEP):
                    st["t"] /= 2
                    st["cand"] = st["gamma"] - st["t"] * st["step"]
                    continue
                moved = float(np.max(np.abs(st["t"] * st["step"])))
                st["gamma"] = st["cand"]
                if moved <= CALIBRATION_TOL * max(1.0, float(np.max(np.abs(st["gamma"])))):
                    done[i] = st["gamma"]
                    continue
            st["loss"], st["steps"] = loss, st.get("steps", 0) + 1
            if st["steps"] > CALIBRATION_MAXITER:
                raise ConvergenceError("calibrated propensity score did not converge.")
            try:
                st["step"] = np.linalg.solve(symmetric(row, f"h{i}", k), vector(row, f"g{i}", k))
            except np.linalg.LinAlgError as exc:
                raise ConvergenceError(
                    "calibrated propensity score: the Hessian is singular (the controls' "
                    "covariates do not vary)."
                ) from exc
            st["t"] = 1.0
            st["cand"] = st["gamma"] - st["step"]
    raise ConvergenceError("calibrated propensity score did not converge.")


def _start(prep: Prepared, gamma: dict, shares: dict) -> dict[int, np.ndarray]:
    """The logit coefficients the calibration starts from (saturated: from the shares)."""
    start = dict(gamma)
    for i, (p0, p1) in shares.items():
        b0 = np.log(p0 / (1 - p0))
        start[i] = np.array([b0, np.log(p1 / (1 - p1)) - b0])
    return start


def _centred(grp: Group, prep: Prepared) -> list[str]:
    """The intercept and the covariates less their weighted means over the comparison's
    units (from pass one): the odds-weighted regression's Gram then keeps the digits a
    covariate's level would take (memory regresses on ``sqrt(w) X`` instead)."""
    k = len(grp.xs)
    G = symmetric(prep.row, f"P{grp.index}", k)
    means = G[0, 1:] / G[0, 0]
    return ["1", *(f"({x} - {_lit(m)})" for x, m in zip(grp.xs[1:], means, strict=True))]


def _odds(grp: Group) -> str:
    return f"{grp.ps} / (1 - {grp.ps})"


def improved_cells(
    engine: Engine,
    panel: EnginePanel,
    cells: list,
    *,
    control: str,
    min_cell_units: int,
    names: list[str],
) -> CovariateCells:
    """Improved DR ATT(g,t) of every cell and its influence-function expression."""
    prep = prepare_cells(
        engine, panel, cells, method="dr_improved", control=control,
        min_cell_units=min_cell_units, names=names,
    )  # fmt: skip
    out, active, where = prep.out, prep.active, prep.where
    if not active:
        return out
    gamma = _calibrate(engine, prep.table, active, _start(prep, *propensity_fits(engine, prep)))
    raw = {f"{P}q{g.index}": f"1 / (1 + exp(-{dot(g.xs, gamma[g.index])}))" for g in active}
    view = engine.with_columns(prep.table, long_expressions(raw))
    view = engine.flags(view, [(f"{P}q{g.index}", ">", PS_CAP, f"{P}cap{g.index}") for g in active])
    capped = {
        g.ps: f"{P}q{g.index} * (1 - {P}cap{g.index}) + {_lit(PS_CAP)} * {P}cap{g.index}"
        for g in active
    }
    table = engine.materialize(engine.with_columns(view, long_expressions(capped)))
    engine.release(prep.table)
    out.table = table
    sums: dict[str, str] = {}
    centred = {g.index: _centred(g, prep) for g in active}
    for grp in active:  # the controls' outcome regression weighted by the odds
        wc, xs = product(WEIGHT, f"({grp.m} - {grp.d})", _odds(grp)), centred[grp.index]
        sums |= {f"O{grp.index}_{a}_{b}": product(wc, xs[a], xs[b]) for a, b in pairs(xs)}
        for c in grp.cells:
            dy = change(where[c])
            sums |= {f"B{c}_{a}": product(wc, x, dy) for a, x in enumerate(xs)}
    row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
    beta, summand = {}, {}
    for grp in active:
        k, xs = len(grp.xs), centred[grp.index]
        G = symmetric(row, f"O{grp.index}", k)
        for c in grp.cells:
            beta[c] = np.linalg.lstsq(G, vector(row, f"B{c}", k), rcond=None)[0]
            resid = f"({change(where[c])} - {dot(xs, beta[c])})"
            # (1 - (1 - D) / (1 - ps)) among the comparison's units, written as memory does
            summand[c] = f"({grp.m} - ({grp.m} - {grp.d}) / (1 - {grp.ps})) * {resid}"
    sums = {f"A{c}": product(WEIGHT, e) for c, e in summand.items()}
    row = engine.group_sums(table, [], long_expressions(sums), count=None).iloc[0]
    N = panel.n_units
    for grp in active:
        wd = prep.size[grp.index]["wd"]
        for c in grp.cells:
            att = float(row[f"A{c}"]) / wd
            out.att[c] = att
            inner = f"({summand[c]} - {grp.d} * {_lit(att)})"
            out.psi[c] = product(_lit(N / wd), WEIGHT, inner)
    return out
