"""Goodman-Bacon decomposition: bacondecomp's published castle-doctrine numbers, the
identity with TWFE on random balanced panels (against dummy-variable OLS), bad input."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import impact
from impact.design.cohorts import NonAbsorbingTreatmentError
from impact.errors import ColumnTypeError, EmptySampleError, UnbalancedPanelError

CASTLE = Path(__file__).parent / "data" / "castle.csv"

#: bacondecomp's README prints the TWFE coefficient with 7 decimals, weights and
#: estimates with 5: agreement to half a unit of the last printed digit.
TWFE_PRINTED = 0.5e-7
SHARE_PRINTED = 0.5e-5
#: The decomposition is an identity: weights sum to 1 and reproduce TWFE up to rounding.
IDENTITY_TOL = 1e-10


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    return pd.read_csv(CASTLE)


def test_castle_doctrine_reproduces_bacondecomp(castle):
    """Timing from `post` (treatment_date says 2005 for Alaska and Arizona, whose laws took
    effect in 2006, as `post` and `cdl` show)."""
    res = impact.bacon(castle, y="l_homicide", unit="state", time="year", treatment="post")
    assert abs(res.twfe - 0.0818116) <= TWFE_PRINTED
    by = res.by_type.set_index("type")
    published = {
        "treated vs never treated": (0.90834, 0.08796),
        "earlier vs later treated": (0.05976, -0.00554),
        "later vs earlier treated": (0.03190, 0.07032),
    }
    assert set(by.index) == set(published)
    for kind, (weight, estimate) in published.items():
        assert abs(by.loc[kind, "weight"] - weight) <= SHARE_PRINTED, kind
        assert abs(by.loc[kind, "estimate"] - estimate) <= SHARE_PRINTED, kind
    fit = impact.feols("l_homicide ~ post | state + year", castle)
    assert abs(res.twfe - fit.coef["post"]) <= IDENTITY_TOL
    assert abs(res.pairs["weight"].sum() - 1) <= IDENTITY_TOL
    assert set(res.pairs["treated"]) == {"2005", "2006", "2007", "2008", "2009"}


def _random_panel(rng: np.random.Generator, always: bool, never: bool) -> pd.DataFrame:
    n_periods = int(rng.integers(4, 9))
    starts = list(rng.choice(np.arange(1, n_periods), size=int(rng.integers(1, 4)), replace=False))
    starts += [0] * always + [n_periods] * never
    unit_start = np.array([starts[i % len(starts)] for i in range(int(rng.integers(12, 40)))])
    n_units = len(unit_start)
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(n_periods), n_units)
    d = (t >= unit_start[u]).astype(float)
    effect = rng.normal(0.5, 0.4, n_units)[u] * (1 + 0.3 * (t - unit_start[u])) * d
    y = (
        rng.normal(size=n_units)[u]
        + rng.normal(size=n_periods)[t]
        + effect
        + rng.normal(size=len(u))
    )
    return pd.DataFrame({"u": u, "t": 2000 + t, "d": d, "y": y})


def _dummy_ols(df: pd.DataFrame) -> float:
    """TWFE by least squares on explicit unit and period dummies (independent of impact)."""
    X = np.column_stack(
        [
            df["d"],
            pd.get_dummies(df["u"], dtype=float),
            pd.get_dummies(df["t"], drop_first=True, dtype=float),
        ]
    )
    return float(np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[0][0])


@pytest.mark.parametrize("seed", range(12))
def test_weights_sum_to_one_and_reproduce_twfe(seed):
    rng = np.random.default_rng(seed)
    df = _random_panel(rng, always=seed % 3 == 0, never=seed % 4 != 1)
    res = impact.bacon(df, y="y", unit="u", time="t", treatment="d")
    assert abs(res.pairs["weight"].sum() - 1) <= IDENTITY_TOL
    assert (res.pairs["weight"] > 0).all()
    ols = _dummy_ols(df)
    assert abs(res.twfe - ols) <= IDENTITY_TOL
    assert abs(float(res.pairs["weight"] @ res.pairs["estimate"]) - ols) <= IDENTITY_TOL
    if seed % 3 == 0:
        assert "later vs always treated" in set(res.pairs["type"])
    if seed % 4 == 1:
        assert "treated vs never treated" not in set(res.pairs["type"])


def test_a_two_by_two_is_plain_did():
    """One treated group and never-treated units: one comparison, weight 1, the DiD of means."""
    rng = np.random.default_rng(7)
    df = _random_panel(rng, always=False, never=True)
    df = df[df["d"].groupby(df["u"]).transform("max").eq(0) | df["u"].isin([1])]
    g = df.groupby("u")["d"].transform("max").eq(1)
    post = df["d"].groupby(df["t"]).transform("max").eq(1)
    means = df.groupby([g, post])["y"].mean()
    did = (means[True, True] - means[True, False]) - (means[False, True] - means[False, False])
    res = impact.bacon(df, y="y", unit="u", time="t", treatment="d")
    assert len(res.pairs) == 1 and abs(res.pairs["weight"].iloc[0] - 1) <= IDENTITY_TOL
    assert abs(res.pairs["estimate"].iloc[0] - did) <= IDENTITY_TOL


def test_bad_input_gets_typed_errors(castle):
    kw = dict(y="l_homicide", unit="state", time="year", treatment="post")
    with pytest.raises(UnbalancedPanelError, match="balanced panel.*att_gt"):
        impact.bacon(castle.iloc[1:], **kw)
    gap = castle.copy()
    gap.loc[5, "l_homicide"] = np.nan
    with pytest.raises(UnbalancedPanelError, match="1 of 50 units"):
        impact.bacon(gap, **kw)
    exits = castle.copy()
    # the last state joins in 2009 and leaves in 2010
    exits.loc[(exits["state"] == exits["state"].iloc[-1]), "post"] = [0.0] * 9 + [1.0, 0.0]
    with pytest.raises(NonAbsorbingTreatmentError):
        impact.bacon(exits, **kw)
    with pytest.raises(ColumnTypeError):
        impact.bacon(castle.assign(post=castle["post"] * 2), **kw)
    with pytest.raises(EmptySampleError, match="no unit changes"):
        impact.bacon(castle.assign(post=0.0), **kw)
    before = castle.copy()
    impact.bacon(castle, **kw)
    pd.testing.assert_frame_equal(castle, before)


def test_result_protocol(castle):
    import matplotlib.pyplot as plt

    res = impact.bacon(castle, y="l_homicide", unit="state", time="year", treatment="post")
    tidy = res.tidy()
    assert list(tidy["term"][:2]) == ["post", "treated vs never treated"]
    assert tidy["weight"].iloc[0] == 1.0
    assert isinstance(res.plot(), matplotlib.axes.Axes)
    plt.close("all")
    assert "0.0818116" in res.summary()
    table = impact.etable([res], format="dataframe")
    assert "post" in table.index


def test_review_cases(castle):
    """A hostile review's cases: collinear designs, datetime labels, 0/1 stored as objects
    or categories, the message for a treatment that switches off."""
    kw = dict(y="l_homicide", unit="state", time="year", treatment="post")
    one_group = pd.DataFrame(
        {"u": np.repeat([1, 2, 3], 6), "t": np.tile(np.arange(6), 3), "y": np.arange(18.0) % 5}
    ).assign(d=lambda f: (f["t"] >= 2).astype(float))
    with pytest.raises(EmptySampleError, match="collinear"):
        impact.bacon(one_group, y="y", unit="u", time="t", treatment="d")
    base = impact.bacon(castle, **kw)
    for kind in ("datetime64[ns]", "datetime64[s]"):
        dated = castle.assign(
            year=pd.to_datetime(castle["year"].astype(str) + "-01-01").astype(kind)
        )
        res = impact.bacon(dated, **kw)
        assert set(res.pairs["treated"]) == {f"{y}-01-01" for y in range(2005, 2010)}
        assert abs(res.twfe - base.twfe) <= IDENTITY_TOL
    as_float = impact.bacon(castle.assign(year=castle["year"].astype(float)), **kw)
    assert set(as_float.pairs["treated"]) == set(base.pairs["treated"])
    for kind in (object, "category"):
        res = impact.bacon(castle.assign(post=castle["post"].astype(int).astype(kind)), **kw)
        assert abs(res.twfe - base.twfe) <= IDENTITY_TOL
    exits = castle.copy()
    exits.loc[exits["state"] == "Wyoming", "post"] = [0.0] * 9 + [1.0, 0.0]
    with pytest.raises(
        NonAbsorbingTreatmentError, match=r"'Wyoming'.*2009: 1, 2010: 0.*twfe_weights"
    ):
        impact.bacon(exits, **kw)
