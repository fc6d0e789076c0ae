"""impact.adjust: Holm/Bonferroni/BKY against statsmodels' multipletests, Romano–Wolf and
Westfall–Young against pyfixest's rwolf/wyoung on the same OLS models, joint draws across
feols and DiD results, family-wise error under the global null (slow, feols with 30
clusters), bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from statsmodels.stats.multitest import multipletests

import impact
from impact.errors import InvalidOptionError
from impact.inference import multiple_testing as mt

#: Closed forms computed two ways: agreement to rounding.
EXACT_TOL = 1e-12
#: pyfixest draws its own Rademacher weights: our adjusted p-values may differ from its by
#: Monte Carlo error, sd <= sqrt(2 p (1 - p) / B) for two independent sets of B draws;
#: four sd. (With today's versions both draw the same weights and agree exactly.)
MC_SDS = 4.0
B_REF = 9999


def _p_family(seed: int, m: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0, 0.01, m // 3), rng.uniform(0, 1, m - m // 3)])


@pytest.mark.parametrize("seed", range(5))
def test_pvalue_methods_equal_statsmodels(seed):
    p = _p_family(seed)
    for ours, theirs in ((mt.holm, "holm"), (mt.bonferroni, "bonferroni")):
        ref = multipletests(p, method=theirs)[1]
        np.testing.assert_allclose(ours(p), ref, atol=EXACT_TOL, rtol=0)
    # sharpened q-values: q <= alpha exactly when statsmodels' two-stage BKY rejects at alpha
    q = mt.bky(p)
    for alpha in np.linspace(0.005, 0.5, 100):
        rejected = multipletests(p, alpha=alpha, method="fdr_tsbky")[0]
        clear = np.abs(q - alpha) > 1e-8  # exactly at a breakpoint either reading is fine
        np.testing.assert_array_equal((q <= alpha)[clear], rejected[clear])


@pytest.fixture(scope="module")
def ols_family() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    G, n = 25, 1500
    g = rng.integers(0, G, n)
    x = rng.normal(size=n) + rng.normal(size=G)[g]
    d = pd.DataFrame({"g": g, "x": x, "f": rng.integers(0, 10, n)})
    common = rng.normal(size=n)  # correlated outcomes: the joint draws matter
    shock = rng.normal(size=G)[g]
    for k, beta in enumerate((0.0, 0.03, 0.06, 0.1)):
        d[f"y{k}"] = beta * x + common + 0.8 * rng.normal(size=n) + 0.3 * shock * x
    return d


@pytest.mark.parametrize(
    "method,theirs,col",
    [("romano_wolf", pf.rwolf, "RW Pr(>|t|)"), ("westfall_young", pf.wyoung, "WY Pr(>|t|)")],
)
def test_resampling_methods_equal_pyfixest(ols_family, method, theirs, col):
    d = ols_family
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = [impact.feols(f"y{k} ~ x | f", d, vcov={"cluster": "g"}) for k in range(4)]
        pfx = [pf.feols(f"y{k} ~ x | f", d, vcov={"CRV1": "g"}) for k in range(4)]
        ref = theirs(pfx, "x", reps=B_REF, seed=1).T
    res = impact.adjust([(f, "x") for f in ours], method, B=B_REF, seed=1)
    np.testing.assert_allclose(res.table["statistic"], ref["t value"].astype(float), rtol=1e-8)
    p_ref = ref[col].to_numpy(dtype=float)
    sd = np.sqrt(2 * np.maximum(p_ref, 0.01) * (1 - p_ref) / B_REF)
    assert np.all(np.abs(res.table["p_adjusted"].to_numpy() - p_ref) <= MC_SDS * sd)
    # step-down: adjusted >= unadjusted bootstrap-free p-values is not guaranteed, but
    # adjusted p-values are monotone in |t|
    order = np.argsort(-np.abs(res.table["statistic"].to_numpy()))
    assert np.all(np.diff(res.table["p_adjusted"].to_numpy()[order]) >= 0)


def _staggered(seed: int, U: int = 240, T: int = 6, outcomes: int = 3, effect: float = 0.0):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(U), T)
    cell = unit // 8
    cohort = rng.choice([2002.0, 2003.0, 2004.0, np.nan], U)[unit]
    d = pd.DataFrame(
        {"firm": unit, "year": np.tile(np.arange(2000, 2000 + T), U), "cell": cell}
    ).assign(cohort=cohort)
    treated = (d["year"] >= d["cohort"]).to_numpy()
    common = rng.normal(size=len(d))
    for k in range(outcomes):
        d[f"y{k}"] = (
            rng.normal(size=U)[unit] + common + rng.normal(size=len(d))
            + rng.normal(size=U // 8)[cell] + effect * treated
        )  # fmt: skip
    return d


def _did_fits(d, outcomes=3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(unit="firm", time="year", cohort="cohort", vcov={"cluster": "cell"})
        return [impact.att_gt(d, y=f"y{k}", **kw) for k in range(outcomes)]


def test_did_and_feols_draw_jointly():
    """One weight per cell for every test: a test listed twice behaves as one test (the
    max over two identical columns is that column), and the family mixes estimators."""
    d = _staggered(3)
    fits = _did_fits(d)
    aggs = [f.aggregate("dynamic") for f in fits]
    single = impact.adjust({"a": (aggs[0], "ATT"), "b": (aggs[1], "ATT")}, B=1999, seed=4)
    twice = impact.adjust(
        {"a": (aggs[0], "ATT"), "a2": (aggs[0], "ATT"), "b": (aggs[1], "ATT")}, B=1999, seed=4
    )
    got = twice.table.set_index("test")["p_adjusted"]
    assert got["a"] == got["a2"] == single.table.set_index("test")["p_adjusted"]["a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ols = impact.feols("y0 ~ x | firm + year", d.assign(x=d["year"] >= d["cohort"]),
                           vcov={"cluster": "cell"})  # fmt: skip
    mixed = impact.adjust(
        [(aggs[0], "ATT"), (aggs[1], "rel_time::1"), (fits[2], fits[2].tidy()["term"][4]),
         (ols, "x")], "westfall_young", B=999, seed=2,
    )  # fmt: skip
    assert mixed.cluster == "cell" and mixed.n_clusters == 30 and len(mixed.tidy()) == 4
    assert (mixed.table["p_adjusted"] >= mixed.table["p_value"] - 0.05).all()
    assert "joint draws" in mixed.summary()


def _cluster_experiment(seed: int, G: int = 30, per: int = 20, outcomes: int = 3):
    """Treatment assigned to half of G clusters, no effect; outcomes share firm noise and
    cluster shocks (correlated tests, few clusters)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), per)
    d = pd.DataFrame({"g": g, "d": rng.permutation(np.arange(G) < G // 2)[g].astype(float)})
    d["x"] = rng.normal(size=len(d))
    common = rng.normal(size=len(d))
    for k in range(outcomes):
        d[f"y{k}"] = 0.5 * d["x"] + common + rng.normal(size=len(d)) + rng.normal(size=G)[g]
    return d


@pytest.mark.slow
def test_familywise_error_under_the_global_null():
    """Known truth: no effect of a cluster-level treatment on three correlated outcomes (30
    clusters). The share of replications in which Romano–Wolf (WCR draws) rejects any at 5%
    is at most 0.05 plus three binomial SE at 400 replications; the unadjusted tests
    reject more often."""
    reps, any_rw, any_raw = 400, 0, 0
    for r in range(reps):
        d = _cluster_experiment(5000 + r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = [impact.feols(f"y{k} ~ d + x", d, vcov={"cluster": "g"}) for k in range(3)]
        res = impact.adjust([(f, "d") for f in fits], B=399, seed=r)
        any_rw += bool((res.table["p_adjusted"] < 0.05).any())
        any_raw += bool((res.table["p_value"] < 0.05).any())
    se = np.sqrt(0.05 * 0.95 / reps)
    assert any_rw / reps <= 0.05 + 3 * se
    assert any_raw > any_rw


def test_bad_input(ols_family):
    d = ols_family
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [impact.feols(f"y{k} ~ x", d, vcov={"cluster": "g"}) for k in range(2)]
        by_f = impact.feols("y2 ~ x", d, vcov={"cluster": "f"})
        pois = impact.fepois("f ~ x", d)
    pair = [(f, "x") for f in fits]
    cases = [
        (dict(tests=pair[:1]), "at least two"),
        (dict(tests=[(fits[0], "z"), pair[1]]), "not a term"),
        (dict(tests=[fits[0], fits[1]]), "pair"),
        (dict(tests="x"), "list of"),
        (dict(tests=pair, method="sidak"), "method must be"),
        (dict(tests=pair, B=10), "B must be"),
        (dict(tests=pair, weights="gauss"), "weights must be"),
        (dict(tests=[*pair, (by_f, "x")]), "different clusters"),
        (dict(tests=[*pair, (pois, "x")]), "not clustered"),  # fepois: score bootstrap
        (
            dict(
                tests={
                    "a": pair[0],
                    "b": pair[1],
                    "w": (impact.wildboot(fits[0], param="x", B=99), "x"),
                }
            ),
            "no cluster scores",
        ),
        (dict(tests={"a": pair[0], "b": (fits[1], "x"), "c": ("r", "x")}), "not an impact"),
    ]
    for kw, match in cases:
        with pytest.raises(InvalidOptionError, match=match):
            impact.adjust(**kw)
    as_text = impact.feols("y2 ~ x", d.assign(g=d["g"].astype(str)), vcov={"cluster": "g"})
    with pytest.raises(InvalidOptionError, match="different types"):
        impact.adjust([*pair, (as_text, "x")])
    # the p-value methods take any result
    assert len(impact.adjust([*pair, (pois, "x")], "holm").table) == 3


def test_unclustered_att_gt_and_feols_by_unit_draw_jointly():
    """An unclustered att_gt resamples its units: named by the unit column, so a feols fit
    clustered by that column joins the same family."""
    d = _staggered(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = impact.att_gt(d, y="y0", unit="firm", time="year", cohort="cohort")
        ols = impact.feols("y1 ~ x | firm + year", d.assign(x=d["year"] >= d["cohort"]),
                           vcov={"cluster": "firm"})  # fmt: skip
    res = impact.adjust([(gt.aggregate("simple"), "ATT"), (ols, "x")], B=199, seed=1)
    assert res.cluster == "firm" and res.n_clusters == d["firm"].nunique()
