"""Table 13 (headline effects adjusted for testing several families): every number traces
to public calls (att_gt's dynamic aggregation, impact.adjust, impact.did_wildboot); the
wild bootstrap-t column appears exactly when the spec's clusters are few."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table13_multiplicity import MULTIPLICITY_DRAWS, table_multiplicity

FAMILIES = (
    OutcomeFamily("jobs", ("log_emp",), "log", ("cs", "twfe")),
    OutcomeFamily("value added", ("log_va",), "log", ("cs",)),
    OutcomeFamily("static only", ("export",), "binary", ("etwfe_poisson",)),
)


def _evaluation(s4_panel, **spec_kw):
    df, truth = s4_panel
    spec = Spec(families=FAMILIES, production=None, tables=("multiplicity",), figures=(),
                **spec_kw)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec, truth=truth)
        ev = Evaluation.build(df, spec, truth)
    return spec, rep.table("multiplicity"), ev


def test_rows_trace_to_public_calls(s4_panel):
    spec, tab, ev = _evaluation(s4_panel)
    assert list(tab["family"]) == ["jobs", "value added"]  # no CS: no row
    c = spec.columns
    tests = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fam, y in (("jobs", "log_emp"), ("value added", "log_va")):
            gt = impact.att_gt(
                ev.data, y=y, unit=c.unit, time=c.time, cohort=ev.names.cohort,
                control_pool=ev.names.pool, covariates=list(spec.covariates), vcov=ev.vcov,
            )  # fmt: skip
            tests[fam] = (gt.aggregate("dynamic", min_e=0, max_e=spec.window[1]), "ATT")
    rw = impact.adjust(tests, B=MULTIPLICITY_DRAWS, seed=spec.seed).table.set_index("test")
    holm = impact.adjust(tests, "holm").table.set_index("test")
    got = tab.set_index("family")
    for fam in tests:
        assert abs(got.loc[fam, "estimate"] - tests[fam][0].estimate) <= 1e-12
        assert got.loc[fam, "p_romano_wolf"] == rw.loc[fam, "p_adjusted"]
        assert got.loc[fam, "p_holm"] == holm.loc[fam, "p_adjusted"]
    assert "p_wild_t" not in tab.columns  # clustered by firm: many clusters
    assert (tab["p_holm"] >= tab["p_value"]).all()


def test_few_clusters_add_the_wild_bootstrap(s4_panel):
    spec, tab, ev = _evaluation(s4_panel, cluster="region")
    assert "p_wild_t" in tab.columns
    assert ((tab["p_wild_t"] > 0) & (tab["p_wild_t"] <= 1)).all()
    t = table_multiplicity(ev)
    assert "wild cluster bootstrap-t" in t.note
    assert "p, wild bootstrap-t" in t.display.columns
    assert np.isfinite(tab["p_romano_wolf"]).all()


@pytest.mark.parametrize("families", [FAMILIES[2:], FAMILIES[:1]])
def test_fewer_than_two_families_say_so(s4_panel, families):
    df, truth = s4_panel
    spec = Spec(families=families, production=None, tables=("multiplicity",), figures=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = table_multiplicity(Evaluation.build(df, spec, truth))
    assert "adjust" in t.note or "no family lists" in t.note.lower()
