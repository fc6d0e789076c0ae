"""did_multiplegt against the authors' published example, their own Python package
(py_did_multiplegt_dyn, a test-only dependency) and moderndid's point estimates.

The published values (favara_imbs: effects=8, placebo=3, clustered by state, normalized,
same switchers) are those printed by the authors' package; its README and moderndid's
documentation show the same numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, RTOL_PEER, assert_close

import impact

#: Half a unit of the last printed digit (7 decimals for estimates and SEs, 6 for p-values).
PRINTED_ATOL = 5e-8
PRINTED_P_ATOL = 5e-7

COLS = dict(y="Dl_vloans_b", unit="county", time="year", treatment="inter_bra")
CONFIG_A = dict(effects=8, placebo=3, cluster="state_n", normalized=True, same_switchers=True)


@pytest.fixture(scope="module")
def favara() -> pd.DataFrame:
    return impact.datasets.load("favara_imbs")


def _fit(df, cols=COLS, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.did_multiplegt(df, **cols, **kw)


def _rows(res, kind: str) -> pd.DataFrame:
    tab = res.table
    sel = tab["effect"] > 0 if kind == "effect" else tab["effect"] < 0
    return tab[sel].assign(l=lambda t: t["effect"].abs()).sort_values("l")


def test_published_favara_example(favara):
    """Effect_1, Effect_8, the average total effect, the placebos and the three joint
    tests as printed by the authors' package."""
    res = _fit(favara, **CONFIG_A)
    eff, pl = _rows(res, "effect"), _rows(res, "placebo")
    assert_close(eff["estimate"].iloc[[0, 7]], [0.0240393, 0.0100838], rtol=0, atol=PRINTED_ATOL)
    assert_close(eff["std_error"].iloc[[0, 7]], [0.0184241, 0.0043093], rtol=0, atol=PRINTED_ATOL)
    assert_close([res.att, res.att_se], [0.0550630, 0.0268082], rtol=0, atol=PRINTED_ATOL)
    assert_close(pl["estimate"], [0.0303785, -0.0217763, -0.0137113], rtol=0, atol=PRINTED_ATOL)
    p = [res.tests[k]["p_value"] for k in ("effects", "placebos", "equal")]
    assert_close(p, [0.096771, 0.533651, 0.073930], rtol=0, atol=PRINTED_P_ATOL)
    assert eff["switchers"].tolist() == [773] * 8
    assert pl["switchers"].tolist() == [764, 497, 358]
    assert (res.att_n, res.att_switchers) == (9861, 6184)


# --------------------------------------------------------------- the authors' package
@pytest.fixture(scope="module")
def _polars_count():
    """py_did_multiplegt_dyn 0.1.9 calls ``pl.count()`` without a column, which polars
    >= 1.0 removed (a row count is meant: ``pl.len()``); restored after the module."""
    import polars as pl

    original = pl.count
    pl.count = lambda *a, **k: pl.len() if not a and not k else original(*a, **k)
    yield
    pl.count = original


def _theirs(df: pd.DataFrame, cols: dict, **kw) -> dict:
    import polars as pl

    dyn = pytest.importorskip("did_multiplegt_dyn")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = dyn.DidMultiplegtDyn(
            pl.from_pandas(df), outcome=cols["y"], group=cols["unit"], time=cols["time"],
            treatment=cols["treatment"], effects_equal=True, **kw,
        )  # fmt: skip
        model.fit()
    return model.result


def switching_panel(seed: int, n_groups: int = 150, n_periods: int = 10) -> pd.DataFrame:
    """Groups with baselines 0, 1, 2 that switch up or down by one or two levels (some move
    again the same way, a few cross back over the baseline), missing outcomes and
    treatments, a few absent rows and 12 clusters."""
    rng = np.random.default_rng(seed)
    out = []
    for g in range(n_groups):
        base = int(rng.choice([0, 1, 2], p=[0.4, 0.35, 0.25]))
        first = int(rng.integers(2, n_periods + 3))
        way = int(rng.choice([1, -1])) if base == 1 else (1 if base == 0 else -1)
        step = 1 if base == 1 else int(rng.choice([1, 2]))
        d = np.full(n_periods, float(base))
        if first <= n_periods:
            d[first - 1 :] = base + way * step
            if rng.random() < 0.2 and first + 2 <= n_periods:
                d[first + 1 :] = base + way * (step + 1)
            if rng.random() < 0.07 and first + 3 <= n_periods:
                d[first + 2 :] = base - way
        trend = rng.normal(size=n_periods).cumsum() * 0.3
        y = trend + 0.5 * (d - base) * np.arange(n_periods) / n_periods
        y = y + rng.normal(size=n_periods) * 0.2
        y[rng.random(n_periods) < 0.03] = np.nan
        d[rng.random(n_periods) < 0.02] = np.nan
        out.append(pd.DataFrame({"gid": g, "year": 2000 + np.arange(n_periods), "y": y,
                                 "d": d, "cl": g % 12}))  # fmt: skip
    df = pd.concat(out, ignore_index=True)
    return df.drop(df.sample(frac=0.01, random_state=seed).index).reset_index(drop=True)


SYNTH = dict(y="y", unit="gid", time="year", treatment="d")
CONFIGS = [
    dict(effects=4, placebo=3),
    dict(effects=4, placebo=3, cluster="cl", normalized=True),
    dict(effects=3, placebo=2, same_switchers=True, same_switchers_pl=True, normalized=True,
         cluster="cl"),
    dict(effects=3, placebo=2, only_never_switchers=True, cluster="cl"),
]  # fmt: skip


def _compare(ours, theirs) -> None:
    r = theirs["did_multiplegt_dyn"]
    for kind, key in (("effect", "Effects"), ("placebo", "Placebos")):
        if key not in r:
            assert _rows(ours, kind).empty
            continue
        mine = _rows(ours, kind)
        ref = r[key]
        assert len(mine) == len(ref)
        for a, b in (("estimate", "Estimate"), ("std_error", "SE"), ("n", "N"),
                     ("switchers", "Switchers"), ("n_weighted", "N.w"),
                     ("switchers_weighted", "Switchers.w")):  # fmt: skip
            assert_close(mine[a].to_numpy(float), ref[b].to_numpy(float), rtol=RTOL_CLOSED_FORM)
    ate = r["ATE"].iloc[0]
    assert_close(
        [ours.att, ours.att_se, ours.att_n, ours.att_switchers],
        [ate["Estimate"], ate["SE"], ate["N"], ate["Switchers"]],
        rtol=RTOL_CLOSED_FORM,
    )
    order = [k for k in ours.vcov.index if k >= 0] + sorted(
        (k for k in ours.vcov.index if k < 0), reverse=True
    )
    V = theirs["coef"]["vcov"].to_numpy(float)
    assert_close(
        ours.vcov.loc[order, order].to_numpy(), V, rtol=0, atol=RTOL_CLOSED_FORM * np.abs(V).max()
    )
    for key, test in (("p_jointeffects", "effects"), ("p_jointplacebo", "placebos"),
                      ("p_equality_effects", "equal")):  # fmt: skip
        p = r.get(key)
        if p is not None and np.isfinite(p) and p > 1e-8:
            assert_close(ours.tests[test]["p_value"], p, rtol=RTOL_PEER)


@pytest.mark.parametrize(
    "kw",
    [
        CONFIG_A,
        dict(effects=3, placebo=2),
        dict(effects=3, placebo=2, only_never_switchers=True),
        dict(effects=3, placebo=2, same_switchers=True, same_switchers_pl=True, cluster="state_n"),
        dict(effects=5, placebo=4, cluster="state_n", normalized=True),
    ],
    ids=["published", "unclustered", "never", "same_pl", "normalized"],
)
@pytest.mark.usefixtures("_polars_count")
def test_favara_equals_the_authors_package(favara, kw):
    _compare(_fit(favara, **kw), _theirs(favara, COLS, **kw))


@pytest.mark.usefixtures("_polars_count")
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kw", CONFIGS, ids=["plain", "normalized", "same", "never"])
def test_switching_panels_equal_the_authors_package(seed, kw):
    """Switchers in and out, three treatment levels, missing values and rows, groups that
    cross back over their baseline, clusters."""
    df = switching_panel(seed)
    _compare(_fit(df, SYNTH, **kw), _theirs(df, SYNTH, **kw))


@pytest.mark.usefixtures("_polars_count")
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("clustered", [False, True])
def test_trends_nonparam_equals_the_authors_package(seed, clustered):
    """Switchers compared within a time-invariant category (three levels)."""
    df = switching_panel(seed).assign(cat=lambda d: d["gid"] % 3)
    kw = dict(effects=3, placebo=2, trends_nonparam=["cat"])
    if clustered:
        kw.update(cluster="cl", normalized=True)
    _compare(_fit(df, SYNTH, **kw), _theirs(df, SYNTH, **kw))
    # small classes: the placebos' availability rule of same_switchers_pl binds
    df = df.assign(cat=lambda d: d["gid"] % 5)
    kw.update(same_switchers=True, same_switchers_pl=True)
    _compare(_fit(df, SYNTH, **kw), _theirs(df, SYNTH, **kw))


@pytest.mark.usefixtures("_polars_count")
def test_weights_equal_the_authors_package():
    df = switching_panel(4)
    df["w"] = 1.0 + (df["gid"] % 5) / 2.0
    kw = dict(effects=3, placebo=2, cluster="cl")
    _compare(_fit(df, SYNTH, weights="w", **kw), _theirs(df, SYNTH, weight="w", **kw))


def test_point_estimates_equal_moderndid(favara):
    """moderndid's did_multiplegt: the same estimates and switcher counts. Its SEs differ
    (it counts a missing cluster as one more cluster in the cohort scaling, leaves groups
    whose first row lacks a cluster out of the cluster sums, and does not cluster the
    average total effect)."""
    import polars as pl
    from moderndid import did_multiplegt as md_did

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = md_did(
            pl.from_pandas(favara), yname="Dl_vloans_b", tname="year", idname="county",
            dname="inter_bra", **CONFIG_A,
        )  # fmt: skip
    ours = _fit(favara, **CONFIG_A)
    eff, pl_ = _rows(ours, "effect"), _rows(ours, "placebo")
    assert_close(eff["estimate"], theirs.effects.estimates, rtol=RTOL_PEER)
    assert_close(eff["switchers"], theirs.effects.n_switchers, rtol=0)
    assert_close(pl_["estimate"], theirs.placebos.estimates, rtol=RTOL_PEER)
    assert_close(pl_["switchers"], theirs.placebos.n_switchers, rtol=0)
    assert_close(ours.att, theirs.ate.estimate, rtol=RTOL_PEER)


def _with_controls(seed: int) -> pd.DataFrame:
    """The switching panel with two time-varying controls that enter the outcome, one of
    them correlated with the treatment, and a few missing control values."""
    df = switching_panel(seed)
    rng = np.random.default_rng(seed + 100)
    df["x1"] = rng.normal(size=len(df)) + 0.3 * df["d"].fillna(0)
    df["x2"] = rng.normal(size=len(df)).cumsum() * 0.1
    df["y"] = df["y"] + 0.5 * df["x1"] - 0.3 * df["x2"]
    df.loc[df.sample(frac=0.01, random_state=seed).index, "x2"] = np.nan
    return df


@pytest.mark.usefixtures("_polars_count")
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kw", CONFIGS[:2], ids=["plain", "normalized"])
def test_controls_point_estimates_equal_the_authors_package(seed, kw):
    """With controls the effects, placebos, counts and the average total effect equal the
    authors' package. Their standard errors do not: the authors' variance adds, for
    every group of a baseline level, ``-theta_d`` to the influence function of
    ``theta_d`` and scales its score by the not-yet-switcher weight of all baseline
    levels over that of the group's own level; ours is the delta method of the
    first-difference regression, calibrated in tests/mc/test_did_multiplegt_controls.py."""
    df = _with_controls(seed)
    ours = _fit(df, SYNTH, controls=["x1", "x2"], **kw)
    r = _theirs(df, SYNTH, controls=["x1", "x2"], **kw)["did_multiplegt_dyn"]
    for kind, key in (("effect", "Effects"), ("placebo", "Placebos")):
        mine, ref = _rows(ours, kind), r[key]
        for a, b in (("estimate", "Estimate"), ("n", "N"), ("switchers", "Switchers")):
            assert_close(mine[a].to_numpy(float), ref[b].to_numpy(float), rtol=RTOL_CLOSED_FORM)
    assert_close(ours.att, r["ATE"].iloc[0]["Estimate"], rtol=RTOL_CLOSED_FORM)
    # the controls matter: the estimates differ from the fit without them
    plain = _fit(df.dropna(subset=["x2"]), SYNTH, **kw)
    assert np.abs(_rows(plain, "effect")["estimate"].to_numpy()
                  - _rows(ours, "effect")["estimate"].to_numpy()).max() > 1e-3  # fmt: skip
