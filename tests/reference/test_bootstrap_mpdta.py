"""Multiplier bootstrap of att_gt on mpdta (read through moderndid's data loader): agrees with
analytic SEs, seeded, uniform bands are wider. Here, not in tests/unit/, because it needs a
peer package installed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

import impact

#: Bootstrap SEs (IQR-based, 4,000 draws) estimate the analytic SE with Monte Carlo error
#: of a few percent; 12% is ~4 Monte Carlo standard errors of the IQR estimator.
RTOL_BOOTSTRAP_SE = 0.12


@pytest.fixture(scope="module")
def mpdta():
    pytest.importorskip("moderndid")
    return impact.datasets.load("mpdta")


def _fit(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.att_gt(
            d, y="lemp", unit="countyreal", time="year", cohort="first.treat", **kw
        )


def test_bootstrap_se_close_to_analytic(mpdta):
    analytic = _fit(mpdta).table["std_error"].to_numpy()
    boot = _fit(mpdta, bootstrap=4000, seed=7).table["std_error"].to_numpy()
    np.testing.assert_allclose(boot, analytic, rtol=RTOL_BOOTSTRAP_SE, atol=0)


def test_seeded_and_reproducible(mpdta):
    a = _fit(mpdta, bootstrap=500, seed=3)
    b = _fit(mpdta, bootstrap=500, seed=3)
    c = _fit(mpdta, bootstrap=500, seed=4)
    assert a.table.equals(b.table) and a.critical_value == b.critical_value
    assert not np.array_equal(a.table["std_error"], c.table["std_error"])
    assert a.aggregate("dynamic").table.equals(b.aggregate("dynamic").table)


def test_uniform_band_between_pointwise_and_bonferroni(mpdta):
    res = _fit(mpdta, bootstrap=4000, seed=11)
    m = len(res.table)
    assert stats.norm.ppf(0.975) < res.critical_value < stats.norm.ppf(1 - 0.025 / m)
    tab = res.table
    assert (tab["band_low"] <= tab["conf_low"]).all() and (
        tab["band_high"] >= tab["conf_high"]
    ).all()
    dyn = res.aggregate("dynamic")
    assert dyn.critical_value is not None and "band_low" in dyn.table


def test_cluster_by_unit_equals_unit_bootstrap(mpdta):
    a = _fit(mpdta, bootstrap=300, seed=5)
    b = _fit(mpdta, bootstrap=300, seed=5, vcov={"cluster": "countyreal"})
    np.testing.assert_allclose(a.table["std_error"], b.table["std_error"], rtol=1e-12, atol=0)
