"""Regressions from a hostile review of did_wildboot (event studies), the fepois score
bootstrap and conley_taber: units outside the control pool no longer move the bootstrap,
never_treated codes, inf outcomes, clusters splitting units, a cluster column changed
after the fit, the fit's IRLS options, unreachable nulls, numpy alphas, and conley_taber's
launch codes, off-grid launches, dropped rows and an unidentified size correction."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import ConvergenceError, ImpactWarning, InvalidOptionError


def _panel(seed=1, cells=24, firms=6, T=8, cohorts=(2003, 2005), ntreat=8):
    rng = np.random.default_rng(seed)
    C, F = cells, cells * firms
    cell = np.repeat(np.arange(C), firms * T)
    firm = np.repeat(np.arange(F), T)
    year = np.tile(np.arange(2000, 2000 + T), F)
    launch_c = np.array([cohorts[c % len(cohorts)] if c < ntreat else np.nan for c in range(C)])
    launch = launch_c[cell]
    treat = (~np.isnan(launch)) & (year >= np.nan_to_num(launch, nan=np.inf))
    y = (rng.normal(size=F)[firm] + rng.normal(size=C)[cell] + 0.1 * (year - 2000)
         + treat + rng.normal(size=len(firm)))  # fmt: skip
    cnt = rng.poisson(np.exp(0.5 + 0.3 * treat))
    return pd.DataFrame({"cell": cell, "firm": firm, "year": year, "launch": launch, "y": y,
                         "treat": treat.astype(float), "cnt": cnt})  # fmt: skip


def _quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def _es(d, estimator="imputation", **kw):
    return _quiet(impact.event_study, d, y="y", unit="firm", time="year", cohort="launch",
                  estimator=estimator, window=(-3, 2), **kw)  # fmt: skip


@pytest.mark.parametrize("estimator", ["imputation", "did2s"])
def test_units_outside_the_control_pool_do_not_move_the_bootstrap(estimator):
    d = _panel()
    d["pool"] = ~((d["cell"] >= 8) & (d["cell"] % 2 == 0))
    fit = _es(d, estimator, vcov={"cluster": "cell"}, control_pool="pool")
    d2 = d.copy()
    out = ~d2["pool"]
    d2.loc[out, "y"] += 5 * (d2.loc[out, "year"] - 2000) + np.arange(out.sum()) % 3
    a = _quiet(impact.did_wildboot, fit, d, B=199, seed=1)
    b = _quiet(impact.did_wildboot, fit, d2, B=199, seed=1)
    c = _quiet(impact.did_wildboot, fit, d[d["pool"]].reset_index(drop=True), B=199, seed=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.table, c.table)


def test_att_gt_control_pool_never_treated_code_and_inf_outcome():
    d = _panel()
    d["pool"] = ~((d["cell"] >= 8) & (d["cell"] % 2 == 0))
    kw = dict(y="y", unit="firm", time="year", cohort="launch", vcov={"cluster": "cell"})
    fit = _quiet(impact.att_gt, d, control_pool="pool", **kw)
    d2 = d.copy()
    d2.loc[~d2["pool"], "y"] += 3 * (d2.loc[~d2["pool"], "year"] - 2000)
    a = _quiet(impact.did_wildboot, fit, d, aggregate="simple", B=199, seed=1)
    b = _quiet(impact.did_wildboot, fit, d2, aggregate="simple", B=199, seed=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    zero = d.assign(launch=d["launch"].fillna(0))
    fit0 = _quiet(impact.att_gt, zero, never_treated=0, **kw)  # was a read-only-array crash
    assert _quiet(impact.did_wildboot, fit0, zero, B=99).table["p_value"].notna().any()
    es0 = _es(zero, vcov={"cluster": "cell"}, never_treated=0)
    assert _quiet(impact.did_wildboot, es0, zero, B=99).table["p_value"].notna().all()
    inf = d.copy()
    inf.loc[5, "y"] = np.inf  # event_study drops and counts the row; so does the bootstrap
    nan = d.copy()
    nan.loc[5, "y"] = np.nan
    r_inf = _quiet(impact.did_wildboot, _es(inf, vcov={"cluster": "cell"}), inf, B=99)
    r_nan = _quiet(impact.did_wildboot, _es(nan, vcov={"cluster": "cell"}), nan, B=99)
    pd.testing.assert_frame_equal(r_inf.table, r_nan.table)


def test_clusters_splitting_units_are_refused():
    d = _panel()
    d["half"] = d["cell"] * 2 + (d["year"] >= 2004)
    fit = _es(d, "did2s", vcov={"cluster": "half"})
    with pytest.raises(InvalidOptionError, match="changes within units"):
        _quiet(impact.did_wildboot, fit, d)


def test_fepois_score_bootstrap_review_cases(monkeypatch):
    d = _panel()
    fit = _quiet(impact.fepois, "cnt ~ treat | firm + year", d, vcov={"cluster": "cell"})
    ok = _quiet(impact.wildboot, fit, param="treat", B=99, alpha=np.float32(0.1))
    assert 0 <= ok.p_value <= 1 and ok.alpha == pytest.approx(0.1)
    import impact.estimators.wildboot_poisson as wp

    def diverge(*args, **kw):
        raise ConvergenceError("Poisson IRLS diverged (fitted means overflow)")

    with monkeypatch.context() as m:  # a null the restricted model cannot reach
        m.setattr(wp, "restricted_poisson_means", diverge)
        with pytest.raises(ConvergenceError, match="restricted to treat = 50"):
            _quiet(impact.wildboot, fit, param="treat", B=99, null=50)
    loose = _quiet(impact.fepois, "cnt ~ treat | firm + year", d, vcov={"cluster": "cell"},
                   tol=1e-3)  # fmt: skip
    assert 0 <= _quiet(impact.wildboot, loose, param="treat", B=99).p_value <= 1
    d["cell"] //= 2  # the cluster column changes after the fit
    with pytest.raises(InvalidOptionError, match="changed after fitting"):
        _quiet(impact.wildboot, fit, param="treat", B=99)
    ols = _quiet(impact.feols, "y ~ treat | firm + year", d.assign(cell=d["cell"] * 2),
                 vcov={"cluster": "cell"})  # fmt: skip
    ols._data["cell"] //= 4  # the same for feols (pairs of clusters merge)
    with pytest.raises(InvalidOptionError, match="changed after fitting"):
        _quiet(impact.wildboot, ols, param="treat", B=99)
    es = _es(_panel(), vcov={"cluster": "cell"})
    assert _quiet(impact.did_wildboot, es, _panel(), B=99, alpha=np.float32(0.1)).alpha > 0


def _ct(d, **kw):
    return _quiet(impact.conley_taber, d, y="y", cell="cell", time="year", launch="launch",
                  **kw)  # fmt: skip


def test_conley_taber_launch_codes():
    d = _panel(cells=40)
    mixed = d.assign(launch=np.where(d["launch"].isna() & (d["firm"] % 2 == 0), 0.0,
                                     d["launch"]))  # fmt: skip
    assert _ct(mixed).estimate == pytest.approx(_ct(d).estimate, abs=1e-12)
    shifted = d.assign(year=d["year"] - 2003, launch=d["launch"] - 2003)  # 0 is a period
    res = _ct(shifted)
    assert res.estimate == pytest.approx(_ct(d).estimate, abs=1e-12)  # a launch at 0
    assert res.n_treated_cells == 8 and any("period 0" in n for n in res.notes)
    for bad, match in ((d.assign(launch=d["launch"] + 0.5), "not a period"),
                       (d.assign(launch=d["launch"].fillna(np.inf)), "infinite")):  # fmt: skip
        with pytest.raises(InvalidOptionError, match=match):
            _ct(bad)


def test_conley_taber_counts_drops_and_flags_an_unidentified_correction():
    d = _panel(cells=40)
    gone = d.assign(y=np.where(d["cell"] == 0, np.nan, d["y"]))  # a launched cell
    res = _ct(gone)
    assert res.n_treated_cells == 7
    assert any("rows without 'y'" in n for n in res.notes)
    assert any("1 of them launched" in n for n in res.notes)
    # controls all of 6 firms, a treated cell of 1: a + b / size is not identified
    uneven = d[~((d["cell"] == 0) & (d["firm"] % 6 != 0))]
    with pytest.warns(ImpactWarning, match="not identified"):
        impact.conley_taber(uneven, y="y", cell="cell", time="year", launch="launch")


def test_score_bootstrap_where_the_model_cannot_be_fitted():
    """Five clusters: Rademacher signs cannot reject at 5%, so the interval is unbounded;
    far nulls overflow the means: an infinite end and a typed error, never p = 0."""
    d = _panel(cells=5, firms=10, ntreat=3)
    d["cnt"] = np.random.default_rng(1).poisson(np.exp(0.5 + 0.3 * d["treat"]))
    fit = _quiet(impact.fepois, "cnt ~ treat | firm + year", d, vcov={"cluster": "cell"})
    res = _quiet(impact.wildboot, fit, param="treat", seed=1)
    assert res.conf_high == np.inf and res.conf_low == -np.inf
    with pytest.raises(ConvergenceError):
        _quiet(impact.wildboot, fit, param="treat", null=800)


def test_rows_the_estimator_drops_do_not_move_the_bootstrap():
    """att_gt drops rows with a missing covariate; the event study ignores treated rows
    past the window's end: changing their outcome changes nothing."""
    d = _panel(cells=20)
    d["x"] = np.random.default_rng(2).normal(size=len(d))
    d.loc[d.index % 7 == 0, "x"] = np.nan
    kw = dict(y="y", unit="firm", time="year", cohort="launch", vcov={"cluster": "cell"})
    fit = _quiet(impact.att_gt, d, covariates=["x"], method="reg", **kw)
    moved = d.assign(y=np.where(d["x"].isna(), d["y"] + 10 * (d["firm"] % 3), d["y"]))
    a = _quiet(impact.did_wildboot, fit, d, aggregate="simple", B=199, seed=1)
    b = _quiet(impact.did_wildboot, fit, moved, aggregate="simple", B=199, seed=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    u = d.drop(index=d.index[np.random.default_rng(3).random(len(d)) < 0.2])
    late = (u["year"] - u["launch"]) >= 2  # window (-2, 1): event times 2+ unused
    u2 = u.assign(y=np.where(late, u["y"] + 10 * (u["firm"] % 3), u["y"]))
    for estimator in ("imputation", "did2s"):
        es = _quiet(impact.event_study, u, y="y", unit="firm", time="year", cohort="launch",
                    estimator=estimator, window=(-2, 1), vcov={"cluster": "cell"})  # fmt: skip
        a = _quiet(impact.did_wildboot, es, u, B=199, seed=1)
        b = _quiet(impact.did_wildboot, es, u2, B=199, seed=1)
        pd.testing.assert_frame_equal(a.table, b.table)


def test_conley_taber_zero_launch_on_a_grid_without_zero():
    d = _panel(cells=40)
    odd = d.assign(year=2 * (d["year"] - 2004) + 1, launch=2 * (d["launch"] - 2004) + 1)
    assert not (odd["year"] == 0).any()  # periods -7, -5, ..., 7
    res = _ct(odd.assign(launch=odd["launch"].fillna(0)))
    assert res.estimate == pytest.approx(_ct(odd).estimate, abs=1e-12)
