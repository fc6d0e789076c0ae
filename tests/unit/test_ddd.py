"""ddd: closed forms without covariates, invariances, the result protocol and bad input."""

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
    EmptySampleError,
    ImpactError,
    InvalidOptionError,
    RepeatedColumnError,
)
from impact.estimators.att_gt import EmptyCellWarning

COLS = dict(y="y", unit="id", time="t", cohort="g", partition="q")


def two_period_panel(n: int = 400, seed: int = 3, weights: bool = False) -> pd.DataFrame:
    """Enabling cohort 2 (S = 1) or never (S = 0), eligibility q, two periods."""
    rng = np.random.default_rng(seed)
    s = rng.random(n) < 0.5
    q = rng.random(n) < 0.4
    a = rng.normal(size=n)
    rows = []
    for t in (1, 2):
        y = a + 0.3 * t * s + 0.5 * t * q + 1.0 * (t == 2) * s * q + rng.normal(size=n)
        rows.append(pd.DataFrame({"id": np.arange(n), "t": t, "y": y,
                                  "g": np.where(s, 2, 0), "q": q.astype(int)}))  # fmt: skip
    df = pd.concat(rows, ignore_index=True)
    if weights:
        df["w"] = np.repeat(rng.uniform(0.5, 2.0, n)[None, :], 2, axis=0).ravel()
    return df


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.ddd(df, **{**COLS, **kw})


def _closed_form(df, w=None):
    """m4 - m3 - m2 + m1 of the weighted mean changes, and sqrt(sum_k sum_i w_i^2
    (dy_i - m_k)^2 / W_k^2)."""
    wide = df.pivot(index="id", columns="t", values="y")
    dy = (wide[2] - wide[1]).to_numpy()
    first = df[df["t"] == 1].set_index("id").loc[wide.index]
    sub = np.where(first["g"] == 2, 3, 1) + first["q"].to_numpy()
    w = np.ones(len(dy)) if w is None else first[w].to_numpy()
    est, var = 0.0, 0.0
    for k, sign in ((4, 1), (3, -1), (2, -1), (1, 1)):
        m = sub == k
        mk = np.sum(w[m] * dy[m]) / w[m].sum()
        est += sign * mk
        var += np.sum(w[m] ** 2 * (dy[m] - mk) ** 2) / w[m].sum() ** 2
    return est, np.sqrt(var)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_two_periods_without_covariates_is_the_difference_of_four_mean_changes(method):
    df = two_period_panel()
    res = _fit(df, method=method)
    row = res.table.query("time == 2").iloc[0]
    est, se = _closed_form(df)
    assert_close([row["estimate"], row["std_error"]], [est, se], rtol=RTOL_CLOSED_FORM)
    assert row["n_treated"] == ((df["t"] == 1) & (df["g"] == 2) & (df["q"] == 1)).sum()
    assert row["n_treated"] + row["n_control"] == df["id"].nunique()


def test_sampling_weights_weight_the_four_mean_changes():
    df = two_period_panel(weights=True)
    row = _fit(df, weights="w").table.query("time == 2").iloc[0]
    est, se = _closed_form(df, w="w")
    assert_close([row["estimate"], row["std_error"]], [est, se], rtol=RTOL_CLOSED_FORM)


def test_three_subgroup_dids_with_covariates_match_att_gt():
    """Each of the three two-group DiDs is att_gt's DR DiD on the two subgroups."""
    df = two_period_panel()
    df["x"] = np.random.default_rng(9).normal(size=len(df) // 2).repeat(1)[df["id"]]
    res = _fit(df, covariates=["x"]).table.query("time == 2")["estimate"].iloc[0]
    parts = []
    for treat_q, ctrl in ((1, "g == 2 and q == 0"), (1, "g == 0 and q == 1"),
                          (1, "g == 0 and q == 0")):  # fmt: skip
        sub = df.query(f"(g == 2 and q == {treat_q}) or ({ctrl})")
        sub = sub.assign(c=np.where((sub["g"] == 2) & (sub["q"] == 1), 2, 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = impact.att_gt(sub, y="y", unit="id", time="t", cohort="c", covariates=["x"])
        parts.append(fit.table.query("time == 2")["estimate"].iloc[0])
    assert_close(res, parts[0] + parts[1] - parts[2], rtol=RTOL_CLOSED_FORM)


def test_bool_partition_row_order_and_the_frame_is_not_modified():
    df = two_period_panel()
    before = df.copy()
    a = _fit(df).table
    assert df.equals(before)
    b = _fit(df.assign(q=df["q"].astype(bool)).sample(frac=1, random_state=1)).table
    assert_close(a["estimate"], b["estimate"], rtol=RTOL_CLOSED_FORM)
    assert_close(a["std_error"].dropna(), b["std_error"].dropna(), rtol=RTOL_CLOSED_FORM)


def test_result_protocol():
    res = _fit(two_period_panel())
    assert res.summary().startswith("Group-time triple differences")
    tidy = res.tidy()
    assert {"term", "estimate", "std_error"} <= set(tidy.columns)
    assert res.model_info().nobs == 400
    assert "comparisons" in res.table
    agg = res.aggregate("dynamic")
    assert np.isfinite(agg.estimate)
    assert "ddd" in str(res.sample_log) or res.sample_log is not None


def test_clusters_sum_influence_functions():
    df = two_period_panel()
    df["c"] = df["id"] % 40
    res = _fit(df, vcov={"cluster": "c"})
    assert res.n_clusters == 40
    unit = _fit(df, vcov={"cluster": "id"}).table["std_error"]
    assert_close(unit.dropna(), _fit(df).table["std_error"].dropna(), rtol=RTOL_CLOSED_FORM)


# ---------------------------------------------------------------------------- bad input


def test_partition_that_does_not_vary_is_refused():
    with pytest.raises(ImpactError, match="does not vary"):
        _fit(two_period_panel().assign(q=1))


def test_partition_that_is_not_zero_one_is_refused():
    df = two_period_panel()
    with pytest.raises(InvalidOptionError, match="0/1"):
        _fit(df.assign(q=np.where(df["q"] == 1, "yes", "no")))
    with pytest.raises(InvalidOptionError, match="0/1"):
        _fit(df.assign(q=df["q"] * 2))


def test_partition_that_varies_within_a_unit_or_is_missing_is_refused():
    df = two_period_panel()
    bad = df.copy()
    bad.loc[(bad["id"] == 0) & (bad["t"] == 2), "q"] = 1 - bad.loc[bad["id"] == 0, "q"].iloc[0]
    with pytest.raises(ImpactError, match="partition"):
        _fit(bad)
    gap = df.astype({"q": float})
    gap.loc[3, "q"] = np.nan
    with pytest.raises(ImpactError, match="missing"):
        _fit(gap)


def test_no_cell_with_all_four_subgroups_is_an_empty_sample():
    df = two_period_panel()
    with pytest.raises(EmptySampleError, match="subgroup"):
        _fit(df[~((df["g"] == 2) & (df["q"] == 0))])


def test_a_cohort_without_ineligible_units_warns_and_its_cells_are_nan():
    df = two_period_panel()
    df = pd.concat([df, df.assign(id=df["id"] + 1000, g=np.where(df["g"] == 2, 3, 0))])
    df = df[df["t"] <= 2]
    extra = df[df["g"] == 3].assign(t=3)
    df = pd.concat([df, extra, df[df["g"] != 3].assign(t=3)]).drop_duplicates(["id", "t"])
    df = df[~((df["g"] == 3) & (df["q"] == 0))]
    with pytest.warns(EmptyCellWarning, match="four subgroups"):
        res = impact.ddd(df, **COLS)
    tab = res.table
    assert (
        tab.loc[tab["cohort"] == 3, "estimate"]
        .drop(tab.index[(tab["cohort"] == 3) & (tab["time"] == tab["base_period"])])
        .isna()
        .all()
    )
    assert tab.loc[tab["cohort"] == 2, "estimate"].notna().all()


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"control": "nyt"}, InvalidOptionError),
        ({"method": "dr_improved"}, InvalidOptionError),
        ({"base_period": "g-1"}, InvalidOptionError),
        ({"covariates_at": "t"}, InvalidOptionError),
        ({"panel": "rcs"}, InvalidOptionError),
        ({"alpha": 1.5}, InvalidOptionError),
        ({"partition": 3}, InvalidOptionError),
        ({"partition": "nope"}, ColumnNotFoundError),
        ({"vcov": "HC1"}, InvalidOptionError),
    ],
)
def test_bad_options_are_typed_errors(kw, err):
    with pytest.raises(err):
        _fit(two_period_panel(), **kw)


def test_non_pandas_input_and_one_cluster():
    df = two_period_panel()
    with pytest.raises(InvalidOptionError, match="pandas"):
        impact.ddd(df.to_dict("list"), **COLS)
    with pytest.raises(ClusterError):
        _fit(df.assign(c=1), vcov={"cluster": "c"})


def test_never_comparison_without_never_enabled_units():
    df = two_period_panel()
    df = df[df["g"] == 2]
    with pytest.raises(ImpactError, match="never"):
        _fit(df)


def staggered_panel(n: int = 600, T: int = 4, seed: int = 0) -> pd.DataFrame:
    """Cohorts 3 and 4 and never-enabled units; the true effect is 1."""
    rng = np.random.default_rng(seed)
    i, t = np.repeat(np.arange(n), T), np.tile(np.arange(1, T + 1), n)
    g = np.array([3.0, 4.0, np.nan])[i % 3]
    z = rng.normal(size=n)[i]
    q = (rng.random(n) < 0.5).astype(int)[i]
    y = rng.normal(size=n * T) + 0.3 * t + ((q == 1) & (t >= g)) * 1.0
    return pd.DataFrame({"id": i, "t": t, "g": g, "q": q, "z": z, "y": y})


def test_covariates_that_separate_the_subgroups_warn():
    from impact.errors import SeparationWarning

    d = staggered_panel()
    d["q"] = (d["z"] > 0).astype(int)
    with pytest.warns(SeparationWarning, match="separate the subgroups"):
        impact.ddd(d, **COLS, covariates=["z"])


def test_outcomes_constant_before_treatment_give_the_common_estimate_in_gmm_cells():
    d = staggered_panel()
    d["y"] = np.where((d["q"] == 1) & (d["t"] >= d["g"]), d["y"], 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.ddd(d, **COLS, control="notyet")
    pre = res.table.query("cohort == 3 and time == 1")
    assert pre["comparisons"].iloc[0] == 2
    assert pre["estimate"].iloc[0] == 0.0


def test_a_comparison_cohort_left_out_is_counted():
    d = staggered_panel()
    d = d[~((d["g"] == 4) & (d["q"] == 0))]  # cohort 4 cannot serve as a comparison
    with pytest.warns(EmptyCellWarning, match="comparison cohorts were left out"):
        impact.ddd(d, **COLS, control="notyet")


def test_object_partition_with_numbers_is_accepted():
    d = staggered_panel()
    a = _fit(d).table["estimate"]
    b = _fit(d.assign(q=d["q"].astype(object))).table["estimate"]
    assert_close(a, b, rtol=RTOL_CLOSED_FORM)


def test_a_covariate_constant_within_cohorts_names_the_comparison():
    from impact.errors import CollinearityError

    d = staggered_panel()
    d["region_x"] = d["g"].fillna(0) * 0.5
    with pytest.raises(CollinearityError, match="constant within cohorts"):
        _fit(d, covariates=["region_x"])


@pytest.mark.parametrize(
    "kw",
    [{"min_cell_units": "2"}, {"min_cell_units": 0}, {"min_cell_units": 1.5},
     {"bootstrap": 2.5}, {"bootstrap": 9, "seed": "a"}],
)  # fmt: skip
def test_counts_and_seeds_are_checked(kw):
    with pytest.raises(InvalidOptionError):
        _fit(staggered_panel(), **kw)


def test_repeated_column_names_are_refused():
    d = staggered_panel()
    with pytest.raises(RepeatedColumnError, match="2 columns named 'q'"):
        _fit(pd.concat([d, d[["q"]]], axis=1))
