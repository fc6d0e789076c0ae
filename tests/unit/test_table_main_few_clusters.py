"""Table 5 with few clusters: a 'wild p' column whose numbers trace to the public calls
(impact.did_wildboot on the CS fit and on the imputation event study, impact.wildboot on
the static TWFE fit), blank for estimators without one; absent with many clusters."""

from __future__ import annotations

import warnings

import numpy as np

import impact
from impact.report.evaluation import Evaluation
from impact.report.few_clusters import WILD_DRAWS
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table5_main import table_main

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
    assert frame.loc["Callaway-Sant'Anna", "p_wild"] == cs.table["p_value"].iloc[0]
    assert frame.loc["imputation (BJS)", "p_wild"] == imp.table["p_value"].iloc[0]
    assert frame.loc["static TWFE", "p_wild"] == tw.p_value
    assert np.isnan(frame.loc["Sun-Abraham", "p_wild"])


def test_no_wild_column_with_many_clusters(s4_panel):
    _, tab = _table(s4_panel)
    assert "p_wild" not in tab.frame.columns and "wild" not in tab.note
