"""did_multiplegt: a hand-derived panel, bad input, invariances and a small Monte Carlo of
a treatment that switches on and off with known dynamic effects."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
from impact.errors import (
    ClusterError,
    ColumnNotFoundError,
    ColumnTypeError,
    DuplicateRowsError,
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
)

COLS = dict(y="y", unit="g", time="t", treatment="d")


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.did_multiplegt(df, **COLS, **kw)


def hand_panel() -> pd.DataFrame:
    """A switches at 2, C at 3, B never; baseline 0 for all."""
    y = {"A": [1.0, 4.0, 6.5], "B": [2.0, 2.5, 3.5], "C": [0.5, 1.5, 4.0]}
    d = {"A": [0, 1, 1], "B": [0, 0, 0], "C": [0, 0, 1]}
    return pd.DataFrame(
        [(g, t + 1, y[g][t], d[g][t]) for g in "ABC" for t in range(3)],
        columns=["g", "t", "y", "d"],
    )


def test_hand_derived_effects_placebo_and_total_effect():
    """Effect 1: A at 2 against B and C, C at 3 against B; effect 2: A from 1 to 3 against
    B; placebo 1: C's change from 2 back to 1 against B's; the total effect weights the
    effects by their switchers over the treatment received (one unit each)."""
    df = hand_panel()
    Y = df.pivot(index="g", columns="t", values="y")
    d1 = ((Y.loc["A", 2] - Y.loc["A", 1]) - ((Y.loc["B", 2] - Y.loc["B", 1]) + (Y.loc["C", 2] - Y.loc["C", 1])) / 2
          + (Y.loc["C", 3] - Y.loc["C", 2]) - (Y.loc["B", 3] - Y.loc["B", 2])) / 2  # fmt: skip
    d2 = (Y.loc["A", 3] - Y.loc["A", 1]) - (Y.loc["B", 3] - Y.loc["B", 1])
    p1 = (Y.loc["C", 1] - Y.loc["C", 2]) - (Y.loc["B", 1] - Y.loc["B", 2])
    res = _fit(df, effects=2, placebo=1)
    tab = res.table.set_index("effect")
    assert_close(tab.loc[[1, 2, -1], "estimate"], [d1, d2, p1], rtol=RTOL_CLOSED_FORM)
    assert tab.loc[[1, 2, -1], "switchers"].tolist() == [2, 1, 1]
    assert tab.loc[[1, 2, -1], "rel_time"].tolist() == [0, 1, -2]
    assert_close(res.att, (2 * d1 + d2) / 3, rtol=RTOL_CLOSED_FORM)
    norm = _fit(df, effects=2, normalized=True).table.set_index("effect")
    assert_close(norm.loc[[1, 2], "estimate"], [d1, d2 / 2], rtol=RTOL_CLOSED_FORM)
    assert_close(norm.loc[[1, 2], "delta"], [1.0, 2.0], rtol=RTOL_CLOSED_FORM)


def test_switchers_out_count_as_an_increase():
    """Mirroring the treatment (1 - d: every switch is out of a baseline of 1) leaves the
    effects of a treatment increase unchanged up to sign: each estimate flips."""
    df = hand_panel()
    up = _fit(df, effects=2, placebo=1).table.set_index("effect")
    down = _fit(df.assign(d=1 - df["d"]), effects=2, placebo=1).table.set_index("effect")
    assert_close(
        down.loc[[1, 2, -1], "estimate"], -up.loc[[1, 2, -1], "estimate"], rtol=RTOL_CLOSED_FORM
    )


def _panel(seed: int = 0, n: int = 120, T: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = rng.integers(2, T + 3, n)
    leave = first + rng.integers(1, 4, n)
    t = np.arange(1, T + 1)
    D = ((t[None, :] >= first[:, None]) & (t[None, :] < leave[:, None])).astype(float)
    Y = rng.normal(size=(n, 1)) + 0.1 * t + 0.5 * D + rng.normal(scale=0.3, size=(n, T))
    return pd.DataFrame({"g": np.repeat(np.arange(n), T), "t": np.tile(t, n),
                         "y": Y.ravel(), "d": D.ravel(), "c": np.repeat(np.arange(n) % 9, T)})  # fmt: skip


def test_does_not_mutate_and_ignores_row_order():
    df = _panel()
    before = df.copy()
    a = _fit(df, effects=3, placebo=2, cluster="c")
    pd.testing.assert_frame_equal(df, before)
    b = _fit(df.sample(frac=1.0, random_state=3), effects=3, placebo=2, cluster="c")
    assert_close(a.table["estimate"], b.table["estimate"], rtol=RTOL_CLOSED_FORM)
    assert_close(
        a.table["std_error"].fillna(0), b.table["std_error"].fillna(0), rtol=RTOL_CLOSED_FORM
    )


def test_string_ids_and_result_protocol():
    df = _panel()
    res = _fit(df.assign(g="firm-" + df["g"].astype(str)), effects=2, placebo=1)
    tidy = res.tidy()
    assert tidy["term"].tolist() == ["ATT", "rel_time::-2", "rel_time::0", "rel_time::1"]
    assert res.model_info().nobs == len(df)
    assert "average total effect" in res.summary()
    assert impact.etable([res]) is not None


def test_feeds_honest_did():
    df = _panel(n=400)
    res = _fit(df, effects=2, placebo=2)
    hd = impact.honest_did(res, method="smoothness", M=[0.0])
    assert np.isfinite(hd.table[["lower", "upper"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda df: df.drop(columns="d"), ColumnNotFoundError),
        (lambda df: df.assign(d=df["d"].map({0.0: "no", 1.0: "yes"})), ColumnTypeError),
        (lambda df: pd.concat([df, df.iloc[:1]]), DuplicateRowsError),
        (lambda df: df.assign(d=0.0), EmptySampleError),
        (lambda df: df.assign(c=df["g"] % 9 + (df["t"] > 4)), ClusterError),
        (lambda df: df.assign(c=df["c"].where(df["t"] != 2)), ClusterError),
        (lambda df: df.assign(c=0), ClusterError),
        (lambda df: df.iloc[:0], EmptySampleError),
        (lambda df: df.assign(y=np.nan), EmptySampleError),
        (lambda df: pd.concat([df, df[["d"]]], axis=1), InvalidOptionError),
    ],
    ids=[
        "missing column",
        "text treatment",
        "duplicates",
        "no switchers",
        "cluster varies",
        "cluster missing",
        "one cluster",
        "no rows",
        "no outcome",
        "repeated column",
    ],
)
def test_bad_input_is_a_typed_error(change, error):
    with pytest.raises(error):
        _fit(change(_panel()), effects=2, cluster="c")


def test_trends_nonparam_must_be_constant_and_complete():
    df = _panel().assign(s=lambda d: d["g"] % 4)
    with pytest.raises(ImpactError, match="s"):
        _fit(df.assign(s=df["s"] + (df["t"] > 3)), effects=2, trends_nonparam=["s"])
    with pytest.raises(ImpactError, match="missing"):
        _fit(df.assign(s=df["s"].where(df["t"] != 2)), effects=2, trends_nonparam=["s"])
    with pytest.raises(ColumnNotFoundError):
        _fit(df, effects=2, trends_nonparam=["sector"])
    with pytest.raises(InvalidOptionError):
        _fit(df, effects=2, trends_nonparam=[3])
    one = _fit(df, effects=2, trends_nonparam="s")
    assert one.settings["trends_nonparam"] == ["s"]


@pytest.mark.parametrize(
    "kw",
    [dict(effects=0), dict(effects=1.5), dict(placebo=-1), dict(normalized="yes"),
     dict(switchers="up"), dict(switchers=["in"]), dict(alpha=1.2),
     dict(same_switchers_pl=True)],
)  # fmt: skip
def test_bad_options(kw):
    with pytest.raises(InvalidOptionError):
        _fit(_panel(), **{"effects": 2, **kw})


def test_fewer_effects_than_asked_warns():
    with pytest.warns(impact.errors.ImpactWarning, match="supports 7 effects"):
        impact.did_multiplegt(_panel(), **COLS, effects=12)


def test_only_switchers_out_asked_but_none():
    with pytest.raises(InvalidOptionError, match="no switcher"):
        _fit(_panel(), effects=2, switchers="out")


# ------------------------------------------------------------------ known truth
BETA = (0.4, 0.2)  # effect of the current and of last period's treatment


def switching_draw(rng, design: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """Outcomes of a fixed switching design: group and period effects, AR(1) errors and
    ``BETA[0] D_t + BETA[1] D_{t-1}``."""
    D, cl = design
    n, T = D.shape
    lag = np.column_stack([D[:, :1], D[:, :-1]])
    e = np.zeros((n, T))
    shocks = rng.normal(scale=0.5, size=(n, T))
    e[:, 0] = shocks[:, 0]
    for t in range(1, T):
        e[:, t] = 0.5 * e[:, t - 1] + shocks[:, t]
    Y = rng.normal(size=(n, 1)) + rng.normal(size=T)[None, :] + BETA[0] * D + BETA[1] * lag + e
    return pd.DataFrame({"g": np.repeat(np.arange(n), T), "t": np.tile(np.arange(1, T + 1), n),
                         "y": Y.ravel(), "d": D.ravel(), "c": np.repeat(cl, T)})  # fmt: skip


def switching_design_draw(seed: int, n: int = 600, T: int = 7):
    """Baseline 0 groups switch in, baseline 1 groups switch out; both leave again after
    1-3 periods (a member that leaves the cluster); a sixth never switches."""
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < 0.3).astype(float)
    first = np.where(rng.random(n) < 1 / 6, T + 1, rng.integers(2, T + 1, n))
    first[:4] = T + 1
    base[:2] = 1.0
    last = first + rng.integers(1, 4, n)
    t = np.arange(1, T + 1)
    on = (t[None, :] >= first[:, None]) & (t[None, :] < last[:, None])
    D = np.where(on, 1.0 - base[:, None], base[:, None])
    return D, rng.integers(0, 40, n)


def truth(D: np.ndarray, effects: int) -> np.ndarray:
    """DID_l's estimand on this design: the switchers' mean ``sum_k BETA_k (D_{F-1+l-k} -
    d)`` (signed so that a switch out counts as an increase), each direction weighted by
    its switchers (never-switchers of both baselines are the comparisons until the end)."""
    n, T = D.shape
    d = D[:, 0]
    moved = D != d[:, None]
    F = np.where(moved.any(axis=1), moved.argmax(axis=1), T)
    lag = np.column_stack([D[:, :1], D[:, :-1]])
    out = []
    for h in range(1, effects + 1):
        t = F - 1 + h
        sw = t < T
        tt = t[sw]
        sign = np.where(d[sw] == 0, 1.0, -1.0)
        rows = np.flatnonzero(sw)
        eff = BETA[0] * (D[rows, tt] - d[sw]) + BETA[1] * (lag[rows, tt] - d[sw])
        out.append(float(np.mean(sign * eff)))
    return np.array(out)


def test_known_dynamic_effects_monte_carlo():
    """60 draws of one design: the mean estimate of each effect is within 4 Monte Carlo
    SEs of the truth, and the placebo's mean within 4 of zero."""
    design = switching_design_draw(11)
    target = truth(design[0], 3)
    rng = np.random.default_rng(5)
    est = []
    for _ in range(60):
        res = _fit(switching_draw(rng, design), effects=3, placebo=1, cluster="c")
        tab = res.table.set_index("effect")
        est.append(tab.loc[[1, 2, 3, -1], "estimate"].to_numpy())
    est = np.array(est)
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    bias = est.mean(axis=0) - np.r_[target, 0.0]
    assert (np.abs(bias) < 4 * mc_se).all(), (bias, mc_se)


def test_polars_frames_are_refused_with_the_fix():
    pl = pytest.importorskip("polars")
    with pytest.raises(InvalidOptionError, match="to_pandas"):
        impact.did_multiplegt(pl.from_pandas(_panel()), **COLS, effects=2)


def test_uncertain_switch_dates_are_logged_as_such():
    """A treatment missing just before the switch: the group is a comparison up to its last
    certain period, its later rows are counted as ``uncertain_switch`` (not as missing)."""
    df = _panel()
    first = df[(df["d"] == 1)].groupby("g")["t"].min()
    g = first[first >= 3].index[0]
    bad = (df["g"] == g) & (df["t"] == first[g] - 1)
    res = _fit(df.assign(d=df["d"].mask(bad)), effects=2)
    log = res.sample_log
    after = (df["g"] == g) & (df["t"] >= first[g] - 1)  # from the row of unknown treatment
    assert log.dropped("uncertain_switch") == int(after.sum())
    assert log.dropped("missing") == 0


def test_unestimable_effects_warn_and_a_singular_covariance_warns():
    df = _panel()
    with pytest.warns(impact.errors.ImpactWarning, match="rank"):
        impact.did_multiplegt(df.assign(c=df["g"] % 2), **COLS, effects=3, cluster="c")


def test_comparison_classes_inside_single_clusters_are_a_typed_error():
    """trends_nonparam categories nested in the clusters: every variance term is left out
    (the authors' rule), which would report SE = 0; a ClusterError says why instead."""
    df = _panel(n=300).assign(s=lambda d: d["c"])
    with pytest.raises(ClusterError, match="single cluster"):
        _fit(df, effects=2, cluster="c", trends_nonparam=["s"])


def test_controls_by_hand_with_one_baseline_level():
    """theta by hand: the weighted regression of first differences of y on those of x
    with period effects among not-yet-switched cells; the effects net of x's change."""
    df = _panel(seed=4)
    rng = np.random.default_rng(9)
    df["x"] = rng.normal(size=len(df)).cumsum()
    df["y"] = df["y"] + 0.7 * df["x"]
    res = _fit(df, effects=1, controls="x")
    w = df.sort_values(["g", "t"]).copy()
    w["dy"], w["dx"] = w.groupby("g")["y"].diff(), w.groupby("g")["x"].diff()
    first = w[w["d"] == 1].groupby("g")["t"].min()
    w["F"] = w["g"].map(first).fillna(np.inf)
    fit = w[(w["t"] < w["F"]) & w["dy"].notna()]
    dm = fit[["dy", "dx"]] - fit.groupby("t")[["dy", "dx"]].transform("mean")
    theta = (dm["dx"] * dm["dy"]).sum() / (dm["dx"] ** 2).sum()
    w["net"] = w["dy"] - theta * w["dx"]
    sw = w[w["t"] == w["F"]]
    ctrl = w[w["t"] < w["F"]].groupby("t")["net"].mean()
    hand = (sw["net"] - sw["t"].map(ctrl)).mean()
    eff = res.table.loc[res.table["effect"] == 1, "estimate"].iloc[0]
    assert_close(eff, hand, rtol=RTOL_CLOSED_FORM)


def test_controls_bad_input():
    df = _panel(seed=5).assign(x=lambda d: np.arange(len(d), dtype=float) % 7)
    with pytest.raises(ColumnNotFoundError):
        _fit(df, controls=["z"])
    with pytest.raises(ColumnTypeError):
        _fit(df.assign(x=df["x"].astype(str)), controls=["x"])
    with pytest.raises(InvalidOptionError, match="controls must be column names"):
        _fit(df, controls=[1])
    miss = df.copy()
    miss.loc[miss.index[:5], "x"] = np.nan
    res = _fit(miss, controls=["x"])
    assert res.sample_log.dropped("missing_controls") == 5
    assert miss["x"].isna().sum() == 5  # the user's frame is untouched
    with pytest.warns(impact.errors.ImpactWarning, match="collinear"):
        both = impact.did_multiplegt(df.assign(x3=3 * df["x"]), **COLS, controls=["x", "x3"])
    one = _fit(df, controls=["x"])
    assert_close(both.table["estimate"].to_numpy(), one.table["estimate"].to_numpy(),
                 rtol=RTOL_CLOSED_FORM)  # fmt: skip
    assert_close(both.table["std_error"].to_numpy(), one.table["std_error"].to_numpy(),
                 rtol=1e-8)  # fmt: skip
    with pytest.raises(InvalidOptionError, match="include the outcome"):
        _fit(df, controls=["y"])
    with pytest.raises(InvalidOptionError, match="controls must be column names"):
        _fit(df, controls={"x": 1})
