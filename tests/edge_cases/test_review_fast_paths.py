"""Regressions from the hostile review of the complete-frame fast paths of the staggered
design and the second-moment variance of unconditional ATT(g,t)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import ImpactError

#: Two routes to the same floating-point number.
EXACT = 1e-10


def _panel(time_of, n=60, T=8, seed=0):
    """Units x periods; cohorts 3 and 5 (period index) and never-treated; complete."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n), T)
    j = np.tile(np.arange(T), n)
    gj = np.array([np.nan, 3, 5] * (n // 3))[ids]
    y = rng.normal(size=n)[ids] + 0.1 * j + (j >= gj) + rng.normal(size=n * T)
    g = pd.Series(time_of(np.nan_to_num(gj).astype(int))).where(~np.isnan(gj))
    return pd.DataFrame({"id": ids, "t": time_of(j), "g": g, "y": y}), j


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small cohorts: few-cluster warnings are not tested
        return impact.att_gt(df, y="y", unit="id", time="t", cohort="g", **kw)


@pytest.mark.parametrize("freq", ["Q", "M"])
def test_balanced_drops_units_with_a_missing_period_on_period_time_columns(freq):
    """panel='balanced' on quarterly/monthly Periods drops the units that miss a period,
    as on the same panel numbered by integers (the fast path once skipped the rule)."""
    periods, _ = _panel(lambda k: pd.PeriodIndex.from_ordinals(120 + np.asarray(k), freq=freq))
    ints, _ = _panel(lambda k: 120 + np.asarray(k, dtype=np.int64))
    drop = [5, 17, 40, 41, 100]  # four units miss a period
    a = _fit(periods.drop(index=drop).reset_index(drop=True), panel="balanced")
    b = _fit(ints.drop(index=drop).reset_index(drop=True), panel="balanced")
    assert a.sample_log.n_final == b.sample_log.n_final == len(periods) - 4 * 8
    np.testing.assert_allclose(a.table["estimate"], b.table["estimate"], rtol=EXACT)
    np.testing.assert_allclose(a.table["std_error"], b.table["std_error"], rtol=EXACT)


def test_balanced_with_a_period_nobody_observes_on_yearly_periods():
    """A year missing for every unit leaves every unit balanced (as with integer years)."""
    years, j = _panel(lambda k: pd.PeriodIndex.from_ordinals(30 + np.asarray(k), freq="Y"))
    ints, _ = _panel(lambda k: 2000 + np.asarray(k, dtype=np.int64))
    a = _fit(years[j != 6].reset_index(drop=True), panel="balanced")
    b = _fit(ints[j != 6].reset_index(drop=True), panel="balanced")
    assert a.sample_log.n_final == b.sample_log.n_final == int((j != 6).sum())
    np.testing.assert_allclose(a.table["estimate"], b.table["estimate"], rtol=EXACT)


def test_cell_variance_survives_large_unit_heterogeneity():
    """Outcomes in levels with unit effects of 1e8 (revenue in currency units): the cell
    variances from second moments equal those of the influence functions (the clustered
    path by unit computes them from inf' inf)."""
    rng = np.random.default_rng(0)
    n, T = 60, 8
    ids = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(2000, 2000 + T), n)
    g = np.array([np.nan, 2003, 2005] * 20)[ids]
    y = rng.normal(size=n)[ids] * 1e8 + 0.1 * (t - 2000) + (t >= g) + rng.normal(size=n * T)
    df = pd.DataFrame({"id": ids, "t": t, "g": g, "y": y})
    fast = _fit(df)
    direct = _fit(df, vcov={"cluster": "id"})  # cluster sums of single units: inf' inf
    ok = np.isfinite(direct.table["std_error"].to_numpy())
    got, want = fast.vcov[np.ix_(ok, ok)], direct.vcov[np.ix_(ok, ok)]
    assert np.abs(got - want).max() <= EXACT * np.abs(want).max()
    assert fast.pretrend_test()["statistic"] >= 0


def test_integer_periods_beyond_2_53_are_not_merged_silently():
    """Periods and cohorts beyond 2**53 (read as floats) cannot be told apart: the fit
    must not return numbers for merged cohorts."""
    base = 2**53
    df, _ = _panel(lambda k: base + np.asarray(k, dtype=np.int64))
    df["g"] = df["g"].astype("Int64")
    with pytest.raises(ImpactError):
        _fit(df)
