"""The synthetic panel's truth is exact (DGP.md §0) and its tables aggregate the firm-year truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
from impact.datasets import cluster_panel
from impact.datasets.cluster.truth import OUTCOMES
from impact.errors import InvalidOptionError

SMALL = 600  # firms: enough cohorts for every table, fast


@pytest.fixture(scope="module")
def default():
    return cluster_panel(n_firms=SMALL, seed=11)


@pytest.fixture(scope="module")
def s0():
    return cluster_panel(n_firms=SMALL, seed=12, scenario="S0")


def test_same_seed_same_tables():
    a_df, a_tr = cluster_panel(n_firms=300, seed=5)
    b_df, b_tr = cluster_panel(n_firms=300, seed=5)
    pd.testing.assert_frame_equal(a_df, b_df)
    for name in ("firm_year", "att_gt", "att_event", "att_overall", "spillover_event", "hetero"):
        pd.testing.assert_frame_equal(getattr(a_tr, name), getattr(b_tr, name))
    c_df, _ = cluster_panel(n_firms=300, seed=6)
    assert not a_df["log_emp"].equals(c_df["log_emp"])


def test_s0_every_effect_is_exactly_zero(s0):
    _, tr = s0
    for table in (tr.att_gt, tr.att_event, tr.att_overall):
        cols = [c for c in table.columns if c.startswith(("att_", "ratio_"))]
        vals = table[cols].to_numpy(dtype=float)
        assert np.all((vals == 0) | np.isnan(vals))
    assert (tr.spillover_event["effect"] == 0).all()
    fy = tr.firm_year
    for out in OUTCOMES:
        assert fy[f"{out}_DS"].equals(fy[f"{out}_00"])


def test_never_exposed_firms_identical_on_all_paths(default):
    _, tr = default
    fy = tr.firm_year
    out_cell = fy[~fy["cluster_cell"]]
    assert len(out_cell) > 0
    for out in OUTCOMES:
        diff = out_cell[f"{out}_DS"].to_numpy() - out_cell[f"{out}_00"].to_numpy()
        assert np.all(diff == 0), out


def test_observed_frame_is_the_ds_path(default):
    df, tr = default
    fy = tr.firm_year
    assert df["log_emp"].equals(fy["log_emp_DS"])
    assert df["log_va"].equals(fy["log_va_DS"])
    assert np.array_equal(df["rd_performer"].to_numpy(), fy["rd_performer_DS"].to_numpy())


def test_att_gt_equals_firm_year_aggregation(default):
    _, tr = default
    fy = tr.firm_year
    gt = tr.att_gt.set_index(["outcome", "cohort", "year"])
    checked = 0
    for (g, t), _ in gt.loc["log_emp"].groupby(level=[0, 1]):
        firms_base = set(fy.loc[(fy["join_year"] == g) & (fy["year"] == g - 1), "firm_id"])
        cell = fy[(fy["join_year"] == g) & (fy["year"] == t) & fy["firm_id"].isin(firms_base)]
        for out in ("log_emp", "log_tfp"):
            row = gt.loc[(out, g, t)]
            assert row["n"] == len(cell)
            assert_close(
                row["att_direct"],
                (cell[f"{out}_DS"] - cell[f"{out}_0S"]).mean(),
                rtol=RTOL_CLOSED_FORM,
                atol=1e-15,
            )
            assert_close(
                row["att_total"],
                (cell[f"{out}_DS"] - cell[f"{out}_00"]).mean(),
                rtol=RTOL_CLOSED_FORM,
                atol=1e-15,
            )
        checked += 1
    assert checked > 50


def test_event_and_overall_weights(default):
    _, tr = default
    gt = tr.att_gt[tr.att_gt["outcome"] == "log_emp"]
    size = gt[gt["year"] == gt["cohort"] - 1].set_index("cohort")["n"]
    e2 = gt[gt["year"] - gt["cohort"] == 2]
    w = e2["cohort"].map(size)
    expected = float((w * e2["att_total"]).sum() / w.sum())
    ev = tr.att_event.set_index(["outcome", "event_time"]).loc[("log_emp", 2)]
    assert_close(ev["att_total"], expected, rtol=RTOL_CLOSED_FORM)
    post = gt[gt["year"] >= gt["cohort"]]
    wp = post["cohort"].map(size)
    simple = float((wp * post["att_direct"]).sum() / wp.sum())
    ov = tr.att_overall.set_index(["outcome", "aggregation"]).loc[("log_emp", "simple")]
    assert_close(ov["att_direct"], simple, rtol=RTOL_CLOSED_FORM)


def test_spillover_on_employment_at_launch_is_the_structural_shift(default):
    _, tr = default
    sp = tr.spillover_event.set_index(["outcome", "exposure_time"])
    assert_close(sp.loc[("log_emp", 0), "effect"], tr.params.spill_l[0], rtol=1e-12)


def test_s1_constant_tfp_effect_is_exact_in_the_truth():
    _, tr = cluster_panel(n_firms=SMALL, seed=13, scenario="S1")
    post = tr.att_gt[
        (tr.att_gt["outcome"] == "log_tfp") & (tr.att_gt["year"] >= tr.att_gt["cohort"])
    ]
    assert_close(post["att_direct"].to_numpy(), np.full(len(post), 0.05), rtol=1e-12)


def test_s1_two_by_two_did_recovers_the_tfp_effect():
    """Members of the 2008-2012 cohorts vs out-of-cell firms, years g-1 and g, within sector."""
    _, tr = cluster_panel(n_firms=2000, seed=14, scenario="S1")
    fy = tr.firm_year
    rows = []
    for g in (2008, 2010, 2012):
        treated = fy["join_year"] == g
        controls = ~fy["cluster_cell"]
        sub = fy[(treated | controls) & fy["year"].isin([g - 1, g])].copy()
        sub["stack"] = g
        sub["treat_post"] = (treated[sub.index] & (sub["year"] == g)).astype(float)
        rows.append(sub)
    stacked = pd.concat(rows)
    stacked["unit"] = stacked["firm_id"].astype(str) + "-" + stacked["stack"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols(
            "log_tfp_DS ~ treat_post | unit + sector^year^stack",
            data=stacked,
            vcov={"cluster": "firm_id"},
        )
    est, se = fit.coef["treat_post"], fit.se["treat_post"]
    assert abs(est - 0.05) <= 4 * se, (est, se)
    assert se < 0.03  # informative, not a vacuous bound


def test_frame_design_columns(default):
    df, tr = default
    impact.Panel(df, unit="firm_id", time="year")  # one row per firm-year
    members = df[df["join_year"].notna()]
    assert members["cluster_cell"].all()
    assert (members["join_year"] >= members["launch_year"]).all()
    assert set(df["launch_year"].dropna().unique()) <= {2008.0, 2010.0, 2012.0}
    assert set(df["size_class"].cat.categories) == {"small", "medium", "large"}
    assert df.groupby("firm_id")["join_year"].nunique(dropna=False).max() == 1
    assert df["year"].min() == 2004 and df["year"].max() == 2019
    assert df.groupby("firm_id")[["cell", "size_class"]].nunique().max().max() == 1


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"scenario": "S99"}, "unknown scenario"), ({"rhoo": 0.5}, "Did you mean 'rho'")],
)
def test_bad_options(kw, match):
    with pytest.raises(InvalidOptionError, match=match):
        cluster_panel(n_firms=100, **kw)


def test_s5_anticipation_shows_at_event_time_minus_one():
    _, tr5 = cluster_panel(n_firms=SMALL, seed=15, scenario="S5")
    _, tr2 = cluster_panel(n_firms=SMALL, seed=15, scenario="S2")
    ev5 = tr5.att_event.set_index(["outcome", "event_time"])
    ev2 = tr2.att_event.set_index(["outcome", "event_time"])
    assert ev5.loc[("rd_performer", -1), "att_direct"] > 0
    assert ev2.loc[("rd_performer", -1), "att_direct"] == 0


def test_s8_endogenous_exit_changes_survival_only_for_exposed_firms():
    df, tr = cluster_panel(n_firms=SMALL, seed=16, scenario="S8", effect_omega=(0.2,))
    fy = tr.firm_year
    differs = fy["alive_DS"] != fy["alive_00"]
    assert differs.any()
    assert fy.loc[differs, "cluster_cell"].all()
    assert len(df) == int(fy["alive_DS"].sum())
    out_cell = fy[~fy["cluster_cell"]]
    assert out_cell["log_emp_DS"].equals(out_cell["log_emp_00"])


def test_s7_materials_are_a_valid_lp_proxy():
    df, tr = cluster_panel(n_firms=300, seed=17, scenario="S7")
    p = tr.params
    omega = tr.firm_year.loc[tr.firm_year["alive_DS"], "log_tfp_DS"].to_numpy()
    resid = df["log_materials"].to_numpy() - (p.beta_k * df["log_k"].to_numpy() + omega) / (
        1 - p.beta_l
    )
    assert np.ptp(resid) < 1e-9


def test_patent_truth_on_expected_counts(default):
    _, tr = default
    post = tr.att_gt[
        (tr.att_gt["outcome"] == "patent_mu") & (tr.att_gt["year"] - tr.att_gt["cohort"] >= 5)
    ]
    assert (post["ratio_direct"] > 0).all()
    counts = tr.firm_year["patents_DS"]
    assert np.array_equal(counts, np.round(counts)) and (counts >= 0).all()


def test_export_spillover_after_three_years():
    """The export spillover shift starts at exposure time 3: pooled effect then is positive."""
    _, tr = cluster_panel(seed=11)
    sp = tr.spillover_event[tr.spillover_event["outcome"] == "export"]
    late = sp[sp["exposure_time"] >= 3]
    assert (late["effect"] * late["n"]).sum() > 0


def test_reduced_truth_gives_the_same_tables():
    """full_truth=False keeps only cluster-cell firm-years; every aggregate is unchanged."""
    df_a, full = cluster_panel(n_firms=400, seed=18)
    df_b, slim = cluster_panel(n_firms=400, seed=18, full_truth=False)
    pd.testing.assert_frame_equal(df_a, df_b)
    for name in ("att_gt", "att_event", "att_overall", "spillover_event", "hetero"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(slim, name))
    cc = full.firm_year[full.firm_year["cluster_cell"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(cc, slim.firm_year)


def test_negbin_inverse_cdf_equals_scipy():
    from scipy import stats

    from impact.datasets.cluster.outcomes import negbin_quantile

    rng = np.random.default_rng(3)
    u = rng.uniform(size=50_000)
    mu = np.exp(rng.normal(-2.0, 1.5, 50_000))
    size = 1 / 1.5
    expected = stats.nbinom.ppf(u, size, size / (size + mu))
    assert np.array_equal(negbin_quantile(u, mu, 1.5), expected)


def test_materials_measurement_error_only_touches_observed_materials():
    a, _ = cluster_panel(n_firms=300, seed=19, scenario="S2")
    b, _ = cluster_panel(n_firms=300, seed=19, scenario="S2", materials_error=0.5**0.5)
    assert a["log_va"].equals(b["log_va"])
    noise = b["log_materials"] - a["log_materials"]
    within = (a["log_materials"] - a.groupby("firm_id")["log_materials"].transform("mean")).std()
    assert abs(noise.std() / (0.5**0.5 * within) - 1) < 0.05


def test_s10_members_leave_and_the_switch_truth_follows_the_paths(default):
    """S10: members leave at a yearly hazard (never re-join); ``member`` is 1 from the join
    year until the year before leaving; the effect of a leaver stops growing once the
    programme's shifts stop; the default scenario has no leave columns and no leavers."""
    df, truth = cluster_panel(n_firms=SMALL, seed=13, scenario="S10", leave_hazard=0.15)
    assert "leave_year" not in default[0] and "member" not in default[0]
    member = (df["join_year"] <= df["year"]) & ~(df["leave_year"] <= df["year"])
    assert (df["member"] == member.astype(int)).all()
    assert ((df["leave_year"] > df["join_year"]) | df["leave_year"].isna()).all()
    assert df.groupby("firm_id")["leave_year"].first().notna().sum() > 10
    cohort = impact.cohort_from_membership(
        df, unit="firm_id", time="year", member="member", allow_exit=True
    )
    seen = df.groupby("firm_id")["member"].transform("max").to_numpy() == 1  # joined alive
    assert_close(cohort.to_numpy()[seen], df["join_year"].to_numpy()[seen], rtol=0)
    assert cohort[~seen].isna().all()
    sw = impact.datasets.cluster.truth.switch_event(truth.firm_year)
    emp = sw[sw["outcome"] == "log_emp"].set_index("effect")
    assert emp.loc[1, "share_left"] == 0 and emp.loc[6, "share_left"] > 0.3
    assert (emp.loc[3:, "effect_stayers"] > emp.loc[3:, "effect_leavers"]).all()
    fy = truth.firm_year
    s = fy[fy["join_year"].notna() & fy["alive_DS"]]
    at = s[s["year"] == s["join_year"] + 2]
    base = s[s["year"] == s["join_year"] - 1].set_index("firm_id")
    at = at[at["firm_id"].isin(base.index)]
    gap = (at["log_emp_DS"] - at["log_emp_00"]).to_numpy()
    gap0 = (base["log_emp_DS"] - base["log_emp_00"]).reindex(at["firm_id"]).to_numpy()
    assert_close(emp.loc[3, "effect_mean"], float(np.mean(gap - gap0)), rtol=RTOL_CLOSED_FORM)
