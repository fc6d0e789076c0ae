"""synthdid against the R package synthdid on California's Proposition 99.

Reference values: ``data/synthdid_reference.csv``, written by
``make_synthdid_reference.R`` with the R package at commit 70c1ce3 (estimates, unit and
time weights, every placebo estimate — each never-treated state made treated in turn —
and the fixed-weights jackknife with three treated states). Published values: Table 1 of
Arkhangelsky et al. (2021) and the package's documentation: SDID −15.6038, SC −19.6197,
DID −27.3491 with placebo standard errors 8.4, 9.9, 17.7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_close

import impact
from impact.design.blocks import adoption_blocks
from impact.estimators.sdid_inference import fit_cohort, fit_cohorts

DATA = Path(__file__).parent / "data"
#: Half a unit of the fourth decimal printed by the R package.
PRINTED_ATOL = 5e-5
#: Frank-Wolfe iterates are the R package's step for step; they agree to ~1e-12.
ATOL_FW = 1e-8
#: The placebo standard error samples the placebo estimates; its limit (their standard
#: deviation) must lie within 20% of the published values, which used 200 draws.
PLACEBO_RTOL = 0.20
PUBLISHED = {"sdid": (-15.6038, 8.4), "sc": (-19.6197, 9.9), "did": (-27.3491, 17.7)}
COLS = dict(y="PacksPerCapita", unit="State", time="Year", treatment="treated")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(DATA / "california_prop99.csv", sep=";")


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(DATA / "synthdid_reference.csv")


def _ref(ref, case, method) -> pd.Series:
    return ref[(ref["case"] == case) & (ref["method"] == method)].set_index("key")["value"]


def _placebos(prop99, method) -> np.ndarray:
    """Every never-treated state made treated in turn, as the placebo draws do."""
    b = adoption_blocks(prop99, **COLS)
    Y, n0 = b.Y, b.n_control
    f = fit_cohorts(Y, b.adoption, n0, method)[0]
    out = []
    for j in range(n0):
        donors = np.delete(np.arange(n0), j)
        w = f.omega[donors]
        g = fit_cohort(Y[donors], Y[[j]], f.column, method, f.opts, w / w.sum(), f.lam)
        out.append(g.tau)
    return np.array(out)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_estimate_and_weights_equal_r(prop99, ref, method):
    res = impact.synthdid(prop99, **COLS, method=method, vcov=None)
    r = _ref(ref, "prop99", method)
    assert_close(res.estimate, PUBLISHED[method][0], rtol=0, atol=PRINTED_ATOL)
    assert_close(res.estimate, r["estimate"], rtol=0, atol=ATOL_FW)
    uw = res.unit_weights.set_index("unit")["weight"]
    assert_close(uw.to_numpy(), r[[f"omega:{u}" for u in uw.index]].to_numpy(), rtol=0,
                 atol=ATOL_FW)  # fmt: skip
    if method != "sc":
        tw = res.time_weights.set_index("time")["weight"]
        assert_close(tw.to_numpy(), r[[f"lambda:{t}" for t in tw.index]].to_numpy(), rtol=0,
                     atol=ATOL_FW)  # fmt: skip
    assert res.table["n_pre"].iloc[0] == 19 and res.table["n_post"].iloc[0] == 12


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_every_placebo_equals_r_and_their_spread_matches_the_published_se(prop99, ref, method):
    r = _ref(ref, "prop99", method)
    b = adoption_blocks(prop99, **COLS)
    ours = _placebos(prop99, method)
    theirs = r[[f"placebo:{u}" for u in b.units[: b.n_control]]].to_numpy()
    assert_close(ours, theirs, rtol=0, atol=ATOL_FW)
    limit = ours.std()  # the placebo SE with infinitely many draws (one treated state)
    assert abs(limit / PUBLISHED[method][1] - 1) < PLACEBO_RTOL


def test_placebo_draws_are_placebo_estimates(prop99):
    """Each replication made one never-treated state treated: its estimate is that
    state's placebo estimate, whatever the order of the remaining donors."""
    res = impact.synthdid(prop99, **COLS, method="sdid", replications=12, seed=3)
    allowed = _placebos(prop99, "sdid")
    gap = np.abs(res.replications[:, None] - allowed[None, :]).min(axis=1)
    assert (gap < ATOL_FW).all()
    assert_close(res.std_error, res.replications.std(), rtol=1e-12)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_jackknife_with_three_treated_states_equals_r(prop99, ref, method):
    three = prop99.assign(
        treated=(prop99["State"].isin(["California", "Utah", "Nevada"])
                 & (prop99["Year"] >= 1989)).astype(int)
    )  # fmt: skip
    res = impact.synthdid(three, **COLS, method=method, vcov="jackknife")
    r = _ref(ref, "three", method)
    assert_close(res.estimate, r["estimate"], rtol=0, atol=ATOL_FW)
    assert_close(res.std_error, r["jackknife_se"], rtol=1e-8)
