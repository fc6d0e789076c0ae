"""One result protocol (issue 14): every result has tidy(), summary(), plot(), model_info();
etable and maketables take any of them; aggregations use rel_time and honour the
bootstrap weights."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from helpers import PRODEST_COLUMNS

import impact
from impact.results.protocol import TIDY_COLUMNS, ResultProtocol

matplotlib.use("Agg")

KW = dict(y="log_emp", unit="firm_id", time="year", cohort="join_year")

#: Bootstrap SEs with B draws are within this relative distance of the analytic
#: influence-function SE (Monte Carlo error of a standard deviation ~ 1/sqrt(2B) = 2.2%
#: at B = 999; four of those).
BOOT_RTOL = 0.09


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df, _ = impact.datasets.cluster_panel(n_firms=400, seed=21, scenario="S2", acf_replica=True)
    return df.assign(member=df["join_year"].notna() & (df["year"] >= df["join_year"]))


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def results(panel) -> dict[str, ResultProtocol]:
    gt = _quiet(impact.att_gt, panel, **KW)
    et = _quiet(impact.etwfe, panel, **KW, family="linear")
    pf_args = dict(PRODEST_COLUMNS, group_trends="sector", exog_instruments="log_wage")
    out = {
        "feols": _quiet(
            impact.feols, "log_emp ~ member | firm_id + year", panel, vcov={"cluster": "firm_id"}
        ),
        "fepois": _quiet(impact.fepois, "patents ~ member | firm_id + year", panel),
        "att_gt": gt,
        **{f"agg_{k}": gt.aggregate(k) for k in ("simple", "group", "calendar", "dynamic")},
        "event_twfe": _quiet(impact.event_study, panel, **KW, window=(-3, 3)),
        "event_cs": _quiet(impact.event_study, panel, **KW, estimator="cs", window=(-3, 3)),
        "event_imputation": _quiet(
            impact.event_study, panel, **KW, estimator="imputation", window=(-3, 3)
        ),
        "etwfe": et,
        "etwfe_dynamic": et.aggregate("dynamic"),
        "prodest": _quiet(impact.prodest, panel, method="ols", **pf_args),
        "prodest_by": _quiet(
            impact.prodest, panel, method="ols", by="sector", **PRODEST_COLUMNS, min_firms=60
        ),
        "tfp_did": _quiet(
            impact.tfp_did,
            panel,
            cohort="join_year",
            did=dict(method="reg"),
            n_boot=4,
            seed=3,
            **pf_args,
        ),
    }
    return out


NAMES = [
    "feols", "fepois", "att_gt", "agg_simple", "agg_group", "agg_calendar", "agg_dynamic",
    "event_twfe", "event_cs", "event_imputation", "etwfe", "etwfe_dynamic", "prodest",
    "prodest_by", "tfp_did",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_result_speaks_the_protocol(results, name):
    import matplotlib.pyplot as plt

    r = results[name]
    assert isinstance(r, ResultProtocol)
    tidy = r.tidy()
    assert list(tidy.columns[: len(TIDY_COLUMNS)]) == list(TIDY_COLUMNS)
    assert len(tidy) > 0 and tidy["estimate"].notna().any()
    ok = tidy["std_error"] > 0
    z = tidy.loc[ok, "estimate"] / tidy.loc[ok, "std_error"]
    np.testing.assert_allclose(tidy.loc[ok, "statistic"], z, rtol=1e-12)
    info = r.model_info()
    assert info.nobs > 0 and info.vcov_label
    assert isinstance(r.summary(), str) and info.vcov_label in r.summary()
    axes = r.plot()
    first = np.atleast_1d(axes)[0]
    assert isinstance(first, matplotlib.axes.Axes)
    plt.close("all")
    coef = r.__maketables_coef_table__
    assert list(coef.columns[:4]) == ["b", "se", "t", "p"]
    assert r.__maketables_stat__("N") == info.nobs
    assert r.__maketables_depvar__ == info.depvar


def test_prodest_by_group_rows_are_each_groups_own(results):
    """Each estimated group's rows are that group's own tidy() rows; a group too small to
    estimate has NaN rows with its reason; the terms name input and group."""
    by = results["prodest_by"]
    tidy = by.tidy()
    fitted = {k: r for k, r in by.results.items() if r is not None}
    assert fitted and len(fitted) < len(by.results)  # min_firms left a group out
    for level, res in fitted.items():
        rows = tidy[tidy["sector"] == level]
        own = res.tidy()
        np.testing.assert_array_equal(rows["estimate"], own["estimate"])
        np.testing.assert_array_equal(rows["conf_high"], own["conf_high"])
        assert list(rows["term"]) == [f"{x}[sector={level}]" for x in own["term"]]
    missing = tidy[tidy["estimate"].isna()]
    assert len(missing) and (missing["note"] != "").all()
    assert by.model_info().nobs == sum(r.nobs for r in fitted.values())
    assert tidy["term"].is_unique


def test_aggregations_use_rel_time_and_simple_has_its_row(results):
    dyn = results["agg_dynamic"]
    assert "rel_time" in dyn.table.columns and "event_time" not in dyn.table.columns
    ax = impact.plot_event_study(dyn)  # failed with KeyError 'rel_time' before
    assert ax.get_xlabel()
    simple = results["agg_simple"]
    assert len(simple.table) == 1
    assert simple.table["estimate"].iloc[0] == pytest.approx(simple.estimate, rel=1e-15)
    assert simple.table["std_error"].iloc[0] == pytest.approx(simple.std_error, rel=1e-15)
    tidy = simple.tidy()
    assert list(tidy["term"]) == ["ATT"]
    terms = results["agg_dynamic"].tidy()["term"]
    assert terms.iloc[0] == "ATT" and "rel_time::0" in set(terms)


def test_etable_puts_feols_att_gt_and_event_study_side_by_side(results):
    fit, agg, es = results["feols"], results["agg_simple"], results["event_twfe"]
    tab = impact.etable([fit, agg, es])
    assert list(tab.columns) == ["(1)", "(2)", "(3)"]
    assert tab.loc["Dependent variable"].tolist() == ["log_emp"] * 3
    att = tab.loc["ATT"].tolist()
    assert att[0] == "" and att[1].startswith(f"{agg.estimate:.3f}")
    assert att[2].startswith(f"{es.att:.3f}")
    assert tab.loc["member"].tolist()[1:] == ["", ""]
    k0 = es.table.set_index("rel_time").loc[0, "estimate"]
    assert tab.loc["rel_time::0"].tolist()[2].startswith(f"{k0:.3f}")
    assert "Influence functions" in tab.loc["Std. errors"].tolist()[1]
    for fmt in ("markdown", "latex", "html"):
        assert "ATT" in impact.etable([fit, agg, es], format=fmt)


def test_etable_refuses_what_is_not_a_result():
    with pytest.raises(impact.errors.InvalidOptionError, match="impact results"):
        impact.etable([object()])


def test_maketables_takes_feols_and_att_gt_results(results):
    maketables = pytest.importorskip("maketables")
    fit, agg = results["feols"], results["agg_simple"]
    table = maketables.ETable([fit, agg, results["event_twfe"]])
    text = table.df.to_string()
    assert "member" in text and "ATT" in text and "rel_time=0" in text  # its "::" display
    assert f"{agg.estimate:.3f}" in text and f"{fit.coef['member']:.3f}" in text


def test_aggregate_honours_the_bootstrap_weights(panel):
    """Before, aggregate() drew Rademacher weights whatever the fit used (identical SEs)."""
    kw = dict(**KW, bootstrap=999, seed=5)
    rade = _quiet(impact.att_gt, panel, **kw, bootstrap_weights="rademacher")
    mammen = _quiet(impact.att_gt, panel, **kw, bootstrap_weights="mammen")
    plain = _quiet(impact.att_gt, panel, **KW)
    for kind in ("simple", "dynamic"):
        a, b, c = (r.aggregate(kind) for r in (rade, mammen, plain))
        assert a.std_error != b.std_error
        assert a.std_error == pytest.approx(c.std_error, rel=BOOT_RTOL)
        assert b.std_error == pytest.approx(c.std_error, rel=BOOT_RTOL)
    assert "mammen weights" in mammen.summary()
    assert "Multiplier bootstrap (999 draws" in mammen.aggregate("simple").summary()
    assert "Influence functions" in plain.summary()


def test_event_studies_and_etwfe_report_their_clusters_and_fixed_effects(panel):
    kw = dict(**KW, window=(-3, 3), vcov={"cluster": "region"})
    n_regions = panel["region"].nunique()
    fit = _quiet(impact.feols, "log_emp ~ member | firm_id + year", panel, vcov=kw["vcov"])
    for est in ("twfe", "sun_abraham", "did2s"):
        info = _quiet(impact.event_study, panel, **kw, estimator=est).model_info()
        assert info.clusters == {"region": n_regions}, est
        assert {"firm_id", "year"} <= set(info.fixef), est
    es = _quiet(impact.event_study, panel, **kw)
    tab = impact.etable([fit, es])
    assert tab.loc["FE: firm_id"].tolist() == ["Yes", "Yes"]
    assert tab.loc["Clusters"].tolist() == [f"region: {n_regions}"] * 2
    et = _quiet(impact.etwfe, panel, **KW, family="linear", vcov={"cluster": "region"})
    assert et.model_info().clusters == {"region": n_regions}
    assert et.aggregate("group").model_info().clusters == {"region": n_regions}


def test_old_etwfe_aggregate_calls_get_a_typed_hint(results):
    et = results["etwfe"]
    with pytest.raises(impact.errors.InvalidOptionError, match="type="):
        et.aggregate(kind="group")
    with pytest.raises(impact.errors.InvalidOptionError, match=r"\.table"):
        et.aggregate("group")["key"]


def test_bootstrap_with_no_estimable_cell_is_a_typed_error_at_aggregation(panel):
    """Before: ValueError 'zero-size array' inside the multiplier bootstrap."""
    gt = _quiet(impact.att_gt, panel, **KW, bootstrap=49, seed=1, min_cell_units=10_000)
    assert gt.table["estimate"].isna().all()
    with pytest.raises(impact.errors.EmptySampleError):
        gt.aggregate("simple")
