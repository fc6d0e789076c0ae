"""Monte Carlo with known truth: staggered DiD estimators and their standard errors.

A small balanced fixture (300 firms x 10 years, four cohorts and never-treated firms,
AR(1) errors within firms) with deterministic cohort-by-horizon effects, so every
estimator's event-time target is the cohort-size weighted mean effect. VERIFICATION.md
§1.5 criteria: bias within 4 Monte Carlo SEs, 95% coverage within 3.5 binomial SEs of
0.95, mean reported SE / sd of the estimates in [0.9, 1.1], pre-trend tests of size 5%.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.slow

#: Replications: coverage is then checked to +-3.5 * sqrt(.95 * .05 / 500) = +-0.034.
N_REPS = 500
#: Bias bound in Monte Carlo standard errors (VERIFICATION.md §2).
MC_BOUND = 4.0
#: Binomial standard errors allowed around the nominal coverage / size.
BINOMIAL_BOUND = 3.5
#: Mean reported SE over the sd of the estimates.
SE_RATIO_RANGE = (0.9, 1.1)
N_FIRMS, N_YEARS = 300, 10
COHORTS = (4, 5, 6, 7)
WINDOW = (-3, 3)
ESTIMATORS = ("cs", "sun_abraham", "imputation", "did2s")


def _effect(g: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Dynamic, cohort-heterogeneous effect at event time e >= 0 (0 before)."""
    return np.where(e >= 0, (0.1 + 0.05 * e) * (1.0 + 0.2 * (g - 4)), 0.0)


def _panel(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[int, float]]:
    firm = np.repeat(np.arange(N_FIRMS), N_YEARS)
    year = np.tile(np.arange(1, N_YEARS + 1), N_FIRMS)
    g_f = rng.choice(np.r_[COHORTS, [0, 0]], N_FIRMS).astype(float)
    g_f[g_f == 0] = np.nan
    g = g_f[firm]
    e = year - np.nan_to_num(g, nan=1e9)
    u = np.empty((N_FIRMS, N_YEARS))
    u[:, 0] = rng.normal(size=N_FIRMS) / np.sqrt(1 - 0.5**2)
    for t in range(1, N_YEARS):
        u[:, t] = 0.5 * u[:, t - 1] + rng.normal(size=N_FIRMS)
    y = (
        rng.normal(size=N_FIRMS)[firm]
        + 0.1 * year
        + np.sin(year)
        + _effect(np.nan_to_num(g), e)
        + u.ravel()
    )
    truth = {}
    for h in range(WINDOW[1] + 1):
        obs = [(c, int(np.sum(g_f == c))) for c in COHORTS if c + h <= N_YEARS]
        n = sum(k for _, k in obs)
        truth[h] = sum(k * float(_effect(np.array(c), np.array(h))) for c, k in obs) / n
    return pd.DataFrame({"firm": firm, "year": year, "g": g, "y": y}), truth


def simulate(n_reps: int, seed: int) -> pd.DataFrame:
    """One row per (replication, estimator, target): estimate, SE and truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for rep in range(n_reps):
        df, truth = _panel(rng)
        for est in ESTIMATORS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = impact.event_study(
                    df, y="y", unit="firm", time="year", cohort="g", estimator=est, window=WINDOW
                )
            tab = res.table.set_index("rel_time")
            for h in (0, 2):
                rows.append(
                    (rep, est, f"e={h}", tab.loc[h, "estimate"], tab.loc[h, "std_error"], truth[h])
                )
            avg = float(np.mean([truth[h] for h in range(WINDOW[1] + 1)]))
            rows.append((rep, est, "post average", res.att, res.att_se, avg))
            pre = res.pretrend_test()
            rows.append((rep, est, "pretrend p", pre["p_value"], np.nan, np.nan))
    return pd.DataFrame(rows, columns=["rep", "estimator", "target", "estimate", "se", "truth"])


def summary(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias in Monte Carlo SEs, coverage and SE ratio per estimator and target."""
    out = []
    for (name, target), d in _targets(draws):
        err = d["estimate"] - d["truth"]
        out.append(
            {
                "estimator": name,
                "target": target,
                "bias/mcse": err.mean() / (err.std() / np.sqrt(len(err))),
                "coverage": np.mean(np.abs(err) <= 1.959964 * d["se"]),
                "se/sd": d["se"].mean() / d["estimate"].std(),
            }
        )
    for name, d in draws[draws["target"] == "pretrend p"].groupby("estimator"):
        out.append(
            {
                "estimator": name,
                "target": "pretrend size",
                "coverage": np.mean(d["estimate"] < 0.05),
            }
        )
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def draws() -> pd.DataFrame:
    return simulate(N_REPS, seed=20261127)


def _targets(draws):
    est = draws[draws["target"] != "pretrend p"]
    return est.groupby(["estimator", "target"])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_unbiased(draws, estimator):
    for (name, target), d in _targets(draws):
        if name != estimator:
            continue
        err = d["estimate"] - d["truth"]
        mcse = err.std() / np.sqrt(len(err))
        assert abs(err.mean()) <= MC_BOUND * mcse, (target, err.mean(), mcse)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_coverage_and_standard_errors(draws, estimator):
    half = BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / N_REPS)
    for (name, target), d in _targets(draws):
        if name != estimator:
            continue
        cover = np.mean(np.abs(d["estimate"] - d["truth"]) <= 1.959964 * d["se"])
        assert abs(cover - 0.95) <= half, (target, cover)
        ratio = d["se"].mean() / d["estimate"].std()
        assert SE_RATIO_RANGE[0] <= ratio <= SE_RATIO_RANGE[1], (target, ratio)


@pytest.mark.parametrize("estimator", ["cs", "sun_abraham", "did2s"])
def test_pretrend_test_has_its_size(draws, estimator):
    p = draws.loc[(draws["estimator"] == estimator) & (draws["target"] == "pretrend p"), "estimate"]
    half = BINOMIAL_BOUND * np.sqrt(0.05 * 0.95 / len(p))
    assert abs(np.mean(p < 0.05) - 0.05) <= half
