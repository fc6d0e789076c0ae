"""impact.cell_itt: the launch's ITT on cluster-cell firms and its split into members and
non-members — by-hand imputation, the exact identity, bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import (
    ColumnNotFoundError,
    ColumnTypeError,
    ImpactError,
    InvalidOptionError,
    RepeatedColumnError,
)

#: By-hand least squares and the package's first-stage solver agree to rounding.
RTOL_BY_HAND = 1e-9
#: The split identity is exact algebra on the same effects.
ATOL_IDENTITY = 1e-12

COLS = dict(y="y", unit="firm", time="year", cell="cell", launch="launch", member="member")


def _panel(seed: int = 0, n_cells: int = 12, firms: int = 6, T: int = 8) -> pd.DataFrame:
    """Cells 0-3 launch in year 4, 4-5 in year 6, the rest never; in launched cells half
    the firms join at the launch or a year later; effects differ for members."""
    rng = np.random.default_rng(seed)
    n = n_cells * firms
    cell = np.repeat(np.arange(n_cells), firms)
    launch_c = np.where(np.arange(n_cells) < 4, 4.0, np.where(np.arange(n_cells) < 6, 6.0, np.nan))
    launch = launch_c[cell]
    join = np.where(
        ~np.isnan(launch) & (np.arange(n) % 2 == 0), launch + (np.arange(n) % 4 == 0), np.nan
    )
    i, t = np.repeat(np.arange(n), T), np.tile(np.arange(1, T + 1), n)
    member = (join[i] <= t).astype(int)
    exposed = t >= launch[i]
    y = (rng.normal(size=n)[i] + 0.2 * t + rng.normal(scale=0.5, size=i.size)
         + np.where(member == 1, 1.0, 0.0) + np.where(exposed & (member == 0), 0.3, 0.0))  # fmt: skip
    df = pd.DataFrame({"firm": i, "year": t, "cell": cell[i], "launch": launch[i],
                       "member": member, "y": y})  # fmt: skip
    return df.sample(frac=1.0, random_state=1).reset_index(drop=True)  # row order shuffled


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.cell_itt(df, **{**COLS, **kw})


def _by_hand(df: pd.DataFrame) -> dict:
    """Firm + year effects by dense least squares on never-exposed rows, imputed effects,
    then the cell-equal, member-share and non-member-share averages by exposure time."""
    exposed = df["year"] >= df["launch"]
    firms, years = np.sort(df["firm"].unique()), np.sort(df["year"].unique())
    X = np.column_stack([(df["firm"].to_numpy()[:, None] == firms).astype(float),
                         (df["year"].to_numpy()[:, None] == years[1:]).astype(float)])  # fmt: skip
    b = np.linalg.lstsq(X[~exposed], df.loc[~exposed, "y"].to_numpy(), rcond=None)[0]
    d = df[exposed].assign(tau=df.loc[exposed, "y"] - X[exposed.to_numpy()] @ b)
    d["e"] = (d["year"] - d["launch"]).astype(int)
    ct = d.groupby(["cell", "year"]).agg(e=("e", "first"), itt=("tau", "mean"),
                                         s=("member", "mean"))  # fmt: skip
    ct["m"] = d[d["member"] == 1].groupby(["cell", "year"])["tau"].mean()
    ct["n"] = d[d["member"] == 0].groupby(["cell", "year"])["tau"].mean()
    out = {}
    for e, g in ct.groupby("e"):
        out[("itt", e)] = g["itt"].mean()
        out[("members", e)] = (g["s"] * g["m"].fillna(0)).sum() / g["s"].sum()
        out[("non_members", e)] = ((1 - g["s"]) * g["n"].fillna(0)).sum() / (1 - g["s"]).sum()
    return out


def test_estimates_equal_a_by_hand_imputation():
    df = _panel()
    res = _fit(df)
    hand = _by_hand(df)
    for r in res.table[res.table["rel_time"].notna()].itertuples():
        want = hand[(r.component, int(r.rel_time))]
        assert r.estimate == pytest.approx(want, rel=RTOL_BY_HAND, abs=1e-12)


def test_the_itt_is_the_weighted_sum_of_its_parts_at_every_exposure_time():
    res = _fit(_panel(seed=3))
    tab = res.table
    for k, g in tab.groupby(tab["rel_time"].astype("string").fillna("all")):
        g = g.set_index("component")
        split = (g.loc["members", "weight"] * g.loc["members", "estimate"]
                 + g.loc["non_members", "weight"] * g.loc["non_members", "estimate"])  # fmt: skip
        assert abs(g.loc["itt", "estimate"] - split) < ATOL_IDENTITY, k
        assert g.loc["members", "weight"] + g.loc["non_members", "weight"] == pytest.approx(1)
    assert (np.diag(res.vcov) >= 0).all() and np.allclose(res.vcov, res.vcov.T)


def test_weights_reproduce_the_estimates_from_the_effects():
    """``weights`` applied to the imputed effects give the estimates (the truth hook)."""
    df = _panel(seed=2)
    res = _fit(df)
    assert res.weights.shape == (len(res.rows), len(res.table))
    # noiseless effects: members +1, exposed non-members +0.3, on the result's rows
    rows = df.iloc[res.rows]
    tau = np.where(rows["member"] == 1, 1.0, 0.3)
    true = pd.Series(tau @ res.weights, index=res.tidy()["term"])
    assert true["members"] == pytest.approx(1.0) and true["non_members"] == pytest.approx(0.3)
    # the ITT's truth is the member-share mix of the two
    assert true["ATT"] == pytest.approx(
        res.overall.loc["members", "weight"] + 0.3 * res.overall.loc["non_members", "weight"]
    )


def test_protocol_terms_summary_and_equal_split_test():
    res = _fit(_panel(seed=4), max_e=2)
    terms = res.tidy()["term"].tolist()
    assert terms[:4] == ["rel_time::0", "rel_time::1", "rel_time::2", "ATT"]
    assert "members::rel_time::0" in terms and "non_members" in terms
    assert res.model_info().clusters == {"cell": 12}
    assert "non-members" in res.summary()
    w = res.equal_split_test()
    assert 0 <= w.p_value <= 1


def test_frame_untouched_and_row_order_irrelevant():
    df = _panel(seed=5)
    before = df.copy()
    a = _fit(df).table["estimate"].to_numpy()
    assert df.equals(before)
    b = _fit(df.sort_values(["firm", "year"])).table["estimate"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_category_by_year_effects():
    df = _panel(seed=6).assign(sector=lambda d: d["cell"] % 2)
    res = _fit(df, fixed_effects="sector^year")
    assert np.isfinite(res.table["estimate"]).all()


def _mutate(df, how):
    d = df.copy()
    if how == "member_before_launch":
        d.loc[d.index[(d["launch"] == 4) & (d["year"] == 2)][0], "member"] = 1
    elif how == "member_outside":
        d.loc[d.index[d["launch"].isna()][0], "member"] = 1
    elif how == "member_two":
        d.loc[d.index[0], "member"] = 2
    elif how == "member_missing":
        d["member"] = d["member"].astype(float)
        d.loc[d.index[0], "member"] = np.nan
    elif how == "launch_varies":
        d.loc[d.index[d["cell"] == 0][0], "launch"] = 5.0
    elif how == "firm_moves":
        d.loc[d.index[(d["firm"] == 0) & (d["year"] == 3)][0], "cell"] = 7
    elif how == "launch_text":
        d["launch"] = d["launch"].astype(str)
    return d


@pytest.mark.parametrize(
    "how, err, match",
    [("member_before_launch", ImpactError, "not exposed"),
     ("member_outside", ImpactError, "not exposed"),
     ("member_two", ColumnTypeError, "0/1"),
     ("member_missing", ImpactError, "missing"),
     ("launch_varies", ImpactError, "varies within cell"),
     ("firm_moves", ImpactError, "changes cells"),
     ("launch_text", ColumnTypeError, "launch period")],
)  # fmt: skip
def test_bad_inputs_are_typed_errors(how, err, match):
    with pytest.raises(err, match=match):
        _fit(_mutate(_panel(), how))


def test_bad_options():
    df = _panel()
    with pytest.raises(ColumnNotFoundError):
        _fit(df, member="joined")
    with pytest.raises(InvalidOptionError, match="different columns"):
        _fit(df, cell="firm", unit="firm")
    with pytest.raises(RepeatedColumnError):
        _fit(pd.concat([df, df[["member"]]], axis=1))
    with pytest.raises(InvalidOptionError, match="max_e"):
        _fit(df, max_e=-1)
    with pytest.raises(InvalidOptionError, match="alpha"):
        _fit(df, alpha=1.0)


def test_columns_named_like_internal_ones_are_the_users():
    """A user's column called _launch or _member is read as the user's column."""
    df = _panel(seed=7)
    ref = _fit(df).table["estimate"].to_numpy()
    renamed = df.rename(columns={"y": "_member", "cell": "_launch"})
    got = _fit(renamed, y="_member", cell="_launch").table["estimate"].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_one_launched_cell_is_refused_and_few_warn():
    df = _panel(seed=8)
    one = df[(df["launch"].isna()) | (df["cell"] == 0)]
    with pytest.raises(ImpactError, match="only 1 launched cell"):
        _fit(one)
    with pytest.warns(impact.errors.FewClustersWarning, match="launched cells"):
        impact.cell_itt(df, **COLS)


def test_launch_coded_zero_is_never_and_members_there_are_refused():
    df = _panel(seed=9)
    zero = df.assign(launch=df["launch"].fillna(0.0))
    np.testing.assert_allclose(_fit(zero).table["estimate"], _fit(df).table["estimate"])
    bad = zero.copy()
    bad.loc[bad.index[bad["launch"] == 0][0], "member"] = 1
    with pytest.raises(ImpactError, match="not exposed"):
        _fit(bad)
    with pytest.raises(ImpactError, match="also a period"):
        _fit(zero.assign(year=zero["year"] - 1))


def test_equal_split_test_with_a_degenerate_contrast_does_not_crash():
    df = _panel(seed=10).assign(y=1.0)
    res = _fit(df)
    w = res.equal_split_test()
    assert w.df_num == 0 or not np.isfinite(w.p_value) or 0 <= w.p_value <= 1
    assert "ITT" in res.summary() or "not defined" in res.summary()
