"""Wild cluster bootstrap of a feols coefficient: wildboottest (test-only dependency) on
the Petersen data shipped with statsmodels, with and without absorbed fixed effects
(against the same bootstrap on the dummy-variable regression), the interval by test
inversion, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from scipy import stats
from wildboottest.wildboottest import WildboottestCL

import impact
from impact.errors import ImpactError, InvalidOptionError

PETERSEN = Path(statsmodels.__file__).parent / "stats" / "tests" / "test_data.txt"
#: Same arithmetic on the same sign vectors (full enumeration): agreement to rounding.
ENUM_TOL = 1e-10


@pytest.fixture(scope="module")
def petersen() -> pd.DataFrame:
    d = pd.read_csv(PETERSEN, sep=r"\s+", header=None, names=["firm", "year", "x", "y"])
    return d.assign(g5=(d["year"] - 1) // 2)


def _theirs(X, y, cluster, impose_null, B=9999, seed=1):
    R = np.zeros(X.shape[1])
    R[0] = 1.0
    wb = WildboottestCL(X=X, Y=y, cluster=cluster, R=R, B=B, seed=seed, parallel=False)
    wb.get_scores(bootstrap_type="11", impose_null=impose_null)
    wb.get_weights("rademacher")
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    return float(np.ravel(wb.t_stat)[0]), np.sort(np.ravel(wb.t_boot))


def test_petersen_statistic_and_full_enumeration(petersen):
    fit = impact.feols("y ~ x", petersen, vcov={"cluster": "firm"})
    assert abs(fit.coef["x"] / fit.se["x"] - 20.452981) <= 1e-6
    X = np.column_stack([petersen["x"], np.ones(len(petersen))])
    for impose_null in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.wildboot(fit, param="x", cluster="g5", impose_null=impose_null)
        t, boot = _theirs(X, petersen["y"].to_numpy(), petersen["g5"].to_numpy(), impose_null)
        assert res.enumerated and res.B == 32 and res.n_clusters == 5
        assert abs(res.statistic - 40.51) <= 0.005 and abs(res.statistic - t) <= 1e-9
        np.testing.assert_allclose(np.sort(res.t_boot), boot, atol=ENUM_TOL, rtol=0)
        if impose_null:
            assert res.p_values["symmetric"] == pytest.approx(0.0625)  # 2 of 32 tie with t
            # the p-value never falls below 2/32 > alpha: no value is rejected
            assert (res.conf_low, res.conf_high) == (-np.inf, np.inf)
    assert "full enumeration" in res.summary()


@pytest.mark.parametrize("fe", ["year", "firm", "firm + year"])
def test_absorbed_fixed_effects_equal_the_dummy_regression(petersen, fe):
    """Fixed effects nested in the 5 clusters (year) or not (firm, firm + year): the sorted
    bootstrap statistics relative to t equal wildboottest's on explicit dummies (the two
    differ only in the small-sample factor, which scales t and every t* alike)."""
    d = petersen[petersen["firm"] <= 60].reset_index(drop=True)
    d = d.assign(z=np.random.default_rng(0).normal(size=len(d)))
    fit = impact.feols(f"y ~ x + z | {fe}", d, vcov={"cluster": "g5"})
    dummies = [pd.get_dummies(d[c], dtype=float, drop_first=i > 0).to_numpy()
               for i, c in enumerate(fe.split(" + "))]  # fmt: skip
    X = np.column_stack([d["x"], d["z"], *dummies])
    for impose_null in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.wildboot(fit, param="x", impose_null=impose_null)
            t, boot = _theirs(X, d["y"].to_numpy(), d["g5"].to_numpy(), impose_null)
        ours = np.sort(res.t_boot / res.statistic)
        np.testing.assert_allclose(ours, np.sort(boot / t), atol=ENUM_TOL, rtol=0)


def test_draws_and_interval(petersen):
    """Random weights: p-values within Monte Carlo error of wildboottest's own draws; the
    interval's ends are where the symmetric p-value crosses alpha."""
    d = petersen.assign(
        z=np.random.default_rng(1).normal(size=len(petersen)), c20=petersen["firm"] // 25
    )
    fit = impact.feols("y ~ x + z", d, vcov={"cluster": "c20"})
    res = impact.wildboot(fit, param="z", B=1999, seed=5)
    assert not res.enumerated and res.B == 1999
    X = np.column_stack([d["z"], d["x"], np.ones(len(d))])
    t, boot = _theirs(X, d["y"].to_numpy(), d["c20"].to_numpy(), True, B=1999, seed=5)
    theirs = float(np.mean(np.abs(boot) >= abs(t)))
    p = res.p_values["symmetric"]
    mc_se = np.sqrt(2 * max(p, 0.01) * (1 - p) / 1999)  # two independent sets of draws
    assert abs(p - theirs) <= 4 * mc_se
    for end, inside in ((res.conf_low, 1.0), (res.conf_high, -1.0)):
        step = 1e-4 * res.std_error
        at_in = impact.wildboot(fit, param="z", B=1999, seed=5, null=end + inside * step)
        at_out = impact.wildboot(fit, param="z", B=1999, seed=5, null=end - inside * step)
        assert at_in.p_value >= 0.05 > at_out.p_value
    unres = impact.wildboot(fit, param="z", B=1999, seed=5, impose_null=False)
    assert unres.conf_low < res.estimate < unres.conf_high


def test_bad_input(petersen):
    fit = impact.feols("y ~ x", petersen, vcov={"cluster": "firm"})
    cases = [
        (dict(param="x", B=50), "B must be"),
        (dict(param="w"), "not a coefficient"),
        (dict(param="x", weights="gauss"), "weights must be"),
        (dict(param="x", cluster="nope"), "cluster must be"),
        (dict(param="x", pvalue="two"), "pvalue must be"),
        (dict(param="x", seed=-1), "seed must be"),
    ]
    for kw, match in cases:
        with pytest.raises(InvalidOptionError, match=match):
            impact.wildboot(fit, **kw)
    one = petersen.assign(c=1)
    fit1 = impact.feols("y ~ x", one)
    with pytest.raises(ImpactError, match="one cluster"):
        impact.wildboot(fit1, param="x", cluster="c")
    with pytest.raises(InvalidOptionError, match="not clustered"):
        impact.wildboot(fit1, param="x")
    pois = impact.fepois("firm ~ x", petersen)  # fepois: the score bootstrap's checks
    with pytest.raises(InvalidOptionError, match="not clustered"):
        impact.wildboot(pois, param="x")


def test_review_cases(petersen):
    """Non-finite or non-numeric null, list param, non-bool impose_null, a collinear
    coefficient, a frame changed after the fit: typed errors; a fit without singleton
    dropping is bootstrapped; the WCU interval agrees with its own test."""
    fit = impact.feols("y ~ x", petersen, vcov={"cluster": "firm"})
    for kw, match in (
        (dict(null=float("nan")), "null must be finite"),
        (dict(null="0"), "null must be a number"),
        (dict(impose_null="no"), "impose_null must be"),
    ):
        with pytest.raises(InvalidOptionError, match=match):
            impact.wildboot(fit, param="x", cluster="g5", **kw)
    with pytest.raises(InvalidOptionError, match="param must be"):
        impact.wildboot(fit, param=["x"], cluster="g5")
    d = petersen.assign(x2=2 * petersen["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        col = impact.feols("y ~ x + x2", d, vcov={"cluster": "g5"})
        with pytest.raises(InvalidOptionError, match="collinear"):
            impact.wildboot(col, param=col.collinear[0])
        changed = d.copy()
        fit_c = impact.feols("y ~ x", changed, vcov={"cluster": "g5"})
        changed["y"] = changed["y"] * 10
        with pytest.raises(InvalidOptionError, match="changed after fitting"):
            impact.wildboot(fit_c, param="x")
        single = petersen.assign(fe=np.arange(len(petersen)) // 5)
        single.loc[len(single) - 1, "fe"] = 99_999
        fit_s = impact.feols("y ~ x | fe", single, vcov={"cluster": "g5"}, drop_singletons=False)
        assert impact.wildboot(fit_s, param="x").nobs == len(single)
        d20 = petersen.assign(c20=petersen["firm"] // 25)
        fit20 = impact.feols("y ~ x", d20, vcov={"cluster": "c20"})
        wcu = impact.wildboot(fit20, param="x", impose_null=False, weights="mammen", B=999, seed=3)
        for end, sign in ((wcu.conf_low, -1), (wcu.conf_high, 1)):
            step = 1e-7 * wcu.std_error
            kw = dict(param="x", impose_null=False, weights="mammen", B=999, seed=3)
            assert impact.wildboot(fit20, null=end - sign * step, **kw).p_value >= 0.05
            assert impact.wildboot(fit20, null=end + sign * step, **kw).p_value < 0.05
    assert "quantile" in wcu.summary()


def test_many_clusters_take_the_low_rank_path():
    """5,000 clusters, no fixed effects: the diagonal-plus-rank-k map; the bootstrap
    statistics' spread matches the normal approximation that many clusters justify."""
    G = 5000
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"g": np.repeat(np.arange(G), 4), "x": rng.normal(size=4 * G)})
    d["y"] = rng.normal(size=4 * G)
    fit = impact.feols("y ~ x", d, vcov={"cluster": "g"})
    res = impact.wildboot(fit, param="x", B=999, seed=1)
    assert abs(np.std(res.t_boot) - 1.0) < 0.1  # 999 draws: sd of the sd ~ 0.022
    assert abs(res.p_value - 2 * stats.norm.sf(abs(res.statistic))) < 0.06


def _brute_force(d, formula, rest, x, var_cluster, V, boot_codes):
    """The bootstrap by definition: the restricted fit (x's coefficient 0), outcomes
    y* = fitted + v_g * residual, and a feols refit on every draw (an independent path: no
    per-draw sums). Its variance clustered as asked: one way, feols's own; two-way, the
    inclusion-exclusion sum with feols's factors before any positive-semi-definite fix
    (which applies to whole matrices, not one coefficient)."""
    from impact.inference.vcov import cluster_intersections

    r = impact.feols(rest, d)
    yhat = d["y"].to_numpy() - r._resid
    names = [var_cluster] if isinstance(var_cluster, str) else list(var_cluster)
    codes = [pd.factorize(d[c], sort=True)[0] for c in names]
    out = []
    for b in range(V.shape[1]):
        ystar = yhat + V[boot_codes, b] * r._resid
        f = impact.feols(formula, d.assign(y=ystar), vcov={"cluster": names})
        j = list(f.coef.index).index(x)
        w = f._Xd @ np.linalg.inv(f._Xd.T @ f._Xd)[:, j]
        u = f._yd - f._Xd @ f.coef.to_numpy()
        var = sum(sign * fac * np.sum(np.bincount(c, weights=w * u, minlength=H) ** 2)
                  for (sign, c, H), fac in zip(cluster_intersections(codes),
                                              f.small_sample.factors, strict=True))  # fmt: skip
        out.append(f.coef[x] / np.sqrt(var))
    return np.sort(np.array(out))


#: Per-draw sums against per-draw refits whose fixed effects are solved iteratively.
REFIT_TOL = 1e-7


@pytest.mark.parametrize("fe", ["", " | firm", " | year"])
def test_two_way_and_subcluster_equal_the_bootstrap_by_definition(fe):
    from impact.inference.wild_cluster import draw_weights

    rng = np.random.default_rng(0)
    firms, years = 60, 8
    d = pd.DataFrame({"firm": np.repeat(np.arange(firms), years),
                      "year": np.tile(np.arange(years), firms)})  # fmt: skip
    d["region"] = d["firm"] % 6
    d["x"] = (rng.normal(size=len(d)) + rng.normal(size=6)[d["region"]]
              + rng.normal(size=years)[d["year"]])  # fmt: skip
    d["z"] = rng.normal(size=len(d))
    d["y"] = (0.1 * d["z"] + rng.normal(size=len(d)) + rng.normal(size=years)[d["year"]]
              + rng.normal(size=6)[d["region"]])  # fmt: skip
    formula, rest = f"y ~ x + z{fe}", f"y ~ z{fe}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols(formula, d, vcov={"cluster": ["region", "year"]})
        two = impact.wildboot(fit, param="x", bootcluster="region")  # 2^6 = 64 enumerated
        assert two.enumerated and two.B == 64 and two.variance == ("region", "year")
        V, _ = draw_weights("rademacher", 6, 64, np.random.default_rng(0))
        ref = _brute_force(d, formula, rest, "x", ["region", "year"], V, d["region"].to_numpy())
        np.testing.assert_allclose(np.sort(two.t_boot), ref, atol=REFIT_TOL, rtol=REFIT_TOL)
        if not fit.vcov_psd_fixed:
            assert abs(two.statistic - fit.coef["x"] / fit.se["x"]) <= 1e-10
        # subcluster: variance by region (6), one weight per firm (60)
        sub = impact.wildboot(fit, param="x", cluster="region", bootcluster="firm", B=99, seed=4)
        V, _ = draw_weights("rademacher", firms, 99, np.random.default_rng(4))
        ref = _brute_force(d, formula, rest, "x", "region", V, d["firm"].to_numpy())
        np.testing.assert_allclose(np.sort(sub.t_boot), ref, atol=REFIT_TOL, rtol=REFIT_TOL)
    assert "variance clustered by region + year" in two.summary()
