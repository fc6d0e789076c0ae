"""Layer 4: a 20-row panel where K, G, df and every small-sample factor are stated by hand.

5 firms x 4 years; firms 0-2 in region A, 3-4 in region B. One regressor x, firm and
year fixed effects. The sandwich is rebuilt here from explicit dummy matrices with
numpy only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact

N, FIRMS, YEARS = 20, 5, 4


@pytest.fixture(scope="module")
def panel():
    firm = np.repeat(np.arange(FIRMS), YEARS)
    year = np.tile(np.arange(YEARS), FIRMS)
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4], dtype=float)
    e = np.array([2, -1, 0, 1, -2, 3, 1, -1, 0, 2, -3, 1, 1, 0, -1, 2, -2, 1, 0, 1], dtype=float)
    y = 0.5 * x + firm + 0.3 * year + e
    region = np.where(firm <= 2, "A", "B")
    return pd.DataFrame({"firm": firm, "year": year, "region": region, "x": x, "y": y})


def _by_hand(df):
    """x residualised on all dummies, residuals u, bread = 1 / x'x."""
    D = np.column_stack(
        [np.ones(N)]
        + [(df["firm"] == f).to_numpy(float) for f in range(1, FIRMS)]
        + [(df["year"] == t).to_numpy(float) for t in range(1, YEARS)]
    )
    assert np.linalg.matrix_rank(D) == FIRMS + YEARS - 1  # 8 identified FE coefficients
    M = np.eye(N) - D @ np.linalg.pinv(D)
    xt = M @ df["x"].to_numpy()
    yt = M @ df["y"].to_numpy()
    beta = (xt @ yt) / (xt @ xt)
    u = yt - xt * beta
    return beta, u, xt, 1.0 / (xt @ xt)


def _meat(xt, u, groups):
    s = pd.Series(xt * u).groupby(np.asarray(groups)).sum().to_numpy()
    return float(s @ s)


def _fit(df, vcov, ssc=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols("y ~ x | firm + year", data=df, vcov=vcov, ssc=ssc)


def test_iid(panel):
    beta, u, xt, bread = _by_hand(panel)
    fit = _fit(panel, "iid")
    K = 1 + 8  # slope + (5 + 4 - 1) fixed effects
    assert fit.small_sample.K == K and fit.df_t == N - K == 11 and fit.df_resid == 11
    assert_close(fit.coef["x"], beta, rtol=RTOL_CLOSED_FORM)
    assert_close(fit.se["x"], np.sqrt(u @ u / (N - K) * bread), rtol=RTOL_CLOSED_FORM)


def test_hetero(panel):
    _, u, xt, bread = _by_hand(panel)
    fit = _fit(panel, "hetero")
    assert fit.small_sample.K == 9
    expected = N / (N - 9) * bread**2 * float(np.sum((xt * u) ** 2))
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


@pytest.mark.parametrize(
    ("cluster", "G", "K"),
    [
        ("firm", 5, 1 + 8 - 5 + 1),  # firm FE nested in firm clusters: 5
        ("region", 2, 1 + 8 - 5 + 1),  # firm FE nested in regions: 5
        ("year", 4, 1 + 8 - 4 + 1),  # year FE nested in year clusters: 6
    ],
)
def test_one_way_cluster_fixest(panel, cluster, G, K):
    _, u, xt, bread = _by_hand(panel)
    fit = _fit(panel, {"cluster": cluster})
    assert fit.small_sample.K == K
    assert fit.n_clusters == {cluster: G}
    assert fit.df_t == G - 1
    factor = (G / (G - 1)) * ((N - 1) / (N - K))
    assert_close(fit.small_sample.factors[0], factor, rtol=RTOL_CLOSED_FORM)
    expected = factor * bread**2 * _meat(xt, u, panel[cluster])
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


def test_one_way_cluster_full(panel):
    _, u, xt, bread = _by_hand(panel)
    fit = _fit(panel, {"cluster": "firm"}, impact.SSC.full())
    assert fit.small_sample.K == 9
    expected = (5 / 4) * (19 / 11) * bread**2 * _meat(xt, u, panel["firm"])
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


def test_two_way_cluster_fixest(panel):
    _, u, xt, bread = _by_hand(panel)
    fit = _fit(panel, {"cluster": ["firm", "year"]})
    K = 1 + 8 - (5 + 4) + 2  # both dimensions nested: 2
    G = 4  # min(5, 4) in every term (fixest cluster.df = "min")
    assert fit.small_sample.K == K and fit.df_t == G - 1
    f = (G / (G - 1)) * ((N - 1) / (N - K))
    inter = panel["firm"].astype(str) + "-" + panel["year"].astype(str)
    meat = _meat(xt, u, panel["firm"]) + _meat(xt, u, panel["year"]) - _meat(xt, u, inter)
    expected = f * bread**2 * meat
    assert expected > 0
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


def test_crv3_nested_is_exact_leave_one_cluster_out(panel):
    fit = _fit(panel, {"CRV3": "firm"})
    beta = fit.coef["x"]
    jack = []
    for g in range(FIRMS):
        sub = panel[panel["firm"] != g]
        jack.append(_fit(sub, "iid").coef["x"])
    K, G = 1 + 8 - 5 + 1, 5  # = 5: the firm FE is nested in the firm clusters
    factor = (G / (G - 1)) * ((N - 1) / (N - K))
    expected = factor * float(np.sum((np.array(jack) - beta) ** 2))
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


def test_crv3_projected_path_equals_refits(panel):
    """Only the firm FE, nested in regions: the projected jackknife is exact."""
    fit = _fit_formula(panel, "y ~ x | firm", {"CRV3": "region"})
    jack = [
        _fit_formula(panel[panel["region"] != r], "y ~ x | firm", "iid").coef["x"] for r in "AB"
    ]
    K, G = 1 + 5 - 5 + 1, 2
    factor = (G / (G - 1)) * ((N - 1) / (N - K))
    expected = factor * float(np.sum((np.array(jack) - fit.coef["x"]) ** 2))
    assert_close(fit.se["x"], np.sqrt(expected), rtol=RTOL_CLOSED_FORM)


def _fit_formula(df, formula, vcov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols(formula, data=df, vcov=vcov)
