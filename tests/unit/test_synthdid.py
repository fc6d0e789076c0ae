"""synthdid: staggered cohorts, the bootstrap by hand, the Frank-Wolfe solver against a
closed form, the result protocol and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
from impact.errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    DuplicateRowsError,
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
    SampleDropWarning,
    UnbalancedPanelError,
)
from impact.estimators.sdid_weights import frank_wolfe

PROP99 = Path(__file__).parents[1] / "reference" / "data" / "california_prop99.csv"
COLS = dict(y="PacksPerCapita", unit="State", time="Year", treatment="treated")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(PROP99, sep=";")


def _treat(df, states, start):
    on = df["State"].isin(states) & (df["Year"] >= start)
    return df.assign(treated=np.where(on, 1, df["treated"]))


def test_staggered_cohorts_are_averaged_by_treated_unit_periods(prop99):
    two = _treat(prop99, ["Utah", "Nevada"], 1985)
    res = impact.synthdid(two, **COLS, vcov=None)
    assert res.table["cohort"].tolist() == [1985, 1989]
    parts = []
    for states in (["Utah", "Nevada"], ["California"]):
        keep = ~two["State"].isin({"Utah", "Nevada", "California"} - set(states))
        parts.append(impact.synthdid(two[keep], **COLS, vcov=None).estimate)
    w = np.array([2 * 16, 1 * 12], dtype=float)  # 1985-2000 and 1989-2000
    assert_close(res.table["estimate"], parts, rtol=RTOL_CLOSED_FORM)
    assert_close(res.estimate, w @ parts / w.sum(), rtol=RTOL_CLOSED_FORM)
    assert_close(res.table["weight"], w / w.sum(), rtol=RTOL_CLOSED_FORM)


def test_bootstrap_of_did_by_hand(prop99):
    """Algorithm 2 with the DiD estimator (uniform weights): a double difference of means
    over resampled states, draws without a treated or a donor state redrawn."""
    three = _treat(prop99, ["Utah", "Nevada"], 1989)
    res = impact.synthdid(three, **COLS, method="did", vcov="bootstrap", replications=30,
                          seed=11)  # fmt: skip
    Y = three.pivot(index="State", columns="Year", values="PacksPerCapita")
    treated = Y.index.isin(["California", "Nevada", "Utah"])
    Y = pd.concat([Y[~treated], Y[treated]]).to_numpy()
    n0, post = int((~treated).sum()), np.arange(Y.shape[1]) >= 19
    rng = np.random.default_rng(np.random.SeedSequence(11))
    draws = []
    while len(draws) < 30:
        ind = np.sort(rng.integers(0, len(Y), len(Y)))
        c, t = ind[ind < n0], ind[ind >= n0]
        if not len(c) or not len(t):
            continue
        gap = Y[t].mean(axis=0) - Y[c].mean(axis=0)
        draws.append(gap[post].mean() - gap[~post].mean())
    assert_close(res.replications, draws, rtol=RTOL_CLOSED_FORM)
    assert_close(res.std_error, np.std(draws), rtol=RTOL_CLOSED_FORM)


def test_frank_wolfe_reaches_the_simplex_least_squares_solution():
    """Without penalty, on a problem whose solution is interior: the exact weights."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 3))
    x_true = np.array([0.5, 0.3, 0.2])
    M = np.column_stack([A, A @ x_true])
    x = frank_wolfe(M, 0.0, False, None, 1e-12, 100_000)
    assert_close(x, x_true, rtol=0, atol=1e-4)


def test_result_protocol_and_plot(prop99):
    res = impact.synthdid(prop99, **COLS, vcov=None)
    assert res.tidy()["term"].tolist() == ["ATT"]
    assert res.model_info().nobs == 39 * 31
    assert res.summary().startswith("Synthetic DiD of PacksPerCapita")
    tr = res.trajectories()
    assert len(tr) == 31 and abs(tr["time_weight"].sum() - 1) < 1e-12
    ax = res.plot()
    assert ax.get_title().startswith("Synthetic DiD")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_the_frame_is_not_modified_and_row_order_does_not_matter(prop99):
    before = prop99.copy()
    a = impact.synthdid(prop99, **COLS, vcov=None).estimate
    assert prop99.equals(before)
    b = impact.synthdid(prop99.sample(frac=1, random_state=2), **COLS, vcov=None).estimate
    assert_close(a, b, rtol=1e-10)


# ---------------------------------------------------------------------------- bad input


def test_treatment_that_is_not_zero_one(prop99):
    with pytest.raises(ColumnTypeError, match="0/1"):
        impact.synthdid(prop99.assign(treated=prop99["treated"].map({0: "no", 1: "yes"})), **COLS)
    with pytest.raises(ColumnTypeError, match="0/1"):
        impact.synthdid(prop99.assign(treated=prop99["treated"] * 2), **COLS)


def test_treatment_that_switches_off_points_to_did_multiplegt(prop99):
    off = prop99.assign(treated=np.where((prop99["State"] == "California")
                                         & (prop99["Year"] == 2000), 0, prop99["treated"]))  # fmt: skip
    with pytest.raises(ImpactError, match="did_multiplegt"):
        impact.synthdid(off, **COLS)


def test_panel_shape_errors(prop99):
    with pytest.raises(UnbalancedPanelError):
        impact.synthdid(prop99.iloc[1:], **COLS)
    with pytest.raises(DuplicateRowsError):
        impact.synthdid(pd.concat([prop99, prop99.iloc[:1]]), **COLS)
    gap = prop99.copy()
    gap.loc[5, "PacksPerCapita"] = np.nan
    with pytest.raises(ImpactError, match="missing or not finite"):
        impact.synthdid(gap, **COLS)
    with pytest.raises(ColumnNotFoundError):
        impact.synthdid(prop99, **{**COLS, "y": "packs"})
    with pytest.raises(EmptySampleError):
        impact.synthdid(prop99.iloc[:0], **COLS)


def test_donor_pool_and_treated_counts(prop99):
    two_states = prop99[prop99["State"].isin(["California", "Utah"])]
    with pytest.raises(ImpactError, match="at least two donors"):
        impact.synthdid(two_states, **COLS)
    small = prop99[prop99["State"].isin(["California", "Utah", "Nevada"])]
    small = _treat(small, ["Utah", "Nevada"], 1989)
    with pytest.raises(EmptySampleError, match="never-treated"):
        impact.synthdid(small, **COLS)
    few = _treat(prop99[prop99["State"].isin(["California", "Utah", "Nevada", "Ohio", "Texas"])],
                 ["Utah", "Nevada"], 1989)  # fmt: skip
    with pytest.raises(ImpactError, match="more never-treated donors"):
        impact.synthdid(few, **COLS)
    for vcov in ("bootstrap", "jackknife"):
        with pytest.raises(InvalidOptionError, match="two treated units"):
            impact.synthdid(prop99, **COLS, vcov=vcov)
    with pytest.raises(EmptySampleError, match="no treated unit"):
        impact.synthdid(prop99.assign(treated=0), **COLS)


def test_units_treated_too_early_are_dropped_and_counted(prop99):
    early = _treat(prop99, ["Utah"], 1971)
    with pytest.warns(SampleDropWarning, match="treated from the second period"):
        res = impact.synthdid(early, **COLS, vcov=None)
    assert res.sample_log.dropped("one_pre_period") == 31
    assert res.n_units == 38


@pytest.mark.parametrize(
    "kw",
    [{"method": "synth"}, {"vcov": "robust"}, {"replications": 1}, {"replications": 2.5},
     {"alpha": 0.0}, {"y": 3}],
)  # fmt: skip
def test_bad_options(prop99, kw):
    with pytest.raises(InvalidOptionError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.synthdid(prop99, **{**COLS, **kw})


def test_non_pandas_input(prop99):
    with pytest.raises(InvalidOptionError, match="pandas"):
        impact.synthdid(prop99.to_dict("list"), **COLS)


def test_covariates_are_projected_out_with_donor_two_way_effects(prop99):
    """SDID with a covariate = SDID on y - x beta, beta from the donors' two-way fixed
    effects regression (impact.feols, an independent path)."""
    rng = np.random.default_rng(4)
    d = prop99.assign(x=rng.normal(size=len(prop99)))
    d["y2"] = d["PacksPerCapita"] + 3.0 * d["x"]
    res = impact.synthdid(d, **{**COLS, "y": "y2"}, covariates=["x"], vcov=None)
    donors = d[d.groupby("State")["treated"].transform("max") == 0]
    beta = impact.feols("y2 ~ x | State + Year", donors).coef["x"]
    manual = impact.synthdid(d.assign(r=d["y2"] - beta * d["x"]), **{**COLS, "y": "r"},
                             vcov=None)  # fmt: skip
    assert_close(res.estimate, manual.estimate, rtol=1e-10)
    assert res.settings["covariates"] == ["x"]


def test_review_inputs(prop99):
    res = impact.synthdid(prop99, **COLS, vcov=None)
    with pytest.raises(InvalidOptionError, match="not one of the result's cohorts"):
        res.plot(cohort=1990)
    for seed in (-1, 1.5, "a", True):
        with pytest.raises(InvalidOptionError, match="seed"):
            impact.synthdid(prop99, **COLS, seed=seed)
    mixed = prop99.astype({"State": object})
    mixed.loc[mixed["State"] == "Utah", "State"] = 7
    with pytest.raises(ColumnTypeError, match="mix types"):
        impact.synthdid(mixed, **COLS, vcov=None)
    with pytest.raises(ColumnTypeError, match="orders the periods"):
        impact.synthdid(prop99.astype({"Year": str}), **COLS, vcov=None)
    with pytest.raises(ColumnTypeError, match="numeric"):
        impact.synthdid(prop99.astype({"PacksPerCapita": str}), **COLS, vcov=None)
    with pytest.raises(InvalidOptionError, match="2 columns named"):
        impact.synthdid(pd.concat([prop99, prop99[["PacksPerCapita"]]], axis=1), **COLS)
    with pytest.raises(InvalidOptionError, match="different columns"):
        impact.synthdid(prop99, **{**COLS, "y": "treated"})
    gap = prop99.astype({"PacksPerCapita": "Float64"})
    gap.loc[3, "PacksPerCapita"] = pd.NA
    with pytest.raises(ImpactError, match="on 1 rows"):
        impact.synthdid(gap, **COLS)
    stag = _treat(_treat(prop99, ["Utah", "Nevada"], 1985), ["Ohio"], 1987)
    with pytest.raises(InvalidOptionError, match="every adoption cohort"):
        impact.synthdid(stag, **COLS, vcov="jackknife")


def test_scale_does_not_change_the_estimate(prop99):
    a = impact.synthdid(prop99, **COLS, vcov=None).estimate
    big = impact.synthdid(prop99.assign(PacksPerCapita=prop99["PacksPerCapita"] * 1e200),
                          **COLS, vcov=None).estimate  # fmt: skip
    assert_close(big / 1e200, a, rtol=1e-9)


def test_period_time_axis_plots(prop99):
    d = prop99.assign(Year=pd.PeriodIndex(prop99["Year"].astype(str), freq="Y"))
    ax = impact.synthdid(d, **COLS, vcov=None).plot()
    import matplotlib.pyplot as plt

    assert ax is not None
    plt.close("all")


def test_window_equals_the_panel_cut_after_the_window(prop99):
    short = prop99[prop99["Year"] <= 1989 + 5]
    for vcov in (None, "placebo"):
        a = impact.synthdid(prop99, **COLS, window=5, vcov=vcov, replications=5, seed=2)
        b = impact.synthdid(short, **COLS, vcov=vcov, replications=5, seed=2)
        assert_close(a.estimate, b.estimate, rtol=1e-10)
        assert a.table["n_post"].iloc[0] == 6
        if vcov:
            assert_close(a.std_error, b.std_error, rtol=1e-8)
    with pytest.raises(InvalidOptionError, match="window"):
        impact.synthdid(prop99, **COLS, window=-1)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_the_trajectories_gap_after_adoption_is_the_estimate(prop99, method):
    """Closed form: tau = mean over post-periods of treated minus the (shifted) synthetic."""
    res = impact.synthdid(prop99, **COLS, method=method, vcov=None)
    tr = res.trajectories()
    post = tr["time"] >= res.table["cohort"].iloc[0]
    gap = (tr.loc[post, "treated"] - tr.loc[post, "synthetic"]).mean()
    assert abs(gap - res.estimate) < 1e-9 * abs(res.estimate)
