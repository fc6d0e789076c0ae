"""fepois: separation built by hand, bad outcomes, non-convergence, units invariance."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, assert_close, random_panel

import impact
from impact.errors import ConvergenceError, EmptySampleError, NegativeOutcomeError

pf = pytest.importorskip("pyfixest")


def _counts(seed: int = 7) -> pd.DataFrame:
    df = random_panel(seed, n_units=60, drop_share=0.2)
    rng = np.random.default_rng(seed)
    mu = np.exp(0.4 * df["x1"] - 0.3 * df["x2"] + 0.5)
    return df.assign(cnt=rng.poisson(mu).astype(float))


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_all_zero_fixed_effect_groups_are_removed_and_counted():
    df = _counts()
    dead = df["unit"].isin([3, 11])
    df.loc[dead, "cnt"] = 0.0
    fit = _quiet(impact.fepois, "cnt ~ x1 + x2 | unit + year", df)
    assert fit.sample_log.dropped("separation_fe") == int(dead.sum())
    ref = _quiet(impact.fepois, "cnt ~ x1 + x2 | unit + year", df[~dead])
    assert_close(fit.coef.to_numpy(), ref.coef.to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert fit.nobs == ref.nobs


def test_regressor_separation_is_detected_for_a_combination_of_regressors():
    """x3 - x4 is positive on five zero-outcome rows and zero everywhere else, while
    x3 and x4 each vary on positive rows: only the ReLU check sees it."""
    df = _counts()
    rng = np.random.default_rng(1)
    zero_rows = np.flatnonzero(df["cnt"].to_numpy() == 0)[:5]
    s = np.zeros(len(df))
    s[zero_rows] = 1.0
    a = rng.normal(size=len(df))
    df = df.assign(x3=a + s, x4=a)
    with pytest.warns(impact.errors.SampleDropWarning, match="separated by the regressors"):
        fit = impact.fepois("cnt ~ x1 + x2 + x3 + x4 | unit + year", df, vcov="iid")
    assert fit.sample_log.dropped("separation_relu") == 5
    # after removing them x3 - x4 is zero: one of the two is collinear and dropped
    assert len(fit.collinear) == 1
    rest = df.drop(index=df.index[zero_rows])
    ref = _quiet(impact.fepois, "cnt ~ x1 + x2 + x4 | unit + year", rest, vcov="iid")
    assert_close(fit.coef[["x1", "x2"]].to_numpy(), ref.coef[["x1", "x2"]].to_numpy(), rtol=1e-8)
    # pyfixest's iterative-rectifier check finds the same rows
    p = _quiet(
        pf.fepois,
        "cnt ~ x1 + x2 + x3 + x4 | unit + year",
        data=df,
        separation_check=["fe", "ir"],
        fixef_tol=1e-13,
        iwls_tol=1e-12,
    )
    assert p._N == fit.nobs


def test_without_the_check_separation_is_flagged_not_silent():
    """With the checks switched off the IRLS deviance still settles while the separated
    coefficient drifts towards -inf: the fit warns instead of passing silently."""
    df = _counts()
    zero_rows = np.flatnonzero(df["cnt"].to_numpy() == 0)[:5]
    s = np.zeros(len(df))
    s[zero_rows] = 1.0
    df = df.assign(x3=s)
    fit = _quiet(impact.fepois, "cnt ~ x1 + x2 + x3 | unit + year", df, vcov="iid")
    assert fit.sample_log.dropped("separation_relu") == 5
    assert "x3" in fit.collinear  # all zero once the separated rows are gone
    with pytest.warns(impact.errors.ImpactWarning, match="signs of separation"):
        bad = impact.fepois("cnt ~ x1 + x2 + x3 | unit + year", df, vcov="iid", separation=("fe",))
    assert bad.coef["x3"] < -15


def test_negative_outcome_is_a_typed_error():
    df = _counts()
    df.loc[df.index[4], "cnt"] = -1.0
    with pytest.raises(NegativeOutcomeError, match="1 negative"):
        impact.fepois("cnt ~ x1 | unit", df)


def test_all_zero_outcome_is_a_typed_error():
    df = _counts().assign(cnt=0.0)
    with pytest.raises(EmptySampleError, match="zero on every"):
        impact.fepois("cnt ~ x1 | unit", df)


def test_non_convergence_raises():
    with pytest.raises(ConvergenceError, match="did not converge"):
        _quiet(impact.fepois, "cnt ~ x1 + x2 | unit", _counts(), maxiter=2)


def test_ppml_is_invariant_to_the_units_of_y_while_log1p_ols_is_not():
    """Export value in euros or thousand euros: PPML slopes are identical, log(1 + y)
    OLS slopes change (Santos Silva & Tenreyro 2006)."""
    df = _counts()
    rng = np.random.default_rng(3)
    value = df["cnt"] * rng.lognormal(2.0, 1.0, len(df))  # many zeros, skewed
    df = df.assign(v=value, v_k=value / 1000.0)
    p1 = _quiet(impact.fepois, "v ~ x1 + x2 | unit + year", df)
    p2 = _quiet(impact.fepois, "v_k ~ x1 + x2 | unit + year", df)
    assert_close(p1.coef.to_numpy(), p2.coef.to_numpy(), rtol=RTOL_ITERATIVE)
    assert_close(p1.se.to_numpy(), p2.se.to_numpy(), rtol=RTOL_ITERATIVE)
    o1 = _quiet(impact.feols, "log1p(v) ~ x1 + x2 | unit + year", df)
    o2 = _quiet(impact.feols, "log1p(v_k) ~ x1 + x2 | unit + year", df)
    rel = np.abs(o1.coef.to_numpy() / o2.coef.to_numpy() - 1)
    assert rel.min() > 0.5  # not a rounding matter: the slopes differ by more than half


def test_fepois_leaves_the_frame_alone_and_prints_in_etable():
    df = _counts()
    before = df.copy()
    fit = _quiet(impact.fepois, "cnt ~ x1 + x2 | unit + year", df, vcov={"cluster": "unit"})
    pd.testing.assert_frame_equal(df, before)
    tab = impact.etable([fit])
    assert "Pseudo R2" in tab.index
    assert "R2" not in tab.index
    assert "Poisson" in fit.summary()
    mu = fit.predict()
    assert_close(mu.to_numpy(), fit.fitted().to_numpy(), rtol=1e-12)
    new = fit.predict(df.loc[fit._row_index])
    assert_close(new.to_numpy(), mu.to_numpy(), rtol=1e-8)
