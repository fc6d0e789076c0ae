"""Tables 5 and 6 with few clusters: 'wild p' columns whose numbers trace to the public
calls (impact.did_wildboot on the CS fit and on the imputation and Sun-Abraham event
studies, impact.wildboot on the static TWFE fit); absent with many clusters."""

from __future__ import annotations

import warnings

import numpy as np

import impact
from impact.report.evaluation import Evaluation
from impact.report.few_clusters import WILD_DRAWS
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table5_main import table_main
from impact.report.table6_dynamic import table_dynamic

FAMILIES = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs", "twfe", "imputation",
                                                         "sun_abraham")),)  # fmt: skip


def _table(s4_panel, **spec_kw):
    df, truth = s4_panel
    spec = Spec(families=FAMILIES, production=None, tables=("main",), figures=(), **spec_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = Evaluation.build(df, spec, truth)
        return ev, table_main(ev)


def test_wild_p_traces_to_public_calls(s4_panel):
    ev, tab = _table(s4_panel, cluster="region")
    frame = tab.frame.set_index("estimator")
    assert "wild p" in tab.display.columns and "wild cluster bootstrap" in tab.note
    seed, last = ev.spec.seed, ev.spec.window[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = impact.did_wildboot(ev.att_gt("log_emp"), ev.data, aggregate="dynamic", min_e=0,
                                 max_e=last, B=WILD_DRAWS, seed=seed)  # fmt: skip
        imp = impact.did_wildboot(ev.event_study("log_emp", "imputation"), ev.data,
                                  B=WILD_DRAWS, seed=seed)  # fmt: skip
        tw = impact.wildboot(ev.static_twfe("log_emp"), param=ev.names.member, B=WILD_DRAWS,
                             weights="webb", seed=seed)  # fmt: skip
        sa = impact.did_wildboot(ev.event_study("log_emp", "sun_abraham"), ev.data,
                                 B=WILD_DRAWS, seed=seed)  # fmt: skip
    assert frame.loc["Callaway-Sant'Anna", "p_wild"] == cs.table["p_value"].iloc[0]
    assert frame.loc["imputation (BJS)", "p_wild"] == imp.table["p_value"].iloc[0]
    assert frame.loc["static TWFE", "p_wild"] == tw.p_value
    assert frame.loc["Sun-Abraham", "p_wild"] == sa.table["p_value"].iloc[0]


def test_no_wild_column_with_many_clusters(s4_panel):
    _, tab = _table(s4_panel)
    assert "p_wild" not in tab.frame.columns and "wild" not in tab.note


def test_table6_wild_columns_trace_to_public_calls(s4_panel):
    """Table 6: each event time's wild p and sup-t band are did_wildboot's on the event
    study (CS: on its att_gt fit's dynamic aggregation over the window)."""
    df, truth = s4_panel
    spec = Spec(families=FAMILIES, production=None, tables=("dynamic",), figures=(),
                cluster="region")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = Evaluation.build(df, spec, truth)
        tab = table_dynamic(ev)
        lo, hi = ev.spec.window
        cs = impact.did_wildboot(ev.event_study("log_emp", "cs").fit, ev.data,
                                 aggregate="dynamic", min_e=lo, max_e=hi, B=WILD_DRAWS,
                                 seed=ev.spec.seed)  # fmt: skip
        sa = impact.did_wildboot(ev.event_study("log_emp", "sun_abraham"), ev.data,
                                 B=WILD_DRAWS, seed=ev.spec.seed)  # fmt: skip
    assert "log_emp wild p" in tab.display.columns and "bootstrap-t" in tab.note
    frame = tab.frame
    for label, res in (("Callaway-Sant'Anna", cs), ("Sun-Abraham", sa)):
        mine = frame[frame["estimator"] == label].set_index("rel_time")
        ref = res.table.iloc[1:]
        rel = [int(t.rsplit("::", 1)[1]) for t in ref["term"]]
        np.testing.assert_array_equal(mine.loc[rel, "p_wild"], ref["p_value"])
        np.testing.assert_array_equal(mine.loc[rel, "wild_band_low"], ref["band_low"])
        np.testing.assert_array_equal(mine.loc[rel, "wild_band_high"], ref["band_high"])


def test_no_table6_wild_columns_with_many_clusters(s4_panel):
    df, truth = s4_panel
    spec = Spec(families=FAMILIES, production=None, tables=("dynamic",), figures=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = table_dynamic(Evaluation.build(df, spec, truth))
    assert "p_wild" not in tab.frame.columns and "wild" not in tab.note


def test_table7_wild_p_traces_to_the_joint_bootstrap(s4_panel):
    """Table 7 with 12 region clusters: p_wild of both subgroups and their difference is
    wild_bootstrap_t of the subgroup-difference map on the table's own fits; absent with
    many clusters."""
    from impact.estimators.did_linear import subgroup_difference
    from impact.estimators.did_wildboot import wild_bootstrap_t
    from impact.report.table7_heterogeneity import table_heterogeneity

    df, truth = s4_panel
    fams = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),)
    spec = Spec(families=fams, production=None, tables=("heterogeneity",), figures=(),
                heterogeneity=("founder",), cluster="region")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = Evaluation.build(df, spec, truth)
        tab = table_heterogeneity(ev)
        d, member = ev.data, ev.data[ev.names.cohort].notna().to_numpy()
        fits = (ev.memo(("hetero", "log_emp", "founder", "founder"), None),
                ev.memo(("hetero", "log_emp", "founder", "later joiner"), None))  # fmt: skip
        launch = d["launch_year"].to_numpy(dtype=float)
        founder = d[ev.names.cohort].to_numpy() == launch
        masks = ((member & founder) | ~member, (member & ~founder) | ~member)
        lin = subgroup_difference(fits, masks, d, d.groupby("firm_id")["region"].first())
        ref = wild_bootstrap_t(lin, d, B=WILD_DRAWS, weights="webb", alpha=0.05,
                               seed=ev.spec.seed, residuals="jackknife")  # fmt: skip
    np.testing.assert_array_equal(tab.frame["p_wild"].to_numpy(), ref.table["p_value"])
    assert "p_wild is the wild cluster bootstrap-t" in tab.note
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        many = table_heterogeneity(Evaluation.build(df, spec.replace(cluster="firm_id"), truth))
    assert "p_wild" not in many.frame.columns
