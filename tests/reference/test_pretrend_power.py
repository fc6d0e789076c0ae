"""Pre-trend power (Roth 2022): the R package pretrends' published He & Wang example, a
Monte Carlo of the pre-test on a real event study's covariance, the truncated-normal mean
in closed form, and bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import impact
from impact.diagnostics.event_coefficients import EventCoefficients, event_coefficients
from impact.diagnostics.pretrend_power import power_at_slope, slope_for_power
from impact.diagnostics.truncated_normal import truncated_mean
from impact.errors import InvalidOptionError

STORED = Path(__file__).parent / "data" / "pretrends_hewang.json"

#: pretrends solves for the slope with R's uniroot at its default tolerance
#: (.Machine$double.eps^0.25 = 1.2e-4, absolute): its printed slope is that accurate.
UNIROOT_TOL = 1.22e-4
#: ... and computes power with mvtnorm::pmvnorm at its default abseps = 1e-3.
PMVNORM_TOL = 1e-3
#: tmvtnorm's truncated mean rests on the same integration; measured agreement 3.7e-6.
TRUNCATED_MEAN_TOL = 2e-5
#: Monte Carlo checks: within this many simulation standard errors.
MC_Z = 3.0
MC_DRAWS = 200_000


@pytest.fixture(scope="module")
def hewang() -> tuple[EventCoefficients, dict]:
    ref = json.loads(STORED.read_text())
    coef = EventCoefficients(
        np.array(ref["t"]),
        np.array(ref["beta"]),
        np.array(ref["sigma"]),
        ref["reference"],
        "He & Wang",
    )
    return coef, ref["readme"]


def test_he_and_wang_matches_the_pretrends_readme(hewang):
    coef, readme = hewang
    assert abs(slope_for_power(coef, 0.5) - readme["slope_for_power_50"]) <= UNIROOT_TOL
    at = power_at_slope(coef, readme["slope_for_power_50"])
    assert abs(at.power - readme["power_at_that_slope"]) <= PMVNORM_TOL
    expected = at.trend.copy()
    expected[coef.pre], expected[coef.post] = at.pre_mean, at.bias
    published = np.array([readme["mean_after_pretesting"][str(t)] for t in coef.rel_time])
    np.testing.assert_allclose(expected, published, rtol=0, atol=TRUNCATED_MEAN_TOL)


def test_truncated_mean_in_one_dimension_is_the_truncated_normal_mean():
    mean, sd, lo, hi = 0.3, 1.7, -1.0, 2.5
    got, prob = truncated_mean(
        np.array([mean]), np.array([[sd**2]]), np.array([lo]), np.array([hi])
    )
    a, b = (lo - mean) / sd, (hi - mean) / sd
    assert abs(got[0] - stats.truncnorm.mean(a, b, loc=mean, scale=sd)) <= 1e-12
    assert abs(prob - (stats.norm.cdf(b) - stats.norm.cdf(a))) <= 1e-12


@pytest.fixture(scope="module")
def mpdta_cs():
    df = impact.datasets.load("mpdta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.event_study(
            df, y="lemp", unit="countyreal", time="year", cohort="first.treat",
            estimator="cs", window=(-4, 3),
        )  # fmt: skip


@pytest.mark.parametrize("target", [0.5, 0.8])
def test_power_and_conditional_bias_against_a_monte_carlo(mpdta_cs, target):
    """Draw coefficients from N(trend, V) of mpdta's CS event study: the pre-test's
    rejection rate at the solved slope is the target power, and the post-period means of
    the draws that pass are the conditional bias."""
    res = impact.pretrend_power(mpdta_cs, power=target)
    coef = event_coefficients(mpdta_cs)
    rng = np.random.default_rng(11)
    draws = (
        res.table["trend"].to_numpy()
        + rng.standard_normal((MC_DRAWS, len(coef.rel_time))) @ np.linalg.cholesky(coef.vcov).T
    )
    sd = np.sqrt(np.diag(coef.vcov))
    passed = np.all(np.abs(draws[:, coef.pre]) <= stats.norm.ppf(0.975) * sd[coef.pre], axis=1)
    rate = 1 - passed.mean()
    assert abs(rate - target) <= MC_Z * np.sqrt(target * (1 - target) / MC_DRAWS)
    assert abs(res.power - target) <= 1e-8
    post = draws[passed][:, coef.post]
    se = post.std(axis=0) / np.sqrt(passed.sum())
    expected = res.table.loc[res.table["post"], "expected_if_passed"].to_numpy()
    assert np.all(np.abs(post.mean(axis=0) - expected) <= MC_Z * se)


def test_every_event_study_form_gives_the_same_coefficients():
    """feols with i() dummies, event_study(twfe) and CS's dynamic aggregation with a
    universal base are read alike."""
    df = impact.datasets.load("mpdta")
    kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = impact.event_study(df, window=(-4, 3), **kw)
        d = df.assign(e=np.where(df["first.treat"] > 0, df["year"] - df["first.treat"], -1000))
        d = d.assign(e=d["e"].clip(-4, 3).where(d["e"] > -1000, -1))
        fit = impact.feols(
            "lemp ~ i(e, ref=-1) | countyreal + year", d, vcov={"cluster": "countyreal"}
        )
        gt = impact.att_gt(df, base_period="universal", **kw)
        cs = impact.event_study(df, estimator="cs", window=(-4, 3), **kw)
    a, b = event_coefficients(es), event_coefficients(fit)
    np.testing.assert_array_equal(a.rel_time, b.rel_time)
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-10)
    np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-8)
    c, e = event_coefficients(gt.aggregate("dynamic", min_e=-4, max_e=3)), event_coefficients(cs)
    np.testing.assert_allclose(c.estimate, e.estimate, rtol=1e-10)
    np.testing.assert_allclose(c.vcov, e.vcov, rtol=1e-8)


def test_bad_input_gets_typed_errors(mpdta_cs):
    df = impact.datasets.load("mpdta")
    kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputation = impact.event_study(df, estimator="imputation", window=(-4, 3), **kw)
        varying = impact.att_gt(df, **kw).aggregate("dynamic")
        post_only = impact.event_study(df, estimator="did2s", window=(-1, 3), **kw)
        plain = impact.feols("lemp ~ lpop | year", df)
    with pytest.raises(InvalidOptionError, match="did2s"):
        impact.pretrend_power(imputation, power=0.8)
    with pytest.raises(InvalidOptionError, match="universal"):
        impact.pretrend_power(varying, power=0.8)
    with pytest.raises(InvalidOptionError, match="no pre-period"):
        impact.pretrend_power(post_only, power=0.8)
    with pytest.raises(InvalidOptionError, match="i\\(rel_time"):
        impact.pretrend_power(plain, power=0.8)
    with pytest.raises(InvalidOptionError, match="exactly one"):
        impact.pretrend_power(mpdta_cs, power=0.8, slope=0.1)
    with pytest.raises(InvalidOptionError, match="exactly one"):
        impact.pretrend_power(mpdta_cs)
    with pytest.raises(InvalidOptionError, match="size"):
        impact.pretrend_power(mpdta_cs, power=0.05)
    with pytest.raises(InvalidOptionError, match="not an event study"):
        impact.pretrend_power(pd.DataFrame(), power=0.8)
    coef = event_coefficients(mpdta_cs)
    singular = EventCoefficients(coef.rel_time, coef.estimate, np.zeros_like(coef.vcov), -1, "x")
    with pytest.raises(InvalidOptionError, match="no variance"):
        power_at_slope(singular, 0.1)


def test_result_protocol(mpdta_cs):
    import matplotlib.pyplot as plt

    res = impact.pretrend_power(mpdta_cs, slope=0.01)
    assert 0 < res.power < 1 and res.target_power is None
    tidy = res.tidy()
    assert list(tidy["term"]) == [f"rel_time::{k}" for k in (0, 1, 2, 3)]
    assert np.isfinite(res.mean_bias) and res.mean_bias_unconditional == pytest.approx(0.025)
    assert isinstance(res.plot(), matplotlib.axes.Axes)
    plt.close("all")
    assert "Power of the pre-test" in res.summary()


def test_dynamic_aggregation_pretrend_test_equals_the_event_study_one():
    """att_gt's universal-base dynamic aggregation and event_study(cs) test the same
    pre-period coefficients; with a varying base the test has no single reference."""
    df = impact.datasets.load("mpdta")
    kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = impact.att_gt(df, base_period="universal", **kw).aggregate("dynamic")
        es = impact.event_study(df, estimator="cs", window=(-4, 3), **kw)
        varying = impact.att_gt(df, **kw).aggregate("dynamic").pretrend_test()
    a, b = agg.pretrend_test(), es.pretrend_test()
    assert a["df"] == b["df"] == 3 and a["reference"] == -1
    assert abs(a["statistic"] - b["statistic"]) <= 1e-8 * b["statistic"]
    assert varying["df"] == 3 and np.isnan(varying["reference"])
    with pytest.raises(InvalidOptionError, match="dynamic"):
        impact.att_gt(df, **kw).aggregate("simple").pretrend_test()


def test_review_cases(mpdta_cs):
    """Numbers must be numbers; a trend the pre-test always catches leaves the
    conditional bias undefined, and the summary says so."""
    for bad in (True, "0.1"):
        with pytest.raises(InvalidOptionError, match="slope must be a number"):
            impact.pretrend_power(mpdta_cs, slope=bad)
    with pytest.raises(InvalidOptionError, match="power must be a number"):
        impact.pretrend_power(mpdta_cs, power="0.5")
    huge = impact.pretrend_power(mpdta_cs, slope=1e6)
    assert huge.power == 1.0 and huge.pass_probability == 0.0
    assert np.isnan(huge.mean_bias) and "undefined given a pass" in huge.summary()
