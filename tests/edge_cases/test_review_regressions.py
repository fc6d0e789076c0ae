"""Regressions found by an independent review of the linear core (each compared to a peer)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_ITERATIVE, RTOL_PEER, assert_close

import impact

pf = pytest.importorskip("pyfixest")


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame(
        {
            "a": rng.integers(0, 8, n),
            "b": rng.integers(0, 5, n),
            "cat": rng.integers(0, 4, n),
            "m": rng.integers(0, 3, n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    d["y"] = d["x1"] + 0.5 * d["x2"] + 0.3 * d["a"] + rng.normal(size=n)
    return d


def _both(fml, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols(fml, data=d, **kw), pf.feols(fml, data=d, fixef_tol=1e-13)


def test_i_with_numeric_interaction_keeps_every_level(df):
    ours, ref = _both("y ~ i(cat, x1) | a", df)
    assert len(ours.coef) == 4
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)


def test_i_interaction_does_not_drop_a_later_categorical_level(df):
    ours, ref = _both("y ~ 0 + i(cat, x1) + C(m)", df)
    assert_close(ours.ssr, float(np.sum(ref.resid() ** 2)), rtol=RTOL_PEER)


def test_predict_uses_the_training_coding(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols("y ~ x1 + C(cat) | a", data=df)
    new = df[df["cat"] == 1].head(5)  # lacks the reference level 0
    assert_close(fit.predict(new).to_numpy(), fit.predict().loc[new.index].to_numpy(), rtol=1e-12)
    unseen = new.assign(cat=99)
    assert fit.predict(unseen).isna().all()


def test_regressor_with_large_level_is_not_dropped(df):
    d = df.assign(x1=1e7 + df["x1"])
    ours, ref = _both("y ~ x1 + x2 | a + b", d)
    assert list(ours.coef.index) == ["x1", "x2"]
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)


def test_iterative_demeaning_is_accurate_with_large_offsets():
    rng = np.random.default_rng(1)
    n = 40_000
    d = pd.DataFrame(
        {
            "f1": rng.integers(0, 8000, n),
            "f2": rng.integers(0, 4000, n),
            "f3": rng.integers(0, 3500, n),
            "x1": rng.normal(size=n),
        }
    )
    d["y"] = d["x1"] + rng.normal(size=n) + 1e6
    d["x1"] = d["x1"] + 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = impact.feols("y ~ x1 | f1 + f2 + f3", data=d)
        ref = pf.feols("y ~ x1 | f1 + f2 + f3", data=d, fixef_tol=1e-14)
    assert ours.demean_strategy == "map"
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)
    assert_close(ours.se.to_numpy(), ref.se().to_numpy(), rtol=1e-5)


def test_nested_fixed_effects_rank_with_weights():
    rng = np.random.default_rng(2)
    n = 2000
    firm = rng.integers(0, 300, n)
    d = pd.DataFrame(
        {
            "firm": firm,
            "ind": firm % 20,
            "year": rng.integers(0, 8, n),
            "x": rng.normal(size=n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    d["y"] = d["x"] + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols("y ~ x | firm + ind + year", data=d, weights="w", drop_singletons=False)
    n_firms = d["firm"].nunique()
    assert fit.df_resid == n - 1 - (n_firms + d["year"].nunique() - 1)
