"""tfp_did: its point estimates are prodest + att_gt by hand; the resampling is block-exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import PRODEST_COLUMNS, RTOL_CLOSED_FORM, assert_close

import impact
from impact.errors import InvalidOptionError
from impact.productivity.tfp_did import _firm_rows, _resample

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
    pf = impact.prodest(  # same seed: the same restarts reach the same minimum
        panel.assign(member=member), method="acf", treatment="member", n_boot=2, seed=3, **ARGS
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
    dyn = gt.aggregate("dynamic", min_e=0, max_e=5).table.set_index("rel_time")
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
    for seed in range(20):
        out = _resample(
            frame.assign(orig=frame["firm"]), "firm", np.random.default_rng(seed), layout
        )
        # the same generator state draws the same firm counts: rebuild the sample by hand
        counts = np.bincount(np.random.default_rng(seed).integers(0, 3, 3), minlength=3)
        expected = pd.concat(
            [frame[frame["firm"] == f] for f, c in zip([5, 9, 7], counts, strict=True)
             for _ in range(c)]
        )  # fmt: skip
        assert out["orig"].tolist() == expected["firm"].tolist()
        assert out["year"].tolist() == expected["year"].tolist()
        for _, g in out.groupby("firm"):  # one original firm per new id, whole history
            assert g["orig"].nunique() == 1
            assert (
                g["year"].tolist() == frame.loc[frame["firm"] == g["orig"].iloc[0], "year"].tolist()
            )


def test_never_treated_coded_zero_equals_nan(panel):
    kw = dict(did=dict(covariates=["ht"], method="reg"), n_boot=3, seed=1, **ARGS)
    a = impact.tfp_did(panel, cohort="join_year", **kw)
    b = impact.tfp_did(panel.assign(g0=panel["join_year"].fillna(0)), cohort="g0", **kw)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_options_are_checked(panel):
    with pytest.raises(InvalidOptionError, match="did must not set"):
        impact.tfp_did(panel, cohort="join_year", did={"y": "x"}, n_boot=2, **ARGS)
    with pytest.raises(InvalidOptionError, match="measure"):
        impact.tfp_did(panel, cohort="join_year", measure="lp", n_boot=2, **ARGS)


def test_draw_warnings_are_announced_once_with_a_count(panel):
    """Before, every warning of every draw was silenced; now each category is announced
    once, with how many draws raised it."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        impact.tfp_did(
            panel, cohort="join_year", did=dict(covariates=["ht"], method="reg"), n_boot=4,
            seed=3, **ARGS,
        )  # fmt: skip
    summaries = [str(w.message) for w in caught if "tfp_did bootstrap:" in str(w.message)]
    assert summaries and all(" of 4 draws" in m for m in summaries)
    cats = [m.split(":")[1].split(" in ")[0] for m in summaries]
    assert len(cats) == len(set(cats))  # one line per category
