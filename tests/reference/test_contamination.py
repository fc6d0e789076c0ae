"""Sun & Abraham (2021) contamination weights of TWFE event-study coefficients: on
noise-free outcomes built from arbitrary cohort-by-event-time effects, every
coefficient of pyfixest's TWFE event study equals its weighted sum of those effects
(Proposition 3); the weights' sums by role; bad input."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import impact
from impact.errors import ImpactError, InvalidOptionError

#: pyfixest and impact solve the same least-squares problems in floating point; noise-free
#: outcomes make the identity exact up to rounding (measured 1e-14).
IDENTITY_TOL = 1e-9
COHORTS = (2003, 2005, 2007, 2009)


def _panel(seed: int, never: bool = True, drop: float = 0.15):
    rng = np.random.default_rng(seed)
    units, T = 240, 12
    firm = np.repeat(np.arange(units), T)
    year = np.tile(np.arange(2000, 2000 + T), units)
    choices = [*COHORTS, np.nan] if never else list(COHORTS)
    cohort = rng.choice(choices, size=units)[firm]
    df = pd.DataFrame({"firm": firm, "year": year, "cohort": cohort})
    df = df.sample(frac=1 - drop, random_state=seed).sort_index()
    effects = {(g, r): rng.normal() for g in COHORTS for r in range(-12, 12)}
    rel = (df["year"] - df["cohort"]).fillna(0).astype(int)
    catt = [0.0 if np.isnan(g) else effects[(g, r)] for g, r in zip(df["cohort"], rel, strict=True)]
    df["y"] = (rng.normal(size=units)[df["firm"]] + rng.normal(size=T)[df["year"] - 2000]
               + np.array(catt))  # fmt: skip
    return df, effects


@pytest.mark.parametrize("seed, never, window", [(1, True, (-4, 4)), (2, False, (-3, 2)),
                                                 (3, True, (-11, 11))])  # fmt: skip
def test_coefficients_are_the_weighted_cell_effects(seed, never, window):
    df, effects = _panel(seed, never)
    res = impact.contamination_weights(df, unit="firm", time="year", cohort="cohort",
                                       window=window, y="y")  # fmt: skip
    w = res.weights
    cell = np.array([effects[(g, r)] for g, r in zip(w["cohort"], w["rel_time"], strict=True)])
    implied = (w["weight"] * cell).groupby(w["coefficient"]).sum()
    rel = df["year"] - df["cohort"]
    df = df.assign(b=np.where(df["cohort"].isna(), -1, np.clip(rel, *window)))
    fit = pf.feols("y ~ i(b, ref=-1) | firm + year", df)
    np.testing.assert_allclose(implied.to_numpy(), fit.coef().to_numpy(), atol=IDENTITY_TOL)
    np.testing.assert_allclose(res.by_coefficient["estimate"], fit.coef(), atol=IDENTITY_TOL)
    s = res.by_coefficient
    np.testing.assert_allclose(s["own"], 1.0, atol=1e-10)
    np.testing.assert_allclose(s["other"], 0.0, atol=1e-10)
    np.testing.assert_allclose(s["reference"], -1.0, atol=1e-10)
    assert (s["other_abs"] > 0).all()  # staggered and unbalanced: contamination exists


def test_homogeneous_effects_are_recovered():
    """Effects that depend on the event time only (zero before treatment): every
    unbinned coefficient is its event time's effect, whatever the weights."""
    df, _ = _panel(4)
    path = {r: (0.1 * (r + 1) if r >= 0 else 0.0) for r in range(-12, 12)}
    rel = (df["year"] - df["cohort"]).fillna(-99).astype(int)
    df["y"] = df["y"] * 0 + df["firm"] * 0.01 + np.array([path.get(r, 0.0) for r in rel])
    res = impact.contamination_weights(df, unit="firm", time="year", cohort="cohort",
                                       window=(-11, 11), y="y")  # fmt: skip
    s = res.by_coefficient.set_index("coefficient")
    for k in (-3, 0, 2, 5):
        assert s.loc[k, "estimate"] == pytest.approx(path[k], abs=IDENTITY_TOL)


def test_protocol_and_plot():
    import matplotlib.pyplot as plt

    df, _ = _panel(5)
    res = impact.contamination_weights(df, unit="firm", time="year", cohort="cohort",
                                       window=(-2, 2))  # fmt: skip
    tidy = res.tidy()
    assert tidy["term"].tolist() == [f"rel_time::{k}" for k in (-2, 0, 1, 2)]
    assert tidy["estimate"].isna().all()  # no outcome: the design's weights only
    assert isinstance(res.plot(), matplotlib.axes.Axes)
    assert isinstance(res.plot(coefficient=-2), matplotlib.axes.Axes)
    plt.close("all")
    with pytest.raises(InvalidOptionError, match="coefficient must be"):
        res.plot(coefficient=7)
    assert "Sun & Abraham" in res.summary()
    assert set(res.weights["role"]) == {"own", "other", "reference"}


def test_bad_input():
    df, _ = _panel(6)
    kw = dict(unit="firm", time="year", cohort="cohort")
    with pytest.raises(InvalidOptionError, match="window"):
        impact.contamination_weights(df, window=(0, 3), **kw)
    with pytest.raises(InvalidOptionError, match="window"):
        impact.contamination_weights(df, window=(-2.5, 3), **kw)
    one = df.assign(cohort=2005.0)
    with pytest.raises(ImpactError, match="no comparison group"):
        impact.contamination_weights(one, **kw)
    with pytest.raises(InvalidOptionError, match="whole numbers"):
        impact.contamination_weights(df, reference=True, **kw)
    # no never-treated units and no binned end: a trend in event time is the period effects
    treated, _ = _panel(7, never=False, drop=0.0)
    with pytest.raises(ImpactError, match="not identified"):
        impact.contamination_weights(treated, window=(-11, 11), **kw)
    late = df.assign(cohort=df["cohort"].where(df["firm"] != 3, 2030.0))
    with pytest.warns(UserWarning, match="contamination_weights"):
        impact.contamination_weights(late, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = df.copy()
        impact.contamination_weights(df, y="y", **kw)
    pd.testing.assert_frame_equal(df, before)  # never modified
