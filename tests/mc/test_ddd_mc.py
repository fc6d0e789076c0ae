"""Monte Carlo of staggered triple differences with a known truth.

Enabling cohorts 3 and 5 and a never-enabled group over six periods; each enabling group
trends on its own (so a DiD of eligible units across groups is biased) and eligible units
trend on their own, with a covariate-specific trend and eligibility that depends on the
covariate (the DDD parallel trends of Ortiz-Villavicencio & Sant'Anna hold conditional on
it). Effects grow with event time (e + 1 in event time e, on average) and vary by unit.
The truth of ATT(g, t) is the sample mean of the effects of cohort g's eligible units in
t (bias), and its population value t - g + 1 (coverage: the influence-function variance
targets the population ATT, so it is conservative for the sample one).

Checks: DR DDD with never- and with not-yet-enabled comparisons (GMM cells) is unbiased
for every post-treatment cell and the event-time aggregation (within 4 Monte Carlo SEs);
its 95% intervals cover at 0.95 within 3.5 binomial SEs; the DiD of the eligible units
alone (att_gt) is biased by the group trends (the reason for the third difference).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.slow

#: Replications (each: 1,500 units x 6 periods; ~0.1 s for both comparison sets).
N_REPS = 300
N_UNITS = 1500
PERIODS = np.arange(1, 7)
#: Bias bound in Monte Carlo standard errors (VERIFICATION.md §2).
MC_BOUND = 4.0
BINOMIAL_BOUND = 3.5
GROUP_TREND = {3: 0.3, 5: -0.2, 0: 0.0}
#: post-treatment cells in the order of the truth dictionaries
CELLS = [(3, 3), (3, 4), (3, 5), (5, 5), (3, 6), (5, 6)]


def simulate(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    n = N_UNITS
    s = rng.choice([3, 5, 0], size=n, p=[0.3, 0.3, 0.4])
    x = rng.normal(size=n)
    q = rng.random(n) < 1 / (1 + np.exp(-0.8 * x))
    tau = 1.0 + rng.normal(scale=0.5, size=n)  # E[tau | S, Q, x] = 1: population ATT = e
    a = rng.normal(size=n) + 0.5 * x
    trend = np.vectorize(GROUP_TREND.get)(s)
    frames, truth = [], {}
    for t in PERIODS:
        e = t - s + 1
        treated = (s > 0) & (t >= s) & q
        effect = np.where(treated, tau * e, 0.0)
        y = a + 0.2 * t + trend * t + 0.4 * t * q + 0.3 * x * t + effect + rng.normal(size=n)
        frames.append(pd.DataFrame({"id": np.arange(n), "t": t, "y": y, "g": s,
                                    "q": q.astype(int), "x": x}))  # fmt: skip
        for g in (3, 5):
            if t >= g:
                truth[(g, t)] = float(effect[(s == g) & q].mean())
    return pd.concat(frames, ignore_index=True), truth


def _replication(seed: int):
    df, truth = simulate(np.random.default_rng(seed))
    assert list(truth) == CELLS
    sizes = {g: int((df.loc[df["t"] == 1, "g"] == g).sum()) for g in (3, 5)}
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for control in ("never", "notyet"):
            res = impact.ddd(df, y="y", unit="id", time="t", cohort="g", partition="q",
                             covariates=["x"], control=control)  # fmt: skip
            tab = res.table.set_index(["cohort", "time"]).loc[list(truth)]
            dyn = res.aggregate("dynamic").table.set_index("rel_time").loc[[0, 1]]
            out[control] = (tab["estimate"].to_numpy(), tab["std_error"].to_numpy(),
                            dyn["estimate"].to_numpy())  # fmt: skip
        did = impact.att_gt(df[df["q"] == 1], y="y", unit="id", time="t", cohort="g",
                            covariates=["x"], base_period="universal")  # fmt: skip
    did_est = did.table.set_index(["cohort", "time"]).loc[list(truth), "estimate"].to_numpy()
    target = np.array(list(truth.values()))
    dyn_truth = np.array([
        sum(sizes[g] * truth[(g, g + e)] for g in (3, 5)) / sum(sizes.values())
        for e in (0, 1)
    ])  # fmt: skip
    return out, did_est, target, dyn_truth


@pytest.fixture(scope="module")
def draws():
    return [_replication(20261205 + r) for r in range(N_REPS)]


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_ddd_recovers_the_truth_and_covers(draws, control):
    est = np.array([d[0][control][0] for d in draws])
    se = np.array([d[0][control][1] for d in draws])
    dyn = np.array([d[0][control][2] for d in draws])
    target = np.array([d[2] for d in draws])
    dyn_truth = np.array([d[3] for d in draws])
    for err in (est - target, dyn - dyn_truth):
        bias = err.mean(axis=0)
        mc_se = err.std(axis=0, ddof=1) / np.sqrt(N_REPS)
        assert (np.abs(bias) < MC_BOUND * mc_se).all(), (bias, mc_se)
    population = np.array([t - g + 1 for g, t in CELLS], dtype=float)
    cover = np.abs(est - population) <= 1.959964 * se
    k = cover.size
    assert cover.mean() > 0.95 - BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / k), cover.mean(axis=0)
    assert cover.mean() < 0.95 + BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / k), cover.mean(axis=0)


def test_did_of_eligible_units_alone_is_biased_by_group_trends(draws):
    err = np.array([d[1] for d in draws]) - np.array([d[2] for d in draws])
    bias = err.mean(axis=0)
    mc_se = err.std(axis=0, ddof=1) / np.sqrt(N_REPS)
    assert (np.abs(bias) > MC_BOUND * mc_se).all(), (bias, mc_se)
