"""tfp_did: its point estimates are prodest + att_gt by hand; the resampling is block-exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import PRODEST_COLUMNS, RTOL_CLOSED_FORM, assert_close

import impact
from impact.errors import InvalidOptionError
from impact.productivity.two_stage import _firm_rows, _resample

ARGS = dict(**PRODEST_COLUMNS, group_trends="sector", exog_instruments="log_wage")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df, _ = impact.datasets.cluster_panel(n_firms=400, seed=21, scenario="S2", acf_replica=True)
    return df.assign(ht=df["high_tech"].astype(float))


@pytest.fixture(scope="module")
def result(panel):
    return impact.tfp_did(
        panel, cohort="join_year", did=dict(covariates=["ht"], method="reg"), n_boot=8,
        seed=3, **ARGS,
    )  # fmt: skip


def test_point_estimates_are_prodest_then_att_gt(panel, result):
    member = (panel["year"] >= panel["join_year"]).astype(float)
    pf = impact.prodest(
        panel.assign(member=member), method="acf", treatment="member", n_boot=2, **ARGS
    )
    assert_close(result.coef.to_numpy(), pf.coef.to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert_close(result.productivity.to_numpy(), pf.omega.to_numpy(), rtol=1e-10)
    gt = impact.att_gt(
        panel.assign(om=pf.omega), y="om", unit="firm_id", time="year", cohort="join_year",
        covariates=["ht"], method="reg",
    )  # fmt: skip
    simple = gt.aggregate("simple")
    assert result.estimate == pytest.approx(simple.estimate, rel=1e-10)
    assert result.table.loc[0, "std_error_naive"] == pytest.approx(simple.std_error, rel=1e-10)
    dyn = gt.aggregate("dynamic", min_e=0, max_e=5).table.set_index("event_time")
    assert result.table.loc[2, "estimate"] == pytest.approx(dyn.loc[0, "estimate"], rel=1e-10)


def test_bootstrap_is_seeded(panel, result):
    again = impact.tfp_did(
        panel, cohort="join_year", did=dict(covariates=["ht"], method="reg"), n_boot=8,
        seed=3, **ARGS,
    )  # fmt: skip
    np.testing.assert_array_equal(again.draws, result.draws)
    assert result.draws.shape == (8, 8)
    assert (result.table["std_error"] > 0).all()


def test_resample_keeps_whole_firm_histories():
    frame = pd.DataFrame({"firm": [5, 5, 5, 9, 9, 7], "year": [1, 2, 3, 1, 2, 1]})
    codes, _ = pd.factorize(frame["firm"])
    layout = _firm_rows(codes, 3)
    out = _resample(frame.assign(orig=frame["firm"]), "firm", np.random.default_rng(0), layout)
    assert out["firm"].nunique() == 3  # three copies, new ids 0..2
    for _, g in out.groupby("firm"):
        original = frame[frame["firm"] == g["orig"].iloc[0]]
        assert g["year"].tolist() == original["year"].tolist()


def test_options_are_checked(panel):
    with pytest.raises(InvalidOptionError, match="did must not set"):
        impact.tfp_did(panel, cohort="join_year", did={"y": "x"}, n_boot=2, **ARGS)
    with pytest.raises(InvalidOptionError, match="measure"):
        impact.tfp_did(panel, cohort="join_year", measure="lp", n_boot=2, **ARGS)
