"""Issue 13 property: every DiD estimator gives identical results (<= 1e-10) when periods
are relabelled on a step-2 or step-5 grid or as Period years, when rows are shuffled and
ids relabelled (strings, categoricals); the input frame is never changed."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact

#: identical algebra on relabelled inputs: only summation order may differ
RTOL = RTOL_CLOSED_FORM
KW = dict(y="y", unit="firm", time="year", cohort="g")


def panel(seed: int = 0, n: int = 80, T: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice([2002.0, 2004.0, np.nan], size=n)
    firm = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(2000, 2000 + T), n)
    e = year - g[firm]
    y = rng.normal(size=n)[firm] + np.where(e >= 0, 1 + 0.3 * e, 0) + rng.normal(size=n * T)
    df = pd.DataFrame({"firm": firm, "year": year, "g": g[firm], "y": y})
    return df.drop(index=rng.choice(len(df), size=20, replace=False))  # unbalanced


def _estimates(df: pd.DataFrame, which: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if which == "att_gt":
            r = impact.att_gt(df, **KW)
            return np.r_[r.table["estimate"], r.table["std_error"], r.aggregate("dynamic").estimate]
        if which == "att_gt_rcs":
            r = impact.att_gt(df, **KW, panel="rcs")
            return np.r_[r.table["estimate"], r.aggregate("simple").std_error]
        if which == "etwfe":
            r = impact.etwfe(df, **KW, family="linear")
            return np.r_[r.cells["estimate"], r.cells["std_error"]]
        r = impact.event_study(df, **KW, estimator=which, window=(-3, 3))
        return np.r_[r.table["estimate"], r.table["std_error"], r.att, r.table["rel_time"]]


def _relabel(df: pd.DataFrame, how: str) -> pd.DataFrame:
    if how.startswith("step"):
        k = int(how[4:])
        return df.assign(year=2000 + k * (df["year"] - 2000), g=2000 + k * (df["g"] - 2000))
    if how == "period":
        return df.assign(year=pd.PeriodIndex([str(v) for v in df["year"]], freq="Y"))
    if how == "shuffle_str":
        out = df.sample(frac=1.0, random_state=3)
        return out.assign(firm="f" + out["firm"].astype(str).str.zfill(3))
    if how == "categorical":
        return df.assign(firm=pd.Categorical("c" + df["firm"].astype(str).str.zfill(3)))
    raise AssertionError(how)


WHICH = ["att_gt", "att_gt_rcs", "etwfe", "twfe", "sun_abraham", "imputation", "did2s", "cs"]


@pytest.mark.parametrize("how", ["step2", "step5", "period", "shuffle_str", "categorical"])
@pytest.mark.parametrize("which", WHICH)
def test_relabelled_inputs_give_identical_results(which, how):
    df = panel(1)
    ref = _estimates(df, which)
    other = _relabel(df, how)
    before = other.copy()
    got = _estimates(other, which)
    pd.testing.assert_frame_equal(other, before)  # values and dtypes unchanged
    ok = np.isfinite(ref)
    assert (np.isfinite(got) == ok).all()
    assert_close(got[ok], ref[ok], rtol=RTOL, atol=1e-13)


def _tfp_did(df: pd.DataFrame) -> np.ndarray:
    from helpers import PRODEST_COLUMNS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = impact.tfp_did(
            df, cohort="join_year", **PRODEST_COLUMNS, method="acf", n_boot=2, seed=5,
            event_times=(0, 1, 2),
        )  # fmt: skip
    return np.r_[r.estimate, r.table["estimate"], r.draws.ravel()]


@pytest.mark.parametrize("how", ["step2", "period"])
def test_tfp_did_relabelled_periods_give_identical_results(how):
    """Production-function lags and the DiD both count periods, not years."""
    df, _ = impact.datasets.cluster_panel(n_firms=150, seed=21, scenario="S2", acf_replica=True)
    y0 = int(df["year"].min())
    if how == "step2":
        other = df.assign(
            year=y0 + 2 * (df["year"] - y0), join_year=y0 + 2 * (df["join_year"] - y0)
        )
    else:
        other = df.assign(year=pd.PeriodIndex([str(v) for v in df["year"]], freq="Y"))
    ref, got = _tfp_did(df), _tfp_did(other)
    ok = np.isfinite(ref)
    assert (np.isfinite(got) == ok).all()
    assert_close(got[ok], ref[ok], rtol=RTOL, atol=1e-13)
