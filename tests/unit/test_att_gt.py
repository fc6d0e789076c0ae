"""att_gt: closed forms, clustering, sample rules, bad inputs, recovery on the synthetic panel."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
from impact.datasets import cluster_panel
from impact.errors import DuplicateRowsError, ImpactError, SampleDropWarning
from impact.estimators.att_gt import EmptyCellWarning


def _panel(seed=0, n=300, T=6, drop=0.0):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(2000, 2000 + T), n)
    g = rng.choice([2002.0, 2004.0, np.nan], n)[unit]
    y = rng.normal(size=n)[unit] + 0.1 * (year - 2000) + rng.normal(size=unit.size)
    y = y + np.where(year >= g, 0.5, 0.0)
    df = pd.DataFrame(
        {
            "unit": unit,
            "year": year,
            "g": g,
            "y": y,
            "region": (np.arange(n) % 15)[unit],
            "x": rng.normal(size=n)[unit],
        }
    )
    keep = rng.uniform(size=len(df)) >= drop
    return df[keep].reset_index(drop=True)


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.att_gt(df, y="y", unit="unit", time="year", cohort="g", **kw)


def test_unconditional_cell_is_difference_of_four_means():
    df = _panel()
    res = _fit(df)
    cell = res.table.set_index(["cohort", "time"]).loc[(2004, 2005)]
    w = df.pivot(index="unit", columns="year", values="y")
    g = df.groupby("unit")["g"].first()
    dy = w[2005] - w[2003]
    expected = dy[g == 2004].mean() - dy[g.isna()].mean()
    assert_close(cell["estimate"], expected, rtol=RTOL_CLOSED_FORM)


def test_two_period_se_equals_cluster_robust_first_difference_regression():
    """One cohort, two periods: the IF standard error equals CRV0 of TWFE clustered by unit."""
    df = _panel()
    two = df[df["year"].isin([2003, 2004]) & (df["g"].isna() | (df["g"] == 2004))].copy()
    res = _fit(two)
    two["d"] = ((two["year"] == 2004) & (two["g"] == 2004)).astype(float)
    fe = impact.feols(
        "y ~ d | unit + year", data=two, vcov={"cluster": "unit"}, ssc=impact.SSC.none()
    )
    assert_close(res.table["estimate"].iloc[0], fe.coef["d"], rtol=RTOL_CLOSED_FORM)
    assert_close(res.table["std_error"].iloc[0], fe.se["d"], rtol=RTOL_CLOSED_FORM)


def test_cluster_sums_influence_functions():
    df = _panel()
    unit_level = _fit(df)
    by_unit = _fit(df, vcov={"cluster": "unit"})
    assert_close(
        by_unit.table["std_error"].to_numpy(),
        unit_level.table["std_error"].to_numpy(),
        rtol=RTOL_CLOSED_FORM,
    )
    by_region = _fit(df, vcov={"cluster": "region"})
    assert by_region.n_clusters == 15
    inf = by_region._inf[:, 5]
    s = pd.Series(inf).groupby(by_region._cluster).sum().to_numpy()
    assert_close(
        by_region.table["std_error"].iloc[5], np.sqrt(s @ s) / len(inf), rtol=RTOL_CLOSED_FORM
    )


def test_pairwise_uses_units_seen_at_base_and_t_balanced_drops_units():
    df = _panel(drop=0.15)
    pair = _fit(df)
    bal = _fit(df, panel="balanced")
    assert bal.sample_log.dropped("unbalanced") > 0
    assert (pair.table["n_treated"] >= bal.table["n_treated"]).all()
    assert (pair.table["n_treated"] > bal.table["n_treated"]).any()
    w = df.pivot(index="unit", columns="year", values="y")
    g = df.groupby("unit")["g"].first()
    dy = w[2005] - w[2003]
    ok = dy.notna()
    expected = dy[ok & (g == 2004)].mean() - dy[ok & g.isna()].mean()
    cell = pair.table.set_index(["cohort", "time"]).loc[(2004, 2005)]
    assert_close(cell["estimate"], expected, rtol=RTOL_CLOSED_FORM)
    assert cell["n_treated"] == int((ok & (g == 2004)).sum())


def test_always_treated_are_dropped_and_counted_never_controls():
    df = _panel()
    df.loc[df["unit"] < 10, "g"] = 2000.0
    with pytest.warns(SampleDropWarning, match="always-treated"):
        res = impact.att_gt(df, y="y", unit="unit", time="year", cohort="g")
    rec = next(r for r in res.sample_log.records if r.step == "always_treated")
    assert rec.detail["units"] == 10 and rec.n_rows == 60
    assert 2000 not in set(res.table["cohort"])


def test_control_pool_restricts_controls():
    df = _panel()
    df["pool"] = df["unit"] % 2 == 0
    res = _fit(df, control_pool="pool")
    full = _fit(df)
    assert (res.table["n_control"] < full.table["n_control"]).all()
    assert (res.table["n_treated"] == full.table["n_treated"]).all()
    assert res.sample_log.dropped("control_pool") > 0


def test_empty_cells_are_nan_with_one_warning():
    df = _panel()
    with pytest.warns(EmptyCellWarning, match="cells have fewer than 200"):
        res = impact.att_gt(df, y="y", unit="unit", time="year", cohort="g", min_cell_units=200)
    assert res.table["estimate"].isna().all()


@pytest.mark.parametrize(
    ("mutate", "err", "match"),
    [
        (
            lambda d: d.assign(g=np.where(d["g"].isna(), 2004.0, d["g"])),
            ImpactError,
            "no never-treated",
        ),
        (
            lambda d: d.assign(g=np.where(d["year"] == 2003, 2002.0, d["g"])),
            ImpactError,
            "varies within unit",
        ),
        (lambda d: pd.concat([d, d.iloc[[3]]]), DuplicateRowsError, "more than once"),
        (lambda d: d.assign(g=d["g"].astype(str)), ImpactError, "numeric"),
    ],
    ids=["no-never-treated", "cohort-varies", "duplicates", "string-cohort"],
)
def test_bad_inputs(mutate, err, match):
    with pytest.raises(err, match=match):
        impact.att_gt(mutate(_panel()), y="y", unit="unit", time="year", cohort="g")


def test_zero_cohort_code_collides_with_period():
    df = _panel().assign(year=lambda d: d["year"] - 2000, g=lambda d: (d["g"] - 2000).fillna(0))
    with pytest.raises(ImpactError, match="also an observed period"):
        impact.att_gt(df, y="y", unit="unit", time="year", cohort="g")
    ok = df.assign(year=df["year"] + 1, g=np.where(df["g"] == 0, 0, df["g"] + 1))
    assert len(_fit(ok).table) > 0  # 0 is read as never-treated when it is not a period


def test_cohort_from_membership():
    df = _panel()
    df["member"] = (df["year"] >= df["g"]).astype(int)
    got = impact.cohort_from_membership(df, unit="unit", time="year", member="member")
    assert np.array_equal(got.to_numpy(), df["g"].to_numpy(), equal_nan=True)
    bad = df.copy()
    bad.loc[
        (bad["unit"] == bad.loc[bad["g"] == 2002, "unit"].iloc[0]) & (bad["year"] == 2005), "member"
    ] = 0
    with pytest.raises(impact.design.cohorts.NonAbsorbingTreatmentError, match="leaves treatment"):
        impact.cohort_from_membership(bad, unit="unit", time="year", member="member")


def test_pretrend_test_under_the_null_is_not_rejected_everywhere():
    res = _fit(_panel(seed=3))
    pt = res.pretrend_test()
    assert pt["df"] == int((res.table["time"] < res.table["cohort"]).sum())
    assert 0 <= pt["p_value"] <= 1


def test_recovers_dynamic_effects_on_synthetic_s2():
    """S2 (random selection within cells): CS with out-of-cell controls and a high-tech
    covariate (sector trends differ by high-tech) recovers the true event-time ATTs."""
    df, truth = cluster_panel(n_firms=8000, seed=31, scenario="S2", full_truth=False)
    df = df.assign(out_of_cell=~df["cluster_cell"], ht=df["high_tech"].astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.att_gt(
            df,
            y="log_emp",
            unit="firm_id",
            time="year",
            cohort="join_year",
            control_pool="out_of_cell",
            covariates=["ht"],
        )
    dyn = res.aggregate("dynamic", min_e=0, max_e=5).table.set_index("rel_time")
    true = truth.att_event[truth.att_event["outcome"] == "log_emp"].set_index("event_time")
    for e in range(6):
        est, se = dyn.loc[e, "estimate"], dyn.loc[e, "std_error"]
        assert abs(est - true.loc[e, "att_total_base"]) <= 4 * se, (
            e,
            est,
            true.loc[e, "att_total_base"],
            se,
        )
    assert dyn.loc[5, "std_error"] < 0.05


@pytest.mark.parametrize("method", ["reg", "ipw", "dr", "dr_improved"])
def test_unconditional_fast_path_equals_full_estimators(method):
    """Without covariates every method reduces to the difference of means (closed form)."""
    from impact.estimators.drdid import (
        CellEstimate,
        _did_improved,
        did_covariates_batch,
        did_means,
        did_panel,
    )

    rng = np.random.default_rng(4)
    n = 500
    D = (rng.uniform(size=n) < 0.3).astype(float)
    dy = rng.normal(size=n) + D
    w = rng.uniform(0.5, 2.0, n)
    w = w / w.mean()
    X = np.ones((n, 1))
    fast = did_means(dy, D, w)
    if method == "dr_improved":
        full = _did_improved(dy, D, X, w)
    else:
        att, inf = did_covariates_batch(dy[:, None], D, X, w, method)
        full = CellEstimate(att=float(att[0]), inf=inf[:, 0])
    assert_close(full.att, fast.att, rtol=1e-10)
    assert_close(full.inf, fast.inf, rtol=1e-8, atol=1e-12)
    assert did_panel(dy, D, X, w, method).att == fast.att


def test_cell_pretrend_test_warns_when_cohorts_are_small():
    """R did's cell-level pre-test over-rejects when a cohort has few units for its
    pre-treatment cells (tests/mc/test_pretrend_size.py): it says so; a panel whose
    cohorts have at least 10 units per tested cell does not warn."""
    rng = np.random.default_rng(0)
    sizes = {5: 3, 6: 300}
    g = np.concatenate([np.full(n, float(c)) for c, n in sizes.items()] + [np.full(300, np.nan)])
    unit = np.repeat(np.arange(len(g)), 8)
    df = pd.DataFrame(
        {
            "u": unit,
            "t": np.tile(np.arange(8), len(g)),
            "g": g[unit],
            "y": rng.normal(size=len(unit)),
        }
    )
    res = impact.att_gt(df, y="y", unit="u", time="t", cohort="g")
    with pytest.warns(impact.errors.FewClustersWarning, match="cohort 5 has 3 units for 4"):
        res.pretrend_test()
    big = df[df["g"] != 5]
    with warnings.catch_warnings():
        warnings.simplefilter("error", impact.errors.FewClustersWarning)
        impact.att_gt(big, y="y", unit="u", time="t", cohort="g").pretrend_test()
