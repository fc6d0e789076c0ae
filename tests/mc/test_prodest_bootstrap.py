"""Monte Carlo: the firm-block bootstrap SE of prodest matches the sampling spread.

Fresh small synthetic panels (ACF-replica timing, 300 firms x 16 years, seeded);
in each, OLS and Wooldridge elasticities with firm-block bootstrap SEs. Over the
replications the mean bootstrap SE divided by the standard deviation of the estimates
must lie in [0.85, 1.15] (issue: production functions). OLS is biased, but the bootstrap
targets its sampling spread all the same; Wooldridge's bootstrap re-solves the whole GMM
system in every draw.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import PRODEST_COLUMNS

import impact

pytestmark = pytest.mark.slow

N_REPS = 120
N_BOOT = 49
N_FIRMS = 300
#: Acceptance band of mean SE / sd (the issue's criterion). With 120 replications the sd
#: itself has ~6.5% relative error, so the band is about 2 of those either side.
SE_RATIO_BAND = (0.85, 1.15)
ARGS = dict(**PRODEST_COLUMNS, group_trends="sector")


def _rep(seed: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    df, _ = impact.datasets.cluster_panel(
        n_firms=N_FIRMS, seed=seed, scenario="S2", acf_replica=True, spillovers=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.prodest(df, method=method, vcov="bootstrap", n_boot=N_BOOT, seed=seed, **ARGS)
    return res.coef.to_numpy(), res.se.to_numpy()


@pytest.mark.parametrize("method", ["ols", "wooldridge"])
def test_bootstrap_se_matches_monte_carlo_spread(method):
    est, se = zip(*(_rep(20_000 + r, method) for r in range(N_REPS)), strict=True)
    est, se = np.array(est), np.array(se)
    ratio = se.mean(axis=0) / est.std(axis=0, ddof=1)
    print(method, "mean SE / sd:", ratio.round(3), "mean:", est.mean(axis=0).round(4))
    lo, hi = SE_RATIO_BAND
    assert ((ratio > lo) & (ratio < hi)).all(), ratio
