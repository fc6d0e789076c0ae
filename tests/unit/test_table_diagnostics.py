"""Table 11 (what static TWFE averages): every number traces to one public call."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec


@pytest.fixture(scope="module")
def setup(s4_panel):
    df, truth = s4_panel
    fam = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs", "twfe")),)
    spec = Spec(families=fam, production=None, tables=("diagnostics",), figures=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec, truth=truth)
        ev = Evaluation.build(df, spec, truth)
    return df, spec, rep.table("diagnostics"), ev


def test_rows_trace_to_public_calls(setup):
    df, spec, tab, ev = setup
    row = tab.set_index("outcome").loc["log_emp"]
    c = spec.columns
    sample = ev.twfe_sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols(f"log_emp ~ {ev.names.member} | {c.unit} + {c.time}", sample, vcov="iid")
        weights = impact.twfe_weights(
            sample, y="log_emp", unit=c.unit, time=c.time, treatment=ev.names.member
        )
        cs = ev.att_gt("log_emp").aggregate("simple")
    assert abs(row["twfe"] - fit.coef[ev.names.member]) <= 1e-10
    assert row["negative_weights"] == weights.summary_of_weights.n_negative
    assert abs(row["twfe_minus_cs"] - (fit.coef[ev.names.member] - cs.estimate)) <= 1e-10
    # Bacon: on the firms observed in every year, its TWFE is feols on that sample
    ok = np.isfinite(sample["log_emp"].to_numpy())
    n_years = sample.loc[ok, c.time].nunique()
    seen = sample.loc[ok].groupby(c.unit)[c.time].nunique()
    balanced = sample[ok & sample[c.unit].isin(seen.index[seen == n_years]).to_numpy()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fb = impact.feols(f"log_emp ~ {ev.names.member} | {c.unit} + {c.time}", balanced)
    assert row["bacon_firms"] == balanced[c.unit].nunique()
    assert abs(row["bacon_twfe"] - fb.coef[ev.names.member]) <= 1e-10
    weights_sum = sum(row[f"weight: {k}"] for k in (
        "treated vs never treated", "earlier vs later treated", "later vs earlier treated",
        "later vs always treated",
    ))  # fmt: skip
    assert abs(weights_sum - 1) <= 1e-10


def test_display_lists_measures_by_outcome(setup):
    _, _, _, ev = setup
    from impact.report.table11_diagnostics import table_diagnostics

    t = table_diagnostics(ev)
    assert list(t.display.columns) == ["measure", "log_emp"]
    assert "TWFE - CS" in set(t.display["measure"])
