"""Monte Carlo of did_multiplegt with a control variable: known effects, the standard
error against the spread of the estimates and the coverage of the intervals.

Groups of baseline 0 switch in and groups of baseline 1 switch out at random dates; a
trending control that is higher for groups that will switch enters the outcome, so
ignoring it biases DID_l. The effect of l periods of exposure is 0.2 l (switchers in
gain it, switchers out lose it, so DID_l = 0.2 l for both).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import impact

#: 300 replications of 200 groups x 8 periods (about 4 s).
N_REPS = 300
TRUTH = 0.2 * np.arange(1, 4)
#: |bias| below this many Monte Carlo standard errors counts as unbiased.
MC_BOUND = 4.0
#: Coverage of the nominal 95% interval: 0.95 plus or minus 3.5 binomial standard errors
#: at N_REPS replications (0.0126).
COVERAGE_BAND = (0.906, 0.994)
#: The mean standard error within 12% of the estimates' standard deviation (the SD's own
#: Monte Carlo error at 300 replications is about 4%).
SE_RATIO_BAND = (0.88, 1.12)


def _panel(rng: np.random.Generator, G: int = 200, T: int = 8) -> pd.DataFrame:
    base = rng.choice([0.0, 1.0], G, p=[0.6, 0.4])
    first = rng.integers(2, T + 4, G)  # switch period, later than T: never
    t = np.arange(1, T + 1)
    switched = t[None, :] >= first[:, None]
    d = np.where(switched, 1 - base[:, None], base[:, None])
    a = rng.normal(size=G)
    x = (0.3 * (first[:, None] <= T) * t[None, :]
         + rng.normal(size=(G, T)).cumsum(axis=1) * 0.5 + a[:, None])  # fmt: skip
    exposure = np.where(switched, t[None, :] - first[:, None] + 1, 0)
    effect = np.where(base[:, None] == 0, 1.0, -1.0) * 0.2 * exposure
    y = a[:, None] + 0.1 * t[None, :] + 0.8 * x + effect + rng.normal(size=(G, T)) * 0.5
    return pd.DataFrame({"g": np.repeat(np.arange(G), T), "t": np.tile(t, G),
                         "y": y.ravel(), "d": d.ravel(), "x": x.ravel()})  # fmt: skip


def _draws(controls):
    rng = np.random.default_rng(20261205)
    est, se = [], []
    for _ in range(N_REPS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.did_multiplegt(_panel(rng), y="y", unit="g", time="t", treatment="d",
                                        effects=3, controls=controls)  # fmt: skip
        tab = res.table[res.table["effect"] > 0]
        est.append(tab["estimate"].to_numpy())
        se.append(tab["std_error"].to_numpy())
    return np.array(est), np.array(se)


def test_controls_remove_the_bias_and_the_variance_is_calibrated():
    est, se = _draws(["x"])
    sd = est.std(axis=0, ddof=1)
    bias = est.mean(axis=0) - TRUTH
    assert (np.abs(bias) < MC_BOUND * sd / np.sqrt(N_REPS)).all(), bias
    ratio = se.mean(axis=0) / sd
    assert ((ratio > SE_RATIO_BAND[0]) & (ratio < SE_RATIO_BAND[1])).all(), ratio
    cover = (np.abs(est - TRUTH) <= 1.96 * se).mean(axis=0)
    assert ((cover > COVERAGE_BAND[0]) & (cover < COVERAGE_BAND[1])).all(), cover


def test_without_the_control_the_effects_are_biased():
    est, _ = _draws(None)
    sd = est.std(axis=0, ddof=1)
    assert (est.mean(axis=0) - TRUTH > MC_BOUND * sd / np.sqrt(N_REPS)).all()
