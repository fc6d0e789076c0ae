"""Poisson IRLS steps from group sums (no residual matrix) against the residual path.

Between its first and last steps, :func:`impact.linear.poisson.poisson_irls` takes the
weighted Gram matrix of the within regression from the Schur projection's group sums
(``V'WV - V'WD theta``) and the fitted values from the projection coefficients. The
reference is the same IRLS forced onto the residual path (``GRAM_ERROR_MAX = 0``): every
result must agree at the closed-form tolerance; a column the fixed effects nearly explain
must send the step back to the residual path, and so must regressors the fixed effects
mostly explain that are nearly collinear within firms (a review found the shortcut 2e-4
off there when its guard looked at the lost digits alone).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact.linear.poisson as poisson
from impact.linear.demean import demean
from impact.linear.fixed_effects import build_fixed_effects
from impact.linear.ols import weighted_gram
from impact.linear.schur import schur_residual_gram


def _panel(seed: int, n_firms: int = 400, n_years: int = 12, three_way: bool = False):
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), n_years)
    year = np.tile(np.arange(n_years), n_firms)
    ind = (firm % 7).astype(int)
    a = rng.normal(-0.5, 1.0, n_firms)[firm]
    x1 = rng.normal(size=firm.size) + 0.5 * a
    x2 = rng.uniform(size=firm.size)
    mu = np.exp(a + 0.05 * year + 0.3 * x1 - 0.4 * x2 + 0.1 * (ind == 3) * year)
    df = pd.DataFrame({"firm": firm, "year": year, "ind": ind, "x1": x1, "x2": x2})
    df["y"] = rng.poisson(mu).astype(float)
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df["ind_year"] = df["ind"] * 100 + df["year"]
    df = df.loc[rng.uniform(size=len(df)) > 0.15].reset_index(drop=True)  # unbalanced
    fixef = [["firm"], ["year"]] + ([["ind_year"]] if three_way else [])
    fe = build_fixed_effects(df, fixef)
    keep = np.bincount(fe.codes[0], weights=df["y"].to_numpy())[fe.codes[0]] > 0
    df = df.loc[keep].reset_index(drop=True)
    return df, build_fixed_effects(df, fixef)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("three_way", [False, True])
def test_group_sum_gram_equals_the_residual_gram(seed, three_way):
    df, fe = _panel(seed, three_way=three_way)
    V = np.asfortranarray(df[["y", "x1", "x2"]].to_numpy())
    w = df["w"].to_numpy()
    _, gram, loss = schur_residual_gram(V, fe, w)
    R = demean(V, fe, w).values
    assert_close(gram, weighted_gram(R, w), rtol=RTOL_CLOSED_FORM, atol=1e-9)
    assert 1.0 <= loss * poisson._scaled_condition(gram[1:, 1:]) < poisson.GRAM_ERROR_MAX


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("three_way", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_offset", [False, True])
def test_irls_from_group_sums_equals_the_residual_path(
    monkeypatch, seed, three_way, weighted, with_offset
):
    df, fe = _panel(seed, three_way=three_way)
    y, X = df["y"].to_numpy(), df[["x1", "x2"]].to_numpy()
    w = df["w"].to_numpy() if weighted else None
    off = 0.2 * np.log1p(df["x2"].to_numpy()) if with_offset else None
    calls = {"group": 0}
    real = poisson._schur_step

    def counting(*args):
        out = real(*args)
        calls["group"] += out is not None
        return out

    monkeypatch.setattr(poisson, "_schur_step", counting)
    fast = poisson.poisson_irls(y, X, fe, w, off)
    assert calls["group"] >= 2  # the shortcut was taken
    monkeypatch.setattr(poisson, "GRAM_ERROR_MAX", 0.0)
    ref = poisson.poisson_irls(y, X, fe, w, off)
    assert fast.iterations == ref.iterations
    assert_close(fast.beta, ref.beta, rtol=RTOL_CLOSED_FORM)
    assert_close(fast.mu, ref.mu, rtol=RTOL_CLOSED_FORM)
    assert_close(fast.core.bread, ref.core.bread, rtol=RTOL_CLOSED_FORM)
    assert_close(fast.deviance, ref.deviance, rtol=RTOL_CLOSED_FORM)


def test_a_column_the_fixed_effects_nearly_explain_takes_the_residual_path(monkeypatch):
    df, fe = _panel(5)
    rng = np.random.default_rng(5)
    firm_level = rng.normal(size=fe.n_levels[0])[fe.codes[0]]
    df["x3"] = 100.0 * firm_level + 1e-2 * rng.normal(size=len(df))  # within share 1e-8
    V = np.asfortranarray(df[["y", "x1", "x3"]].to_numpy())
    assert schur_residual_gram(V, fe, None)[2] > poisson.GRAM_ERROR_MAX
    y, X = df["y"].to_numpy(), df[["x1", "x3"]].to_numpy()
    taken = []
    real = poisson._schur_step
    monkeypatch.setattr(poisson, "_schur_step", lambda *a: taken.append(real(*a)) or taken[-1])
    fast = poisson.poisson_irls(y, X, fe, None, None)
    assert taken and all(step is None for step in taken)
    monkeypatch.setattr(poisson, "GRAM_ERROR_MAX", 0.0)
    ref = poisson.poisson_irls(y, X, fe, None, None)
    assert_close(fast.beta, ref.beta, rtol=RTOL_CLOSED_FORM)


def test_group_sums_over_runs_equal_the_scattered_sums():
    from impact.engine.kernels import group_sums
    from impact.linear.fixed_effects import FixedEffects

    rng = np.random.default_rng(11)
    sorted_codes = np.sort(rng.integers(0, 50, 2000))
    sorted_codes = np.unique(sorted_codes, return_inverse=True)[1]  # every level occurs
    shuffled = rng.permutation(sorted_codes)
    n_lev = int(sorted_codes.max()) + 1
    fe = FixedEffects((sorted_codes, shuffled), (n_lev, n_lev), ("a", "b"), (None, None))
    starts, unsorted = fe.runs
    assert unsorted is None and starts is not None and len(starts) == n_lev
    V = rng.normal(size=(2000, 3))
    assert_close(
        group_sums(sorted_codes, n_lev, V, starts),
        group_sums(sorted_codes, n_lev, V),
        rtol=RTOL_CLOSED_FORM,
        atol=1e-12,
    )
    gap = FixedEffects(
        (np.where(sorted_codes > 3, sorted_codes + 1, sorted_codes),), (n_lev + 1,), ("a",), (None,)
    )
    assert gap.runs == (None,)  # a level without rows: scattered sums


@pytest.mark.parametrize("delta", [1e-3, 1e-4])
def test_fe_heavy_near_collinear_regressors_take_the_residual_path(monkeypatch, delta):
    rng = np.random.default_rng(7)
    n_firm, n_year = 600, 10
    firm = np.repeat(np.arange(n_firm), n_year)
    year = np.tile(np.arange(n_year), n_firm)
    fa = rng.normal(size=n_firm)[firm]
    e, e2, x2 = (rng.normal(size=firm.size) for _ in range(3))
    df = pd.DataFrame({"firm": firm, "year": year})
    X = np.column_stack([60 * fa + e, 42 * fa + e + delta * e2, x2])  # lost digits ~4e3
    y = rng.poisson(np.exp(0.5 * fa + 0.2 * e + 0.3 * e2 + 0.1 * x2)).astype(float)
    fe = build_fixed_effects(df, [["firm"], ["year"]])
    fast = poisson.poisson_irls(y, X, fe, None, None)
    monkeypatch.setattr(poisson, "GRAM_ERROR_MAX", 0.0)
    ref = poisson.poisson_irls(y, X, fe, None, None)
    assert fast.iterations == ref.iterations
    assert_close(fast.beta, ref.beta, rtol=RTOL_CLOSED_FORM)
    assert_close(fast.core.bread, ref.core.bread, rtol=RTOL_CLOSED_FORM)
