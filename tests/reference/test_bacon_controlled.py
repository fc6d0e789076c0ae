"""The controlled Goodman-Bacon decomposition (time-varying covariates, Goodman-Bacon
2021, Section 5): the coefficient is pyfixest's, every pair's 2x2 is rebuilt from
pyfixest's residualised treatment, the weights sum to one and reproduce the coefficient,
and covariates the fixed effects absorb give back the uncontrolled decomposition."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import impact
from impact.errors import (
    CollinearityWarning,
    EmptySampleError,
    InvalidOptionError,
    UnbalancedPanelError,
)

CASTLE = Path(__file__).parent / "data" / "castle.csv"
#: The decomposition is an identity; pyfixest and impact solve the same least squares.
IDENTITY_TOL = 1e-10


def _panel(seed: int, always: bool = True, never: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = 8
    starts = [2, 4, 5] + [0] * always + [T] * never
    n = 60
    start = np.array([starts[i % len(starts)] for i in range(n)])
    u, t = np.repeat(np.arange(n), T), np.tile(np.arange(T), n)
    d = (t >= start[u]).astype(float)
    x1 = rng.normal(size=n * T) + 0.4 * d + 0.1 * t * (u % 3)
    x2 = rng.normal(size=n * T) * (1 + 0.1 * t)
    y = (rng.normal(size=n)[u] + rng.normal(size=T)[t] + 0.3 * x1 - 0.2 * x2
         + rng.normal(0.5, 0.3, n)[u] * d + rng.normal(size=n * T))  # fmt: skip
    return pd.DataFrame({"u": u, "t": 2000 + t, "d": d, "x1": x1, "x2": x2, "y": y})


@pytest.mark.parametrize("seed, always, never", [(1, True, True), (2, False, True),
                                                 (3, True, False)])  # fmt: skip
def test_identity_and_pairs_from_pyfixest(seed, always, never):
    df = _panel(seed, always, never)
    res = impact.bacon(df, y="y", unit="u", time="t", treatment="d", covariates=["x1", "x2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("y ~ d + x1 + x2 | u + t", df)
        resid = pf.feols("d ~ x1 + x2 | u + t", df).resid()
    assert abs(res.twfe - fit.coef()["d"]) <= IDENTITY_TOL
    omega, beta_w, _ = res.within
    assert abs(res.pairs["weight"].sum() + omega - 1) <= IDENTITY_TOL
    by = res.by_type
    assert abs(float(by["weight"] @ by["estimate"]) - res.twfe) <= IDENTITY_TOL
    # every pair's 2x2, rebuilt: group-by-period means of pyfixest's residualised
    # treatment and of y, then a weighted two-group regression with group and period effects
    first = df[df["d"] == 1].groupby("u")["t"].min()
    label = df["u"].map(first).map(lambda v: "never" if np.isnan(v) else str(int(v)))
    label = label.where(label != "2000", "always")
    cells = (df.assign(g=label, dres=resid).groupby(["g", "t"])
             .agg(dbar=("dres", "mean"), ybar=("y", "mean"), n=("u", "size")).reset_index())  # fmt: skip
    for row in res.pairs.itertuples():
        pair = cells[cells["g"].isin([row.treated, row.control])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = pf.feols("ybar ~ dbar | g + t", pair, weights="n").coef()["dbar"]
        assert abs(row.estimate - est) <= 1e-8, (row.treated, row.control)
    # the within part: pyfixest's residual minus its group-by-period mean
    dw = resid - df.assign(g=label, r=resid).groupby(["g", "t"])["r"].transform("mean")
    assert abs(beta_w - float(dw @ df["y"]) / float(dw @ dw)) <= 1e-8
    assert abs(omega - float(dw @ dw) / float(resid @ resid)) <= 1e-10


def test_absorbed_covariates_give_the_uncontrolled_pairs():
    """A covariate the unit and period effects absorb changes nothing: no within part, and
    each pair's pooled 2x2 is the weighted mean of its two uncontrolled timings."""
    df = pd.read_csv(CASTLE)
    df["z"] = df["state"].factorize()[0] * 0.1 + (df["year"] - 2000) ** 2
    plain = impact.bacon(df, y="l_homicide", unit="state", time="year", treatment="post")
    with pytest.warns(CollinearityWarning, match="absorbed"):
        ctrl = impact.bacon(df, y="l_homicide", unit="state", time="year", treatment="post",
                            covariates=["z"])  # fmt: skip
    assert abs(ctrl.twfe - plain.twfe) <= IDENTITY_TOL
    assert abs(ctrl.within[0]) <= IDENTITY_TOL
    p = plain.pairs.assign(dyad=[frozenset(x) for x in zip(plain.pairs["treated"],
                                                          plain.pairs["control"], strict=True)])  # fmt: skip
    w = p.groupby("dyad")["weight"].sum()
    e = (p["weight"] * p["estimate"]).groupby(p["dyad"]).sum() / w
    for row in ctrl.pairs.itertuples():
        key = frozenset((row.treated, row.control))
        assert abs(row.weight - w[key]) <= IDENTITY_TOL
        assert abs(row.estimate - e[key]) <= 1e-9


def test_bad_input():
    df = _panel(4)
    kw = dict(y="y", unit="u", time="t", treatment="d")
    with pytest.raises(InvalidOptionError, match="list of column names"):
        impact.bacon(df, covariates="x1", **kw)
    with pytest.raises(InvalidOptionError, match="outcome, unit, time or treatment"):
        impact.bacon(df, covariates=["d"], **kw)
    with pytest.raises(EmptySampleError, match="linear function of the covariates"):
        impact.bacon(df.assign(x3=df["d"] * 2), covariates=["x3"], **kw)
    gap = df.copy()
    gap.loc[3, "x1"] = np.nan
    with pytest.raises(UnbalancedPanelError):
        impact.bacon(gap, covariates=["x1"], **kw)
    res = impact.bacon(df, covariates=["x1"], **kw)
    assert "within timing groups (covariates)" in res.summary()
    assert res.by_type["type"].iloc[0] == "within timing groups (covariates)"
