"""Monte Carlo of synthetic DiD with a known effect.

A panel of 50 units over 20 periods with unit and period effects, an interactive factor
(units load differently on a common cycle) and AR(1) noise; ten units, drawn at random,
are treated from period 16 with an effect of 1. Checks: SDID and DID are unbiased (within
4 Monte Carlo SEs), SDID is more precise than DID when units load on the factor, and the
fixed-weights jackknife interval covers at 95% or above (Arkhangelsky et al. 2021 show it
conservative) within 3.5 binomial SEs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.slow

#: Replications (each fit plus its jackknife ~0.1 s).
N_REPS = 200
N_UNITS, N_TREATED, N_PERIODS, START = 50, 10, 20, 16
EFFECT = 1.0
MC_BOUND = 4.0
BINOMIAL_BOUND = 3.5


def simulate(rng: np.random.Generator) -> pd.DataFrame:
    n, T = N_UNITS, N_PERIODS
    alpha = rng.normal(scale=2.0, size=n)
    beta = np.cumsum(rng.normal(scale=0.3, size=T))
    load = rng.normal(size=n)
    factor = np.sin(np.arange(T) / 2.0) * 1.5
    eps = np.zeros((n, T))
    for t in range(T):
        eps[:, t] = (0.5 * eps[:, t - 1] if t else 0) + rng.normal(scale=0.5, size=n)
    treated = np.zeros(n, dtype=bool)
    treated[rng.choice(n, N_TREATED, replace=False)] = True
    D = treated[:, None] & (np.arange(T)[None, :] >= START - 1)
    Y = alpha[:, None] + beta[None, :] + load[:, None] * factor[None, :] + eps + EFFECT * D
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n), T), "time": np.tile(np.arange(1, T + 1), n),
        "y": Y.ravel(), "d": D.ravel().astype(int),
    })  # fmt: skip


def _replication(seed: int) -> tuple[float, float, float]:
    df = simulate(np.random.default_rng(seed))
    kw = dict(y="y", unit="unit", time="time", treatment="d")
    sdid = impact.synthdid(df, **kw, vcov="jackknife")
    did = impact.synthdid(df, **kw, method="did", vcov=None)
    return sdid.estimate, sdid.std_error, did.estimate


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    return np.array([_replication(20261205 + r) for r in range(N_REPS)])


def test_sdid_and_did_are_unbiased_and_sdid_is_more_precise(draws):
    for col in (0, 2):
        err = draws[:, col] - EFFECT
        assert abs(err.mean()) < MC_BOUND * err.std(ddof=1) / np.sqrt(N_REPS), err.mean()
    assert draws[:, 0].std() < draws[:, 2].std()


def test_jackknife_interval_covers(draws):
    cover = np.abs(draws[:, 0] - EFFECT) <= 1.959964 * draws[:, 1]
    assert cover.mean() > 0.95 - BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / N_REPS), cover.mean()
