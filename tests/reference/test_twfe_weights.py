"""TWFE weights on treated cells (de Chaisemartin & D'Haultfœuille 2020): the authors'
twowayfeweights on wagepan and random panels, a closed-form design, the two robustness
measures by their definitions, bad input."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from twowayfeweights import load_wagepan, twowayfeweights

import impact
from impact.diagnostics.negative_weights import sigma_fe, sigma_sign_change
from impact.errors import ColumnTypeError, EmptySampleError

#: Both sides residualise the treatment on two sets of fixed effects exactly (direct
#: solvers); measured agreement ~1e-14.
REF_TOL = 1e-10
#: The constrained optimisation (SLSQP, 20 starts) that checks Corollary 2 by its
#: definition; measured agreement 1e-13 on these cases, the margin is the optimiser's.
OPT_TOL = 1e-8


def _reference(df, **cols):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return twowayfeweights(df, type="feTR", summary_measures=True, **cols)


def _compare(df: pd.DataFrame, y: str, unit: str, time: str, d: str) -> impact.twfe_weights:
    ref = _reference(df, Y=y, G=unit, T=time, D=d)
    res = impact.twfe_weights(df, y=y, unit=unit, time=time, treatment=d)
    assert abs(res.beta - ref.beta) <= REF_TOL
    s = res.summary_of_weights
    assert (s.n_positive, s.n_negative) == (ref.nr_plus, ref.nr_minus)
    assert abs(s.sum_positive - ref.sum_plus) <= REF_TOL
    assert abs(s.sum_negative - ref.sum_minus) <= REF_TOL
    # the authors scale sigma(w) by sqrt(M / (M - 1)), M treated cells (see the docstring)
    m = len(res.cells)
    assert abs(res.sigma_fe / np.sqrt(m / (m - 1)) - ref.sensibility) <= REF_TOL
    if ref.sensibility2 is not None:
        assert abs(res.sigma_sign_change - ref.sensibility2) <= REF_TOL * 10
    cells = res.cells.rename(columns={unit: "Group_TWFE", time: "Time_TWFE"})
    both = cells.merge(ref.weights, on=["Group_TWFE", "Time_TWFE"], suffixes=("", "_ref"))
    assert len(both) == len(cells)
    np.testing.assert_allclose(both["weight"], both["weight_ref"], rtol=0, atol=REF_TOL)
    return res


def test_wagepan_matches_twowayfeweights():
    """Vella & Verbeek's union panel, the authors' example: beta 0.1066, 820 positive and
    147 negative weights, sigma_fe 0.0969, sigma for a sign change 3.1759."""
    res = _compare(load_wagepan(), "lwage", "nr", "year", "union")
    assert res.summary_of_weights.n_negative == 147
    assert round(res.sigma_sign_change, 4) == 3.1759


@pytest.mark.parametrize("seed", range(4))
def test_random_unbalanced_switching_panels_match_twowayfeweights(seed):
    rng = np.random.default_rng(seed)
    n, t = 60, 7
    u, p = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    d = (rng.uniform(size=n * t) < 0.3 + 0.08 * p).astype(float)  # switches on and off
    y = rng.normal(size=n)[u] + 0.1 * p + d * rng.normal(1, 1, n * t) + rng.normal(size=n * t)
    df = pd.DataFrame({"u": u, "t": 2000 + p, "d": d, "y": y})
    df = df.drop(index=rng.choice(len(df), 25, replace=False)).reset_index(drop=True)
    _compare(df, "y", "u", "t", "d")


def _two_cohorts(n: int, effects: dict[tuple[str, int], float]) -> pd.DataFrame:
    """Periods 1-3; cohort E treated from 2, cohort L from 3, n units each, no noise."""
    rows = []
    for i in range(2 * n):
        cohort, start = ("E", 2) if i < n else ("L", 3)
        for t in (1, 2, 3):
            d = float(t >= start)
            rows.append((i, t, d, 0.3 * i + 0.5 * t + d * effects.get((cohort, t), 0.0)))
    return pd.DataFrame(rows, columns=["u", "t", "d", "y"])


def test_two_cohorts_three_periods_closed_form():
    """Residualised treatment: E = (-1/6, 1/3, -1/6), L = (1/6, -1/3, 1/6), so the cells
    (E, 2), (E, 3), (L, 3) weigh 1, -1/2, 1/2 (each unit 1/n of its cell)."""
    n = 5
    effects = {("E", 2): 1.0, ("E", 3): 4.0, ("L", 3): 0.5}
    res = impact.twfe_weights(_two_cohorts(n, effects), y="y", unit="u", time="t", treatment="d")
    cell = (
        res.cells.assign(c=np.where(res.cells["u"] < n, "E", "L"))
        .groupby(["c", "t"])["weight"]
        .sum()
    )
    np.testing.assert_allclose(cell[("E", 2)], 1.0, atol=1e-12)
    np.testing.assert_allclose(cell[("E", 3)], -0.5, atol=1e-12)
    np.testing.assert_allclose(cell[("L", 3)], 0.5, atol=1e-12)
    # every effect is positive, the coefficient is 1 - 4/2 + 0.5/2 < 0
    assert abs(res.beta - (1.0 - 0.5 * 4.0 + 0.5 * 0.5)) <= 1e-12
    assert res.summary_of_weights.n_negative == n and np.isfinite(res.sigma_sign_change)


def test_sigma_fe_is_attained():
    """Corollary 1: Delta = beta (w - 1) / sigma(w)^2 has p-mean 0, reproduces beta through
    the weights, and its p-weighted standard deviation is sigma_fe."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(9))
    w = rng.normal(1, 1.5, 9)
    w = w / (p @ w)
    beta = 0.7
    delta = beta * (w - 1) / (p @ (w - 1) ** 2)
    assert abs(p @ delta) <= 1e-12 and abs(p @ (w * delta) - beta) <= 1e-12
    assert abs(np.sqrt(p @ delta**2) - sigma_fe(beta, w, p)) <= 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_sigma_sign_change_solves_its_optimisation(seed):
    """Corollary 2 by its definition: the smallest p-weighted sd of cell effects, all of the
    sign opposite to beta, with sum p w Delta = beta."""
    rng = np.random.default_rng(seed)
    k = 7
    p = rng.dirichlet(np.ones(k))
    w = rng.normal(1, 2, k)
    w = w / (p @ w)
    assert (w < 0).any()
    beta = 0.4

    def sd(delta):
        return np.sqrt(max(p @ delta**2 - (p @ delta) ** 2, 0.0))

    best = np.inf
    for _ in range(20):
        x0 = -np.abs(rng.normal(size=k))
        out = minimize(
            lambda x: p @ x**2 - (p @ x) ** 2, x0, method="SLSQP",
            constraints=[{"type": "eq", "fun": lambda x: p @ (w * x) - beta}],
            bounds=[(None, 0.0)] * k, options={"ftol": 1e-14, "maxiter": 500},
        )  # fmt: skip
        if out.success and abs(p @ (w * out.x) - beta) < 1e-8:
            best = min(best, sd(out.x))
    assert np.isfinite(best)
    assert abs(sigma_sign_change(beta, w, p) - best) <= OPT_TOL


def test_bad_input_and_protocol():
    import matplotlib.pyplot as plt

    df = _two_cohorts(4, {("E", 2): 1.0, ("E", 3): 2.0, ("L", 3): 1.0})
    kw = dict(y="y", unit="u", time="t", treatment="d")
    with pytest.raises(ColumnTypeError, match="0/1"):
        impact.twfe_weights(df.assign(d=df["d"] * 2), **kw)
    with pytest.raises(EmptySampleError, match="does not vary"):
        impact.twfe_weights(df.assign(d=1.0), **kw)
    gap = df.copy()
    gap.loc[3, "y"] = np.nan
    before = gap.copy()
    res = impact.twfe_weights(gap, **kw)
    pd.testing.assert_frame_equal(gap, before)
    assert res.sample_log.n_final == len(df) - 1
    assert abs(res.cells["weight"].sum() - 1) <= 1e-12
    tidy = res.tidy()
    assert tidy["term"].iloc[0] == "d" and tidy["n_negative"].iloc[0] >= 1
    assert isinstance(res.plot(), matplotlib.axes.Axes)
    plt.close("all")
    assert "Negative weights" in res.summary()
    assert "d" in impact.etable([res], format="dataframe").index


def test_review_cases():
    """A hostile review's cases: a treatment collinear with the period effects in an
    unbalanced panel (was beta = -3e14), equal weights (was sigma_fe = 1e15), 0/1 stored
    as objects or categories (was IndexError)."""
    df = pd.DataFrame({"u": [1, 1, 1, 2, 2, 3, 3, 3], "t": [1, 2, 3, 1, 2, 1, 2, 3]})
    df["d"] = (df["t"] >= 2).astype(int)
    df["y"] = [0.1, 0.5, -0.3, 1.2, 0.7, -1.0, 0.4, 0.9]
    with pytest.raises(EmptySampleError, match="does not vary"):
        impact.twfe_weights(df, y="y", unit="u", time="t", treatment="d")
    rng = np.random.default_rng(2)
    u, t = np.repeat(np.arange(10), 5), np.tile(np.arange(5), 10)
    two_by_two = pd.DataFrame({"u": u, "t": t, "d": ((u >= 5) & (t >= 2)).astype(float)})
    two_by_two["y"] = rng.normal(size=50) + two_by_two["d"]
    res = impact.twfe_weights(two_by_two, y="y", unit="u", time="t", treatment="d")
    assert res.sigma_fe == np.inf and res.summary_of_weights.n_negative == 0
    for kind in (object, "category"):
        other = impact.twfe_weights(
            two_by_two.assign(d=two_by_two["d"].astype(int).astype(kind)),
            y="y", unit="u", time="t", treatment="d",
        )  # fmt: skip
        assert abs(other.beta - res.beta) <= 1e-12
