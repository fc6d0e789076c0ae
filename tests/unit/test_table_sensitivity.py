"""Table 12 and its figure (HonestDiD sensitivity of the headline effects): every number
traces to one public call; families without an event-study headline are left out."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

import impact
from impact.report.evaluation import SENSITIVITY_MBAR, Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table12_sensitivity import TABLE_MBAR, figure_sensitivity, table_sensitivity


@pytest.fixture(scope="module")
def setup(s4_panel):
    df, truth = s4_panel
    fam = (
        OutcomeFamily("jobs", ("log_emp",), "log", ("cs", "twfe")),
        OutcomeFamily("static only", ("log_va",), "log", ("etwfe_poisson",)),
    )
    spec = Spec(families=fam, production=None, tables=("sensitivity",), figures=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec, truth=truth)
        ev = Evaluation.build(df, spec, truth)
    return df, spec, rep.table("sensitivity"), ev


def test_rows_trace_to_public_calls(setup):
    df, spec, tab, ev = setup
    assert list(tab["outcome"]) == ["log_emp"]  # no event-study headline: no row
    row = tab.set_index("outcome").loc["log_emp"]
    c = spec.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = impact.event_study(
            ev.data, y="log_emp", unit=c.unit, time=c.time, cohort=ev.names.cohort,
            control_pool=ev.names.pool, window=spec.window, estimator="cs",
            covariates=list(spec.covariates), vcov=ev.vcov, seed=spec.seed,
        )  # fmt: skip
    n_post = spec.window[1] + 1
    l_vec = [1.0 / n_post] * n_post
    rm = impact.honest_did(es, method="relative_magnitude", Mbar=list(SENSITIVITY_MBAR),
                           l_vec=l_vec, seed=spec.seed)  # fmt: skip
    sd = impact.honest_did(es, M=0.0, l_vec=l_vec)
    assert abs(row["estimate"] - es.att) <= 1e-10  # table 5's event-study average
    assert row["breakdown_mbar"] == rm.breakdown or (
        np.isnan(row["breakdown_mbar"]) and np.isnan(rm.breakdown)
    )
    robust = rm.table.set_index("Mbar")
    for mbar in TABLE_MBAR:
        assert row[f"mbar_{mbar:g}_lower"] == robust.loc[mbar, "lower"]
        assert row[f"mbar_{mbar:g}_upper"] == robust.loc[mbar, "upper"]
    assert row["m0_lower"] == sd.table["lower"].iloc[1]
    assert row["m0_upper"] == sd.table["upper"].iloc[1]


def test_display_and_figure(setup):
    _, _, _, ev = setup
    t = table_sensitivity(ev)
    assert list(t.display.columns) == ["measure", "log_emp"]
    assert "breakdown Mbar (relative magnitudes)" in set(t.display["measure"])
    assert "No event-study estimator, so no row: static only." in t.note
    figs = figure_sensitivity(ev)
    assert list(figs) == ["sensitivity"]
    plt.close("all")
