"""Sun-Abraham, imputation (BJS) and Poisson ETWFE against diff-diff's stored outputs
(stored/diff_diff.json, written by make_stored.py), run without diff-diff: on impact's
synthetic panel and simulated counts (always) and on mpdta (moderndid's data loader;
skipped without it), as test_event_study.py and test_etwfe.py do live."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import RTOL_ITERATIVE, RTOL_ITERATIVE_SE, RTOL_PEER, assert_close
from peer_inputs import assert_same_input, etwfe_counts, mpdta, stored_case, synthetic_panel

import impact
from impact.errors import ImpactError

INPUTS = {
    "synthetic|balanced=True": lambda: synthetic_panel(balanced=True),
    "synthetic|balanced=False": lambda: synthetic_panel(balanced=False),
    "synthetic|balanced=False|singletons=False": lambda: synthetic_panel(
        balanced=False, singletons=False
    ),
    "mpdta": mpdta,
}
COLUMNS = {"y": "log_emp", "unit": "firm_id", "time": "year", "cohort": "g"}
MPDTA_COLUMNS = {"y": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


def _input(name):
    try:
        d = INPUTS[name]()
    except ImpactError:
        pytest.skip("mpdta is read through moderndid's data loader, not installed")
    return d, (MPDTA_COLUMNS if name == "mpdta" else COLUMNS)


@pytest.mark.parametrize(
    "name", ["synthetic|balanced=True", "synthetic|balanced=False|singletons=False", "mpdta"]
)
def test_sun_abraham_equals_stored_diff_diff(name):
    ref = stored_case("diff_diff", f"sun_abraham|{name}")
    d, cols = _input(name)
    assert_same_input(d, ref["input"])
    rel = ref["rel_time"].astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.event_study(
            d, **cols, estimator="sun_abraham", window=(int(rel.min()), int(rel.max()))
        )
    tab = res.table[res.table["rel_time"] != -1]
    assert list(tab["rel_time"]) == list(rel)
    assert_close(tab["estimate"].to_numpy(), ref["effect"], rtol=RTOL_PEER, atol=1e-12)
    assert_close(tab["std_error"].to_numpy(), ref["se"], rtol=RTOL_PEER)


@pytest.mark.parametrize("name", list(INPUTS))
def test_imputation_equals_stored_diff_diff(name):
    """Borusyak-Jaravel-Spiess: horizon effects, Theorem 3 SEs and the overall ATT."""
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    ref = stored_case("diff_diff", f"imputation|{name}")
    d, cols = _input(name)
    assert_same_input(d, ref["input"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = imputation_fit(d, FirstStageSpec(**cols))
    post = ref["rel_time"] >= 0
    assert list(fit.horizons) == [int(k) for k in ref["rel_time"][post]]
    assert_close(fit.estimate, ref["effect"][post], rtol=RTOL_PEER, atol=1e-12)
    assert_close(np.sqrt(np.diag(fit.vcov)), ref["se"][post], rtol=RTOL_PEER)
    assert_close(fit.overall, ref["overall_att"], rtol=RTOL_PEER)
    assert_close(fit.overall_se, ref["overall_se"], rtol=RTOL_PEER)


@pytest.mark.parametrize("seed", [1, 2])
def test_poisson_etwfe_equals_stored_diff_diff(seed):
    ref = stored_case("diff_diff", f"etwfe_poisson|{seed}")
    df = etwfe_counts(seed)
    assert_same_input(df, ref["input"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.etwfe(df, y="y", unit="unit", time="year", cohort="g")
    cells = res.cells.set_index(["cohort", "period"])
    keys = list(zip(ref["cells_cohort"].astype(int), ref["cells_period"].astype(int), strict=True))
    assert len(cells) == len(keys)
    rows = cells.loc[keys]
    assert_close(rows["estimate"].to_numpy(), ref["cells_att"], rtol=RTOL_ITERATIVE, atol=1e-10)
    assert_close(rows["std_error"].to_numpy(), ref["cells_se"], rtol=RTOL_ITERATIVE_SE)
    simple = res.aggregate("simple").table.iloc[0]
    assert_close(simple["estimate"], ref["simple_att"], rtol=RTOL_ITERATIVE)
    assert_close(simple["std_error"], ref["simple_se"], rtol=RTOL_ITERATIVE_SE)
    for theirs, ours in (("group", "group"), ("calendar", "calendar"), ("event_study", "dynamic")):
        tab = res.aggregate(ours).table.set_index("key")
        key = ref[f"{theirs}_key"].astype(int)
        assert_close(tab.loc[key, "estimate"].to_numpy(), ref[f"{theirs}_att"], rtol=RTOL_ITERATIVE)
        assert_close(
            tab.loc[key, "std_error"].to_numpy(), ref[f"{theirs}_se"], rtol=RTOL_ITERATIVE_SE
        )
