"""impact.did_wildboot: with one cohort and two periods the bootstrap-t of ATT(g,t) is the
wild cluster bootstrap (WCU) of the regression of the outcome change on treatment, so its
sorted t*/t equal wildboottest's on that regression under full enumeration; the
estimator's linearity in the outcome (the bootstrap's premise) on cells, aggregations and
doubly robust covariates; for imputation and did2s event studies, every draw's t* equals
a refit of the public estimator on that draw's outcome; coverage of the sup-t bands with
30 clusters (slow); bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from wildboottest.wildboottest import WildboottestCL

import impact
from impact.errors import ImpactError, InvalidOptionError

#: Same arithmetic on the same sign vectors (full enumeration): agreement to rounding.
ENUM_TOL = 1e-10
#: theta(Yhat) + sum_c theta(u^(c)) = theta(Y): exact linearity, up to rounding.
LINEAR_TOL = 1e-10


def _two_periods(seed: int, cells: int = 8, per: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    U = cells * per
    unit = np.repeat(np.arange(U), 2)
    cell = unit // per
    treated_cell = rng.permutation(np.arange(cells) < cells // 2)
    cohort = np.where(treated_cell[cell], 2001.0, np.nan)
    year = np.tile([2000, 2001], U)
    y = (
        rng.normal(size=U)[unit] + rng.normal(size=(cells, 2))[cell, year - 2000]
        + rng.normal(size=2 * U) + 0.3 * ((year == 2001) & (cohort == 2001))
    )  # fmt: skip
    return pd.DataFrame({"firm": unit, "year": year, "cell": cell, "cohort": cohort, "y": y})


def _fit(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.att_gt(
            d, y="y", unit="firm", time="year", cohort="cohort", vcov={"cluster": "cell"}, **kw
        )


def test_two_by_two_equals_wildboottest_on_the_first_difference_regression():
    d = _two_periods(1)
    fit = _fit(d)
    res = impact.did_wildboot(fit, d, B=999, weights="rademacher", residuals="ols")
    assert res.enumerated and res.B == 256 and res.n_clusters == 8
    wide = d.pivot(index="firm", columns="year", values="y")
    dy = (wide[2001] - wide[2000]).to_numpy()
    first = d.groupby("firm")[["cell", "cohort"]].first()
    D = first["cohort"].notna().to_numpy(dtype=float)
    X = np.column_stack([D, np.ones_like(D)])
    wb = WildboottestCL(X=X, Y=dy, cluster=first["cell"].to_numpy(), R=np.array([1.0, 0.0]),
                        B=999, seed=1, parallel=False)  # fmt: skip
    wb.get_scores(bootstrap_type="11", impose_null=False)
    wb.get_weights("rademacher")
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    t, boot = float(np.ravel(wb.t_stat)[0]), np.ravel(wb.t_boot)
    ours = res.table["statistic"].iloc[0]
    # the same contrast; t differs only by the small-sample factor, which t* shares
    theirs_sorted = np.sort(boot / t)
    # ours are centred draws over the draw's own s.e.; in t units of the sample
    ours_sorted = np.sort(res._t_boot[:, 0] / ours)
    np.testing.assert_allclose(ours_sorted, theirs_sorted, atol=ENUM_TOL, rtol=0)
    assert res._identity_gap <= LINEAR_TOL
    assert "full enumeration" in res.summary()


@pytest.mark.parametrize("aggregate", [None, "simple", "dynamic", "group"])
def test_linear_in_the_outcome(aggregate):
    rng = np.random.default_rng(4)
    U, T = 160, 6
    unit = np.repeat(np.arange(U), T)
    cell = unit // 8
    cohort = rng.choice([2002.0, 2003.0, 2004.0, np.nan], U // 8)[cell]
    d = pd.DataFrame(
        {"firm": unit, "year": np.tile(np.arange(2000, 2000 + T), U), "cell": cell,
         "cohort": cohort, "x": rng.normal(size=U)[unit]}
    )  # fmt: skip
    d["y"] = d["x"] + rng.normal(size=len(d)) + 0.2 * (d["year"] >= d["cohort"])
    d = d.drop(index=d.index[rng.random(len(d)) < 0.05])  # unbalanced
    fit = _fit(d, covariates=["x"], control="notyet")
    res = impact.did_wildboot(fit, d, aggregate=aggregate, B=199, seed=2, residuals="ols")
    assert res._identity_gap <= LINEAR_TOL
    ok = res.table["p_value"].notna()
    assert ok.any() and ((res.table["p_value"][ok] > 0) & (res.table["p_value"][ok] <= 1)).all()
    inside = res.table[ok]
    assert (inside["conf_low"] < inside["estimate"]).all()
    assert (inside["band_high"].fillna(np.inf) >= inside["conf_high"] - 1e-12).all()


def _clustered_panel(seed: int, C: int = 30, per: int = 8, T: int = 6):
    """Cohorts assigned to whole cells, cell-by-year shocks; effect 0.1 + 0.05 e."""
    rng = np.random.default_rng(seed)
    U = C * per
    unit = np.repeat(np.arange(U), T)
    year = np.tile(np.arange(2000, 2000 + T), U)
    cell = unit // per
    cohort = rng.choice([2002.0, 2003.0, 2004.0, np.nan], C, p=[0.2, 0.2, 0.2, 0.4])[cell]
    e = year - np.nan_to_num(cohort, nan=1e9)
    shock = 0.5 * rng.normal(size=(C, T))[cell, year - 2000]
    y = rng.normal(size=U)[unit] + shock + rng.normal(size=len(unit))
    y = y + np.where(e >= 0, 0.1 + 0.05 * e, 0.0)
    return pd.DataFrame({"firm": unit, "year": year, "cell": cell, "cohort": cohort, "y": y})


@pytest.mark.slow
def test_band_coverage_with_30_clusters():
    """Known truth: sup-t bands of the dynamic aggregation (all event times covered at once)
    with 30 cell clusters, cohorts assigned to whole cells and cell-by-year shocks, 400
    replications. The issue's target is 0.92; measured: the bootstrap-t band covers in
    about 0.92 (0.915 in 2,000 replications of these panels; 0.932 with a universal base
    period, 0.929 with never-treated controls, in 1,000), the multiplier
    bootstrap band (R did's) in about 0.79. Asserted: at least 0.90, and at least 0.08
    above the multiplier band on the same panels."""
    reps, wild, multiplier = 400, 0, 0
    for r in range(reps):
        d = _clustered_panel(r)
        fit = _fit(d, control="notyet", bootstrap=399, seed=r)
        res = impact.did_wildboot(fit, d, aggregate="dynamic", B=399, seed=r)
        rows = res.table.iloc[1:]
        k = np.array([int(t.split("::")[1]) for t in rows["term"]])
        truth = np.where(k >= 0, 0.1 + 0.05 * k, 0.0)
        wild += bool(np.all((rows["band_low"] <= truth) & (truth <= rows["band_high"])))
        agg = fit.aggregate("dynamic").table
        multiplier += bool(
            np.all((agg["band_low"].to_numpy() <= truth) & (truth <= agg["band_high"].to_numpy()))
        )
    assert wild / reps >= 0.90, (wild / reps, multiplier / reps)
    assert wild / reps >= multiplier / reps + 0.08, (wild / reps, multiplier / reps)


def test_bad_input():
    d = _two_periods(2)
    fit = _fit(d)
    cases = [
        (dict(fit=fit, data=d, B=10), "B must be"),
        (dict(fit=fit, data=d, weights="x"), "weights must be"),
        (dict(fit=fit, data=d, aggregate="cells"), "aggregate must be"),
        (dict(fit=fit, data=d.to_numpy()), "DataFrame"),
        (dict(fit=impact.feols("y ~ 1", d), data=d), "att_gt fit"),
    ]
    for kw, match in cases:
        with pytest.raises(InvalidOptionError, match=match):
            impact.did_wildboot(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unclustered = impact.att_gt(d, y="y", unit="firm", time="year", cohort="cohort")
    with pytest.raises(InvalidOptionError, match="cluster"):
        impact.did_wildboot(unclustered, d)
    with pytest.raises(InvalidOptionError, match="does not reproduce the fit"):
        impact.did_wildboot(fit, d.assign(y=d["y"] * 2))


def test_review_cases():
    """Relabelled units (same estimates) are refused; a zero clustered s.e. (each group in
    one cluster) gives no p-value instead of 0; aggregation options are checked; datetime
    periods work."""
    d = _two_periods(2)
    fit = _fit(d)
    with pytest.raises(InvalidOptionError, match="does not reproduce the fit"):
        impact.did_wildboot(fit, d.assign(firm=d["firm"].astype(str)))
    for kw, match in ((dict(aggregate="dynamic", maxe=3), "unknown aggregation option"),
                      (dict(aggregate="dynamic", max_e="3"), "must be a number"),
                      (dict(max_e=1), "give aggregate")):  # fmt: skip
        with pytest.raises(InvalidOptionError, match=match):
            impact.did_wildboot(fit, d, **kw)
    two = d.assign(
        cell=(d["cohort"].isna()).astype(int)
    )  # treated in one cluster, controls in other
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit2 = _fit(two)
        res = impact.did_wildboot(fit2, two, B=99)
    assert res.table["p_value"].isna().all() and res.table["std_error"].isna().all()
    dates = d.assign(year=pd.to_datetime(d["year"].astype(str)),
                     cohort=pd.to_datetime(d["cohort"].astype("Int64").astype(str),
                                           errors="coerce"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_d = _fit(dates, freq="Y")
        res_d = impact.did_wildboot(fit_d, dates, B=99, residuals="ols", seed=1)
        res_n = impact.did_wildboot(fit, d, B=99, residuals="ols", seed=1)
    np.testing.assert_allclose(res_d.table["p_value"], res_n.table["p_value"], rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["imputation", "did2s", "twfe", "sun_abraham", "etwfe"])
def test_event_study_band_coverage_with_30_clusters(estimator):
    """Known truth, the panels of the att_gt coverage test (30 cell clusters, cell-by-year
    shocks), event times -3 .. 3, 300 replications: the bootstrap-t band covers every event
    time at once in at least 0.92 (measured in 200: imputation 0.975, did2s 0.955); the
    analytic band clustered by unit, which ignores the cell shocks, in under 0.75
    (measured 0.67 and 0.63)."""
    reps, wild, unit = 300, 0, 0
    for r in range(reps):
        d = _clustered_panel(r)
        kw = dict(y="y", unit="firm", time="year", cohort="cohort", estimator=estimator,
                  window=(-3, 3), seed=r)  # fmt: skip
        if estimator == "etwfe":
            kw["family"] = "linear"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = impact.event_study(d, vcov={"cluster": "cell"}, **kw)
            by_unit = impact.event_study(d, **kw).table.dropna(subset=["std_error"])
        rows = impact.did_wildboot(fit, d, B=399, seed=r).table.iloc[1:]
        k = np.array([int(t.split("::")[1]) for t in rows["term"]])
        truth = np.where(k >= 0, 0.1 + 0.05 * k, 0.0)
        wild += bool(np.all((rows["band_low"] <= truth) & (truth <= rows["band_high"])))
        k = by_unit["rel_time"].to_numpy()
        truth = np.where(k >= 0, 0.1 + 0.05 * k, 0.0)
        unit += bool(np.all((by_unit["band_low"] <= truth) & (truth <= by_unit["band_high"])))
    assert wild / reps >= 0.92, (wild / reps, unit / reps)
    assert unit / reps < 0.75, (wild / reps, unit / reps)


#: A draw's t* from the linear pieces against a refit of event_study on that draw's
#: outcome: the same arithmetic in another order (observed gap ~1e-14).
REFIT_TOL = 1e-10


def _event(d, estimator, vcov=None, **kw):
    """The event study of the tests' panels, clustered by cell unless ``vcov`` says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.event_study(
            d, y="y", unit="firm", time="year", cohort="cohort", estimator=estimator,
            window=(-3, 4), vcov=vcov or {"cluster": "cell"}, **kw,
        )  # fmt: skip


@pytest.mark.parametrize("estimator", ["imputation", "did2s", "twfe", "sun_abraham", "etwfe"])
@pytest.mark.parametrize("fixed_effects", [None, "sector^year"])
def test_event_study_draws_equal_refits(estimator, fixed_effects):
    """Reference: the public estimator refitted on the bootstrap outcome
    ``Yhat + v_c u`` of three draws (unbalanced panel, 12 cell clusters). TWFE and
    Sun-Abraham without fixed effects refit through their cell formulation, the
    bootstrap runs the dummy regression; ETWFE is the linear family."""
    from impact.estimators.did_wildboot import _fitted
    from impact.inference.wild_cluster import draw_weights

    d = _clustered_panel(5, C=12)
    d["sector"] = d["firm"] % 3
    d = d.drop(index=d.index[np.random.default_rng(1).random(len(d)) < 0.05])
    if estimator == "etwfe":
        kw = {"fixed_effects": fixed_effects, "family": "linear"}
    else:
        kw = {"fixed_effects": fixed_effects}
    fit = _event(d, estimator, **kw)
    res = impact.did_wildboot(fit, d, B=999, seed=3, residuals="ols")
    assert res.n_clusters == 12 and res.estimator == estimator
    assert res._identity_gap <= LINEAR_TOL
    assert list(res.table["term"]) == list(fit.tidy()["term"])
    np.testing.assert_allclose(res.table["std_error"], fit.tidy()["std_error"], rtol=1e-12)
    call = {"y": "y", "unit": "firm", "time": "year", "cohort": "cohort"}
    rows, yhat, _ = _fitted(d, call, fixed_effects, np.ones(len(d), dtype=bool))
    assert len(rows) == len(d)
    resid = d["y"].to_numpy() - yhat
    V, _ = draw_weights("webb", 12, 999, np.random.default_rng(3))
    centre = _event(d.assign(y=yhat), estimator, **kw).tidy()
    for b in (0, 17, 998):
        star = _event(d.assign(y=yhat + V[d["cell"].to_numpy(), b] * resid), estimator,
                      **kw).tidy()  # fmt: skip
        t_star = (star["estimate"] - centre["estimate"]) / star["std_error"]
        np.testing.assert_allclose(res._t_boot[b], t_star, atol=REFIT_TOL, rtol=0)
    assert estimator in res.summary() and "12 clusters" in res.summary()


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham"])
def test_regression_draws_with_covariates_equal_refits(estimator):
    """Reference: with a time-varying covariate the bootstrap's model holds it too (its
    coefficient by Frisch-Waugh); the public estimator refitted on three draws' outcomes
    gives the same t*."""
    from impact.estimators.did_wildboot import _fitted
    from impact.inference.wild_cluster import draw_weights

    d = _clustered_panel(8, C=10)
    d["x"] = np.random.default_rng(2).normal(size=len(d)) + 0.1 * d["year"]
    d["y"] = d["y"] + 0.7 * d["x"]
    fit = _event(d, estimator, covariates=["x"])
    res = impact.did_wildboot(fit, d, B=199, seed=4, residuals="ols")
    assert res._identity_gap <= LINEAR_TOL
    call = {"y": "y", "unit": "firm", "time": "year", "cohort": "cohort"}
    _, yhat, _ = _fitted(d, call, None, np.ones(len(d), dtype=bool), ("x",))
    resid = d["y"].to_numpy() - yhat
    V, _ = draw_weights("webb", 10, 199, np.random.default_rng(4))
    centre = _event(d.assign(y=yhat), estimator, covariates=["x"]).tidy()
    for b in (0, 99):
        star = _event(d.assign(y=yhat + V[d["cell"].to_numpy(), b] * resid), estimator,
                      covariates=["x"]).tidy()  # fmt: skip
        t_star = (star["estimate"] - centre["estimate"]) / star["std_error"]
        np.testing.assert_allclose(res._t_boot[b], t_star, atol=REFIT_TOL, rtol=0)


def test_event_study_bad_input():
    d = _clustered_panel(6, C=10)
    fit = _event(d, "imputation")
    for bad, match in (
        (dict(fit=_event(d, "cs"), data=d), "event_study fits of"),
        (dict(fit=fit, data=d, aggregate="dynamic"), "att_gt fits"),
        (dict(fit=fit, data=d.assign(y=d["y"] * 1.5)), "does not reproduce"),
        (dict(fit=fit, data=d.assign(cell=d["cell"] // 2)), "does not reproduce"),
    ):
        with pytest.raises(InvalidOptionError, match=match):
            impact.did_wildboot(**bad)


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham", "etwfe"])
def test_regression_event_study_bad_input(estimator):
    """Another frame (outcome, cohorts or years changed, fewer rows), clusters that split
    units and a Poisson ETWFE fit are typed errors; the same rows in another order are
    the fit's frame (every design is rebuilt from the frame given)."""
    d = _clustered_panel(6, C=10)
    kw = {"family": "linear"} if estimator == "etwfe" else {}
    fit = _event(d, estimator, **kw)
    by_year = _event(d, estimator, vcov={"cluster": "year"}, **kw)
    # each unit's years in reverse order: the same rows, another time for each outcome
    shuffled_years = d.assign(year=d.groupby("firm")["year"].transform(lambda v: v[::-1].values))
    for bad, match in (
        (dict(fit=fit, data=d.assign(y=d["y"] * 1.5)), "does not reproduce"),
        (dict(fit=fit, data=d.iloc[: len(d) // 2]), "does not reproduce"),
        (dict(fit=fit, data=shuffled_years), "does not reproduce"),
        (dict(fit=by_year, data=d), "changes within units"),
    ):
        with pytest.raises(InvalidOptionError, match=match):
            impact.did_wildboot(**bad)
    with pytest.raises(ImpactError):  # no treated cohort left, or another fit
        impact.did_wildboot(fit, d.assign(cohort=np.where(d["cohort"] == 2003, np.nan,
                                                            d["cohort"])))  # fmt: skip
    flipped = d.iloc[::-1].reset_index(drop=True)
    res = impact.did_wildboot(fit, flipped, B=99)
    np.testing.assert_allclose(res.table["estimate"], fit.tidy()["estimate"], rtol=1e-12)
    np.testing.assert_allclose(res.table["std_error"], fit.tidy()["std_error"], rtol=1e-12)
    if estimator == "etwfe":
        pos = d.assign(y=np.exp(d["y"]))
        with pytest.raises(InvalidOptionError, match="linear ETWFE"):
            impact.did_wildboot(_event(pos, "etwfe", family="poisson"), pos)
        with pytest.raises(InvalidOptionError, match="CRV3"):
            impact.event_study(
                d,
                y="y",
                unit="firm",
                time="year",
                cohort="cohort",
                estimator="etwfe",
                family="linear",
                vcov={"CRV3": "cell"},
            )


def test_sun_abraham_with_a_singleton_unit():
    """A treated unit observed once is a two-way singleton: the cell path and the dummy
    regression (which the bootstrap runs) both leave it out of the cohort shares, so the
    fit and its bootstrap agree (they did not: the regression counted it)."""
    d = _clustered_panel(5, C=12)
    d = d[(d["firm"] != 40) | (d["year"] == 2003)].assign(k=1)
    assert d.loc[d["firm"] == 40, "cohort"].iloc[0] == 2003
    cells = _event(d, "sun_abraham")
    dummies = _event(d, "sun_abraham", fixed_effects="k")  # the same model, feols path
    np.testing.assert_allclose(cells.tidy()["estimate"], dummies.tidy()["estimate"], rtol=1e-10)
    res = impact.did_wildboot(cells, d, B=99)
    np.testing.assert_allclose(res.table["estimate"], cells.tidy()["estimate"], rtol=1e-12)


def test_few_treated_clusters_warn():
    """Four of eight cells treated: the bootstrap-t runs but says it is unreliable and
    names the alternatives; feols's wildboot says the same for a 0/1 coefficient."""
    d = _two_periods(3)
    fit = _fit(d)
    with pytest.warns(impact.errors.FewClustersWarning, match="4 of 8 clusters hold treated"):
        impact.did_wildboot(fit, d, B=99)
    d["post_treated"] = ((d["year"] == 2001) & d["cohort"].notna()).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ols = impact.feols("y ~ post_treated | firm + year", d, vcov={"cluster": "cell"})
    with pytest.warns(impact.errors.FewClustersWarning, match="conley_taber"):
        impact.wildboot(ols, param="post_treated", B=99)


def test_subgroup_difference_draws_equal_refits():
    """Two subgroups of members with shared controls (table 7): the joint bootstrap's
    estimates equal the fits', its standard errors the influence-function ones, and a
    draw's t* of each effect and of the difference equals att_gt refitted on that draw's
    outcome for both subgroups."""
    from impact.estimators.did_linear import subgroup_difference
    from impact.estimators.did_wildboot import _fitted, wild_bootstrap_t
    from impact.inference.wild_cluster import draw_weights

    d = _clustered_panel(9, C=12)
    member = d["cohort"].notna().to_numpy()
    big = (d["firm"] % 2 == 0).to_numpy()
    masks = (big | ~member, ~big | ~member)
    fits = tuple(_fit(d[m]) for m in masks)
    unit_cluster = d.groupby("firm")["cell"].first()
    lin = subgroup_difference(fits, masks, d, unit_cluster)
    res = wild_bootstrap_t(lin, d, B=199, weights="webb", alpha=0.05, seed=2, residuals="ols")
    aggs = [f.aggregate("simple") for f in fits]
    np.testing.assert_allclose(res.table["estimate"][:2], [a.estimate for a in aggs], rtol=1e-12)
    np.testing.assert_allclose(res.table["std_error"][:2], [a.std_error for a in aggs],
                               rtol=1e-10)  # fmt: skip
    assert res._identity_gap <= LINEAR_TOL and res.n_clusters == 12
    call = {"y": "y", "unit": "firm", "time": "year", "cohort": "cohort"}
    _, yhat, _ = _fitted(d, call, None, lin.row_cluster >= 0)
    resid = d["y"].to_numpy() - yhat
    V, _ = draw_weights("webb", 12, 199, np.random.default_rng(2))

    def both(values):
        out = [_fit(d.assign(y=values)[m]).aggregate("simple") for m in masks]
        return out

    centre = both(yhat)
    for b in (0, 150):
        star = both(yhat + V[d["cell"].to_numpy(), b] * resid)
        t_a = (star[0].estimate - centre[0].estimate) / star[0].std_error
        t_b = (star[1].estimate - centre[1].estimate) / star[1].std_error
        np.testing.assert_allclose(res._t_boot[b, :2], [t_a, t_b], atol=REFIT_TOL, rtol=0)
