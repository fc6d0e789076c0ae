"""impact against pyfixest's stored outputs (stored/pyfixest_*.json, written by
make_stored.py with the peer's version): the comparisons of test_pyfixest.py, test_fepois.py,
test_saturated.py and the TWFE and did2s parts of test_event_study.py, run without pyfixest.
Every input is built from code here, except mpdta (moderndid's data loader; skipped without it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import (
    RTOL_CLOSED_FORM,
    RTOL_ITERATIVE,
    RTOL_ITERATIVE_SE,
    RTOL_PEER,
    assert_close,
    random_panel,
)
from peer_inputs import (
    FEOLS_FES,
    FEOLS_SEEDS,
    FEOLS_VCOVS,
    FEOLS_WEIGHTS,
    FEPOIS_FES,
    FEPOIS_SEEDS,
    FEPOIS_VCOVS,
    assert_same_input,
    binned_rel_time,
    count_panel,
    did2s_panel,
    event_dummy_panel,
    feols_panel,
    mpdta,
    ours_saturated,
    ours_vcov,
    staggered_panel,
    stored_case,
    synthetic_panel,
)

import impact
from impact.errors import ImpactError

#: pyfixest's did2s recovers its first-stage fixed effects with fit.fixef() at its default
#: tolerance (did2s does not pass fixef_tol on): on did2s_panel(1) its estimates sit
#: ~1e-8 from the exact dummy-variable solution (checked below at RTOL_CLOSED_FORM), so
#: coefficients near zero need an absolute floor (as ATOL_PYFIXEST_DID2S in the live test).
ATOL_PYFIXEST_DID2S = 1e-7


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- feols


@pytest.mark.parametrize("seed", FEOLS_SEEDS)
@pytest.mark.parametrize("fe", FEOLS_FES)
@pytest.mark.parametrize("vcov", list(FEOLS_VCOVS))
@pytest.mark.parametrize("weights", FEOLS_WEIGHTS)
def test_feols_equals_stored_pyfixest(seed, fe, vcov, weights):
    ref = stored_case("pyfixest_feols", f"{seed}|{fe}|{vcov}|{weights}")
    df = feols_panel(seed)
    assert_same_input(df, ref["input"])
    fit = _quiet(
        impact.feols,
        f"y ~ x1 + x2 | {fe}",
        data=df,
        vcov=ours_vcov(FEOLS_VCOVS[vcov]),
        weights=weights,
    )
    assert list(fit.coef.index) == ref["names"]
    assert fit.nobs == ref["nobs"]
    assert fit.df_t == ref["df_t"]
    assert_close(fit.coef.to_numpy(), ref["coef"], rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref["se"], rtol=RTOL_PEER)
    assert_close(fit.pvalue.to_numpy(), ref["pvalue"], rtol=RTOL_PEER, atol=1e-12)


def test_event_study_dummies_equal_stored_pyfixest_i():
    ref = stored_case("pyfixest_feols", "event_dummies")
    df = event_dummy_panel()
    assert_same_input(df, ref["input"])
    fit = _quiet(
        impact.feols, "y ~ x1 + i(rel, ref=-1) | unit + year", data=df, vcov={"cluster": "unit"}
    )
    assert list(fit.coef.index) == ["x1"] + [f"rel::{v}" for v in (-3, -2, 0, 1, 2, 3)]
    assert len(ref["names"]) == len(fit.coef)
    assert_close(fit.coef.to_numpy(), ref["coef"], rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref["se"], rtol=RTOL_PEER)


@pytest.mark.parametrize(("seed", "fe"), [(6, ""), (7, " | unit + year")])
def test_crv3_equals_stored_pyfixest(seed, fe):
    ref = stored_case("pyfixest_feols", f"crv3|{seed}{fe}")
    df = random_panel(seed)
    assert_same_input(df, ref["input"])
    fit = _quiet(impact.feols, f"y ~ x1 + x2{fe}", data=df, vcov={"CRV3": "region"})
    assert list(fit.coef.index) == ref["names"]
    assert_close(fit.coef.to_numpy(), ref["coef"], rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref["se"], rtol=RTOL_PEER)


# ---------------------------------------------------------------- fepois


@pytest.mark.parametrize("seed", FEPOIS_SEEDS)
@pytest.mark.parametrize("fe", FEPOIS_FES)
@pytest.mark.parametrize("vcov", list(FEPOIS_VCOVS))
@pytest.mark.parametrize("weights", FEOLS_WEIGHTS)
def test_fepois_equals_stored_pyfixest(seed, fe, vcov, weights):
    ref = stored_case("pyfixest_fepois", f"{seed}|{fe}|{vcov}|{weights}")
    df = count_panel(seed)
    assert_same_input(df, ref["input"])
    fit = _quiet(
        impact.fepois, f"cnt ~ x1 + x2 | {fe}", df, vcov=FEPOIS_VCOVS[vcov], weights=weights
    )
    assert fit.nobs == ref["nobs"]
    assert_close(fit.coef.to_numpy(), ref["coef"], rtol=RTOL_ITERATIVE)
    assert_close(fit.se.to_numpy(), ref["se"], rtol=RTOL_ITERATIVE_SE)
    assert_close(fit.deviance, ref["deviance"], rtol=RTOL_ITERATIVE)


def test_fepois_offset_equals_stored_pyfixest():
    ref = stored_case("pyfixest_fepois", "offset")
    df = count_panel(3)
    assert_same_input(df, ref["input"])
    fit = _quiet(
        impact.fepois,
        "cnt ~ x1 + x2 | unit + year",
        df,
        offset="log_expo",
        vcov={"cluster": "unit"},
    )
    assert_close(fit.coef.to_numpy(), ref["coef"], rtol=RTOL_ITERATIVE)
    assert_close(fit.se.to_numpy(), ref["se"], rtol=RTOL_ITERATIVE_SE)


# ---------------------------------------------------------------- saturated / event studies


def _aligned_cells(ref, seed, cluster):
    """Our saturated fit, ordered as pyfixest's cells: (ours, index into ours)."""
    df = staggered_panel(seed)
    assert_same_input(df, ref["input"])
    cells, fit = _quiet(ours_saturated, df, cluster)
    ref_cells = ref["cells"].astype(np.int64)
    assert sorted(cells) == sorted(ref_cells)
    pos = {c: i for i, c in enumerate(cells)}
    return fit, np.array([pos[c] for c in ref_cells]), df


def _upper_to_full(upper: np.ndarray, k: int) -> np.ndarray:
    V = np.zeros((k, k))
    V[np.triu_indices(k)] = upper
    return V + np.triu(V, 1).T


@pytest.mark.parametrize(
    ("seed", "cluster"),
    [(0, "unit"), (0, "region"), (1, "unit"), (1, "region"), (2, "unit"), (2, "region")],
)
def test_saturated_fit_equals_stored_pyfixest_dummies(seed, cluster):
    ref = stored_case("pyfixest_event_study", f"saturated|{seed}|{cluster}")
    fit, ix, _ = _aligned_cells(ref, seed, cluster)
    assert fit.n_obs == ref["nobs"]
    assert_close(fit.estimate[ix], ref["coef"], rtol=RTOL_PEER, atol=1e-10)
    assert_close(np.sqrt(np.diag(fit.vcov))[ix], ref["se"], rtol=RTOL_PEER)
    if "vcov_upper" in ref:
        V = _upper_to_full(ref["vcov_upper"], len(ix))
        assert_close(fit.vcov[np.ix_(ix, ix)], V, rtol=RTOL_PEER, atol=1e-12)


def test_event_study_sun_abraham_aggregates_the_stored_cells_with_unit_shares():
    """event_study's Sun-Abraham = cohort-share weighted averages of pyfixest's cells."""
    ref = stored_case("pyfixest_event_study", "saturated|5|unit")
    _, _, df = _aligned_cells(ref, 5, "unit")
    cells = ref["cells"].astype(np.int64)
    V = _upper_to_full(ref["vcov_upper"], len(cells))
    res = _quiet(
        impact.event_study,
        df,
        y="y",
        unit="unit",
        time="year",
        cohort="g",
        estimator="sun_abraham",
        window=(-8, 8),
    )
    unit = pd.factorize(df["unit"])[0]
    keep = impact.estimators.saturated.drop_two_way_singletons(unit, (df["year"] - 2000).to_numpy())
    d = df[keep]
    g, yr = cells // 10_000, cells % 10_000
    n = np.array([((d["g"] == a) & (d["year"] == b)).sum() for a, b in zip(g, yr, strict=True)])
    rel = yr - g
    tab = res.table.set_index("rel_time")
    for r in np.unique(rel):
        w = np.where(rel == r, n, 0) / n[rel == r].sum()
        assert_close(tab.loc[r, "estimate"], w @ ref["coef"], rtol=RTOL_PEER, atol=1e-10)
        assert_close(tab.loc[r, "std_error"], np.sqrt(w @ V @ w), rtol=RTOL_PEER)
    assert res.n_obs == len(d)


def _compare_twfe(res, ref):
    tab = res.table[res.table["rel_time"] != -1]
    names = {n: i for i, n in enumerate(ref["names"])}
    ix = [
        names[f"rel::{float(r)}"] if f"rel::{float(r)}" in names else names[f"rel::{r}"]
        for r in tab["rel_time"]
    ]
    assert sorted(ix) == list(range(len(names)))
    assert_close(tab["estimate"].to_numpy(), ref["coef"][ix], rtol=RTOL_PEER, atol=1e-12)
    assert_close(tab["std_error"].to_numpy(), ref["se"][ix], rtol=RTOL_PEER)
    assert res.n_obs == ref["nobs"]


@pytest.mark.parametrize("cluster", ["unit", "region"])
def test_twfe_event_study_from_cells_equals_stored_pyfixest(cluster):
    ref = stored_case("pyfixest_event_study", f"twfe_cells|4|{cluster}")
    df = staggered_panel(4)
    res = _quiet(
        impact.event_study,
        df,
        y="y",
        unit="unit",
        time="year",
        cohort="g",
        window=(-3, 3),
        vcov={"cluster": cluster},
    )
    assert_same_input(binned_rel_time(df, "g", None), ref["input"])
    _compare_twfe(res, ref)


@pytest.mark.parametrize("balanced", [True, False])
def test_twfe_event_study_on_the_synthetic_panel_equals_stored_pyfixest(balanced):
    ref = stored_case("pyfixest_event_study", f"twfe|synthetic|balanced={balanced}")
    d = synthetic_panel(balanced=balanced)
    assert_same_input(binned_rel_time(d, "g", 0.0), ref["input"])
    res = _quiet(
        impact.event_study,
        d,
        y="log_emp",
        unit="firm_id",
        time="year",
        cohort="g",
        window=(-3, 3),
        vcov={"cluster": "firm_id"},
    )
    _compare_twfe(res, ref)


def test_twfe_event_study_on_mpdta_equals_stored_pyfixest():
    ref = stored_case("pyfixest_event_study", "twfe|mpdta")
    try:
        mp = mpdta()
    except ImpactError:
        pytest.skip("mpdta is read through moderndid's data loader, not installed")
    assert_same_input(binned_rel_time(mp, "first.treat", 0.0), ref["input"])
    res = _quiet(
        impact.event_study,
        mp,
        y="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        window=(-3, 3),
    )
    _compare_twfe(res, ref)


@pytest.mark.parametrize("cluster", ["unit", "state"])
def test_did2s_equals_stored_pyfixest_and_the_exact_two_stage_solution(cluster):
    from impact.estimators.did2s import did2s_fit
    from impact.estimators.imputation import FirstStageSpec

    ref = stored_case("pyfixest_event_study", f"did2s|1|{cluster}")
    df = did2s_panel(1)
    assert_same_input(df, ref["input"])
    fit = did2s_fit(
        df.assign(g2=df["g"].replace(0, np.nan)),
        FirstStageSpec(y="dep_var", unit="unit", time="year", cohort="g2"),
        cluster=cluster,
    )
    rel, est, V = fit.rel_times, fit.estimate, fit.vcov
    names = {n: i for i, n in enumerate(ref["names"])}
    ix = [names[f"rel_year::{float(r)}"] for r in rel]
    assert_close(est, ref["coef"][ix], rtol=RTOL_PEER, atol=ATOL_PYFIXEST_DID2S)
    assert_close(np.sqrt(np.diag(V)), ref["se"][ix], rtol=RTOL_PEER)
    # the estimates against the exact dummy-variable first stage (dense least squares)
    untreated = ~df["treat"].to_numpy()
    D = pd.get_dummies(df[["unit", "year"]].astype(str), dtype=float).to_numpy()
    coef = np.linalg.lstsq(D[untreated], df["dep_var"].to_numpy()[untreated], rcond=None)[0]
    resid = df["dep_var"].to_numpy() - D @ coef
    exact = np.array([resid[df["rel_year"].to_numpy() == k].mean() for k in rel])
    assert_close(est, exact, rtol=RTOL_CLOSED_FORM, atol=1e-12)
