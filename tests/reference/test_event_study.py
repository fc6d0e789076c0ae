"""event_study: TWFE dummies against pyfixest, the CS overlay against moderndid, bands, plot."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import QUERY_ENGINES, RTOL_CLOSED_FORM, RTOL_ITERATIVE_SE, RTOL_PEER, assert_close
from peer_inputs import binned_rel_time
from scipy import stats

import impact

md = pytest.importorskip("moderndid")
pf = pytest.importorskip("pyfixest")


@pytest.fixture(scope="module")
def mpdta():
    return impact.datasets.load("mpdta")


def _es(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.event_study(
            d, y="lemp", unit="countyreal", time="year", cohort="first.treat", window=(-3, 3), **kw
        )


@pytest.mark.parametrize("engine", [None, *QUERY_ENGINES])
def test_twfe_equals_pyfixest_relative_time_dummies(mpdta, engine):
    res = _es(mpdta, engine=engine)
    d = binned_rel_time(mpdta, "first.treat", 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(
            "lemp ~ i(rel, ref=-1) | countyreal + year", data=d, vcov={"CRV1": "countyreal"}
        )
    tab = res.table[res.table["rel_time"] != -1]
    assert_close(tab["estimate"].to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)
    assert_close(tab["std_error"].to_numpy(), ref.se().to_numpy(), rtol=RTOL_PEER)


@pytest.mark.parametrize("engine", [None, *QUERY_ENGINES])
def test_cs_equals_moderndid_universal_base(mpdta, engine):
    res = _es(mpdta, estimator="cs", engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(
            mpdta,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            base_period="universal",
            boot=False,
        )
        agg = md.aggte(ref, type="dynamic", boot=False, cband=False)
    e = np.asarray(agg.event_times)
    keep = (e != -1) & (e >= -3) & (e <= 3)
    tab = res.table[res.table["rel_time"] != -1]
    assert_close(
        tab["estimate"].to_numpy(), np.asarray(agg.att_by_event)[keep], rtol=RTOL_PEER, atol=1e-12
    )
    assert_close(tab["std_error"].to_numpy(), np.asarray(agg.se_by_event)[keep], rtol=RTOL_PEER)
    assert_close(res.att, agg.overall_att, rtol=RTOL_PEER)


def test_simultaneous_band_contains_pointwise(mpdta):
    res = _es(mpdta)
    tab = res.table.dropna()
    assert (tab["band_low"] < tab["conf_low"]).all() and (tab["band_high"] > tab["conf_high"]).all()
    width = (tab["band_high"] - tab["estimate"]) / tab["std_error"]
    m = len(tab)
    assert stats.norm.ppf(0.975) < width.iloc[0] < stats.norm.ppf(1 - 0.025 / m)


def test_user_column_named_like_the_internal_one(mpdta):
    a = _es(mpdta)
    b = _es(mpdta.assign(rel_time="text"))
    assert a.table.equals(b.table)


def test_plot_overlays_and_returns_axes(mpdta):
    import matplotlib

    matplotlib.use("Agg")
    ax = impact.plot_event_study([_es(mpdta), _es(mpdta, estimator="cs")])
    assert ax.get_legend() is not None
    assert len(ax.get_legend().get_texts()) == 2


@pytest.mark.parametrize("engine", [None, *QUERY_ENGINES])
def test_sun_abraham_equals_diff_diff(mpdta, engine):
    dd = pytest.importorskip("diff_diff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.SunAbraham().fit(
            mpdta, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat"
        )
        res = impact.event_study(
            mpdta,
            y="lemp",
            unit="countyreal",
            time="year",
            cohort="first.treat",
            estimator="sun_abraham",
            window=(-4, 3),
            engine=engine,
        )
    effects = ref.event_study_effects
    tab = res.table[res.table["rel_time"] != -1]
    assert list(tab["rel_time"]) == sorted(int(e) for e in effects)
    assert_close(
        tab["estimate"].to_numpy(),
        np.array([effects[e]["effect"] for e in sorted(effects)]),
        rtol=RTOL_PEER,
        atol=1e-12,
    )
    assert_close(
        tab["std_error"].to_numpy(),
        np.array([effects[e]["se"] for e in sorted(effects)]),
        rtol=RTOL_PEER,
    )


def test_sun_abraham_equals_cs_without_covariates(mpdta):
    """With never-treated controls and no covariates both identify the same contrasts."""
    sa = _es(mpdta, estimator="sun_abraham")
    cs = _es(mpdta, estimator="cs")
    assert_close(
        sa.table["estimate"].to_numpy(), cs.table["estimate"].to_numpy(), rtol=1e-10, atol=1e-14
    )


def test_imputation_equals_diff_diff(mpdta):
    """Borusyak-Jaravel-Spiess imputation: horizon effects, Theorem 3 SEs and the overall ATT."""
    dd = pytest.importorskip("diff_diff")
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ImputationDiD().fit(
            mpdta,
            outcome="lemp",
            unit="countyreal",
            time="year",
            first_treat="first.treat",
            aggregate="event_study",
        )
    fit = imputation_fit(
        mpdta, FirstStageSpec(y="lemp", unit="countyreal", time="year", cohort="first.treat")
    )
    effects = {k: v for k, v in ref.event_study_effects.items() if k >= 0}
    assert list(fit.horizons) == sorted(effects)
    assert_close(
        fit.estimate, np.array([effects[k]["effect"] for k in sorted(effects)]), rtol=RTOL_PEER
    )
    assert_close(
        np.sqrt(np.diag(fit.vcov)),
        np.array([effects[k]["se"] for k in sorted(effects)]),
        rtol=RTOL_PEER,
    )
    assert_close(fit.overall, ref.overall_att, rtol=RTOL_PEER)
    assert_close(fit.overall_se, ref.overall_se, rtol=RTOL_PEER)
    es = _es(mpdta, estimator="imputation")
    assert_close(es.table["estimate"].to_numpy(), fit.estimate, rtol=1e-12)
    assert -1 not in set(es.table["rel_time"])


def test_imputation_clustered_by_state_equals_diff_diff(mpdta):
    """Theorem 3 variance clustered at a level coarser than the unit (29 states of the
    counties): diff-diff's ImputationDiD(cluster=...)."""
    dd = pytest.importorskip("diff_diff")
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    m = mpdta.assign(state=mpdta["countyreal"] // 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ImputationDiD(cluster="state").fit(
            m, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat",
            aggregate="event_study",
        )  # fmt: skip
        fit = imputation_fit(
            m, FirstStageSpec(y="lemp", unit="countyreal", time="year", cohort="first.treat"),
            cluster="state",
        )  # fmt: skip
        es = _es(m, estimator="imputation", vcov={"cluster": "state"})
    effects = {k: v for k, v in ref.event_study_effects.items() if k >= 0}
    assert fit.n_clusters == 29
    assert_close(
        np.sqrt(np.diag(fit.vcov)),
        np.array([effects[k]["se"] for k in sorted(effects)]),
        rtol=RTOL_PEER,
    )
    assert_close(fit.overall_se, ref.overall_se, rtol=RTOL_PEER)
    assert_close(es.table["std_error"].to_numpy(), np.sqrt(np.diag(fit.vcov)), rtol=1e-12)
    assert "Clustered (state)" in es.model_info().vcov_label


def test_imputation_equals_twfe_with_one_cohort_and_constant_effect():
    """One treated cohort, never-treated controls, a constant effect: the imputation estimate
    of the average post effect equals the static TWFE coefficient on the same sample when
    treated units have all their post periods (closed form)."""
    rng = np.random.default_rng(8)
    n, T = 120, 6
    unit = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(T), n)
    g = np.where(np.arange(n) < 40, 3.0, np.nan)[unit]
    y = rng.normal(size=n)[unit] + 0.2 * year + rng.normal(size=unit.size) + 0.5 * (year >= g)
    import pandas as pd

    d = pd.DataFrame({"u": unit, "t": year, "g": g, "y": y, "d": (year >= g).astype(float)})
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    fit = imputation_fit(d, FirstStageSpec(y="y", unit="u", time="t", cohort="g"))
    # with a single cohort the imputation estimator is the DiD of post vs pre means
    treated = d["g"].notna()
    pre, post = d["t"] < 3, d["t"] >= 3
    did = (d.loc[treated & post, "y"].mean() - d.loc[treated & pre, "y"].mean()) - (
        d.loc[~treated & post, "y"].mean() - d.loc[~treated & pre, "y"].mean()
    )
    assert_close(fit.overall, did, rtol=1e-10)


#: pyfixest's did2s recovers its first stage's fixed effects with scipy's lsqr, whose
#: tolerances (1e-6 by default; ~1e-7 absolute errors in the coefficients since pyfixest
#: 0.60) the fixture below tightens to 1e-14: both sides then solve the same least
#: squares problem exactly, up to rounding and lsqr's residual convergence (~1e-13 seen).
RTOL_PYFIXEST_DID2S = 1e-9
ATOL_PYFIXEST_DID2S = 1e-10


@pytest.fixture
def exact_pyfixest_fixef(monkeypatch):
    """pyfixest's ``Feols.fixef`` with lsqr tolerances 1e-14 (did2s takes no option)."""
    from pyfixest.estimation.models.feols_ import Feols

    original = Feols.fixef

    def fixef(self, atol: float = 1e-14, btol: float = 1e-14):
        return original(self, atol=atol, btol=btol)

    monkeypatch.setattr(Feols, "fixef", fixef)


def test_did2s_equals_pyfixest_and_imputation(exact_pyfixest_fixef):
    from importlib import resources

    import pandas as pd

    from impact.estimators.did2s import did2s_fit
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    path = resources.files("pyfixest") / "did" / "data" / "df_het.csv"
    df = pd.read_csv(str(path))
    df["g2"] = df["g"].replace(0, np.nan)
    fit = did2s_fit(
        df, FirstStageSpec(y="dep_var", unit="unit", time="year", cohort="g2"), cluster="state"
    )
    rel, est, V = fit.rel_times, fit.estimate, fit.vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.did2s(
            df,
            yname="dep_var",
            first_stage="~ 0 | unit + year",
            second_stage="~ i(rel_year, ref=-1.0)",
            treatment="treat",
            cluster="state",
        )
    names = [f"rel_year::{float(r)}" for r in rel]
    assert_close(
        est, ref.coef()[names].to_numpy(), rtol=RTOL_PYFIXEST_DID2S, atol=ATOL_PYFIXEST_DID2S
    )
    assert_close(np.sqrt(np.diag(V)), ref.se()[names].to_numpy(), rtol=RTOL_PYFIXEST_DID2S)
    imp = imputation_fit(df, FirstStageSpec(y="dep_var", unit="unit", time="year", cohort="g2"))
    post = rel >= 0
    assert_close(est[post], imp.estimate, rtol=1e-8, atol=1e-12)
    es = impact.event_study(
        df,
        y="dep_var",
        unit="unit",
        time="year",
        cohort="g2",
        estimator="did2s",
        vcov={"cluster": "state"},
        window=(-5, 5),
    )
    assert set(es.table["rel_time"]) == set(range(-5, 6))
    with warnings.catch_warnings():  # summed by unit type in DuckDB: the same peer
        warnings.simplefilter("ignore")
        eng = impact.event_study(
            df, y="dep_var", unit="unit", time="year", cohort="g2", estimator="did2s",
            vcov={"cluster": "state"}, window=(-5, 5), engine="duckdb",
        )  # fmt: skip
    tab = eng.table[eng.table["rel_time"] != -1]
    names = [f"rel_year::{float(r)}" for r in tab["rel_time"]]
    assert_close(
        tab["estimate"].to_numpy(), ref.coef()[names].to_numpy(), rtol=RTOL_PYFIXEST_DID2S,
        atol=ATOL_PYFIXEST_DID2S,
    )  # fmt: skip
    assert_close(tab["std_error"].to_numpy(), ref.se()[names].to_numpy(), rtol=RTOL_PYFIXEST_DID2S)


def test_event_study_pretrend_test_uses_the_pre_coefficients(mpdta):
    res = _es(mpdta, estimator="sun_abraham")
    pre = [r for r in res.vcov.index if r < 0]
    theta = res.table.set_index("rel_time").loc[pre, "estimate"].to_numpy()
    V = res.vcov.loc[pre, pre].to_numpy()
    pt = res.pretrend_test()
    assert pt["df"] == len(pre)
    assert_close(pt["statistic"], float(theta @ np.linalg.solve(V, theta)), rtol=1e-10)
    assert np.isnan(_es(mpdta, estimator="imputation").pretrend_test()["p_value"])


@pytest.mark.parametrize("estimator", ["imputation", "did2s", "twfe", "sun_abraham", "cs"])
def test_cohort_varying_within_unit_is_an_error(mpdta, estimator):
    bad = mpdta.copy()
    bad.loc[
        (bad["countyreal"] == bad["countyreal"].iloc[0]) & (bad["year"] == 2005), "first.treat"
    ] = 2006
    with pytest.raises(impact.errors.ImpactError, match="varies within unit"):
        _es(bad, estimator=estimator)


#: pyfixest's did2s recovers unit + state-by-year effects iteratively; against the exact
#: dummy solution its second-stage coefficients differ by up to ~5e-6 on df_het.
ATOL_PYFIXEST_CELLS = 2e-5


def test_did2s_and_imputation_with_category_by_period_effects_equal_pyfixest():
    """First stage with unit + state-by-year effects: states share no units, so the
    unit-cell graph has one connected component per state, each normalised separately."""
    from importlib import resources

    import pandas as pd

    from impact.estimators.did2s import did2s_fit
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    path = resources.files("pyfixest") / "did" / "data" / "df_het.csv"
    df = pd.read_csv(str(path))
    df = df[df["state"] <= 8].reset_index(drop=True)  # whole states: dense dummies stay small
    df["g2"] = df["g"].replace(0, np.nan)
    df["state_year"] = df["state"] * 10_000 + df["year"]  # pyfixest's did2s takes no '^'
    fit = did2s_fit(
        df,
        FirstStageSpec(
            y="dep_var", unit="unit", time="year", cohort="g2", fixed_effects="state^year"
        ),
    )
    rel, est, V, log = fit.rel_times, fit.estimate, fit.vcov, fit.sample_log
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.did2s(
            df,
            yname="dep_var",
            first_stage="~ 0 | unit + state_year",
            second_stage="~ i(rel_year, ref=-1.0)",
            treatment="treat",
            cluster="unit",
        )
    assert log.dropped("not_imputable") == 0
    # exact reference for the estimates: dense dummy-variable first stage (lstsq)
    untreated = ~df["treat"].astype(bool).to_numpy()
    D = pd.get_dummies(df[["unit", "state_year"]].astype(str), drop_first=False)
    D = D.to_numpy(dtype=float)
    coef = np.linalg.lstsq(D[untreated], df["dep_var"].to_numpy()[untreated], rcond=None)[0]
    resid = df["dep_var"].to_numpy() - D @ coef
    r = df["rel_year"].to_numpy()
    exact = np.array([resid[r == k].mean() for k in rel])  # no intercept in stage 2
    assert_close(est, exact, rtol=RTOL_CLOSED_FORM, atol=1e-12)
    # pyfixest's first stage is iterative (fixef recovery to ~1e-8 per level, which
    # accumulates to ~5e-6 in the cell effects here): its SEs are compared at that class
    names = [f"rel_year::{float(k)}" for k in rel]
    assert_close(est, ref.coef()[names].to_numpy(), rtol=0, atol=ATOL_PYFIXEST_CELLS)
    assert_close(np.sqrt(np.diag(V)), ref.se()[names].to_numpy(), rtol=RTOL_ITERATIVE_SE)
    imp = imputation_fit(
        df,
        FirstStageSpec(
            y="dep_var", unit="unit", time="year", cohort="g2", fixed_effects="state^year"
        ),
    )
    assert_close(est[rel >= 0], imp.estimate, rtol=1e-8, atol=1e-12)
    plain = imputation_fit(df, FirstStageSpec(y="dep_var", unit="unit", time="year", cohort="g2"))
    assert np.max(np.abs(plain.estimate - imp.estimate)) > 1e-4  # the cells matter


def test_imputation_fixed_effects_must_interact_time(mpdta):
    with pytest.raises(impact.errors.InvalidOptionError, match="category"):
        _es(mpdta, estimator="imputation", fixed_effects="countyreal")


def test_did2s_reproduces_the_published_r_did2s_static_example():
    """R did2s README (v1.1.0): did2s(df_het, first_stage = ~ 0 | state + year,
    second_stage = ~ i(treat, ref = FALSE), cluster_var = "state") prints
    treat = TRUE 2.152*** (0.0476), 46,500 observations."""
    from importlib import resources

    import pandas as pd

    from impact.estimators.did2s import did2s_fit
    from impact.estimators.imputation import FirstStageSpec

    df = pd.read_csv(str(resources.files("pyfixest") / "did" / "data" / "df_het.csv"))
    df["g2"] = df["g"].replace(0, np.nan)
    fit = did2s_fit(
        df,
        FirstStageSpec(y="dep_var", unit="unit", time="year", cohort="g2", absorb="state"),
        cluster="state",
        static=True,
    )
    rel, est, V, log = fit.rel_times, fit.estimate, fit.vcov, fit.sample_log
    assert list(rel) == [0]
    assert abs(est[0] - 2.152) <= 0.0005  # half a unit of the printed digit
    assert abs(np.sqrt(V[0, 0]) - 0.0476) <= 0.00005
    assert log.n_final == 46_500


def test_imputation_overall_over_treated_observations_equals_diff_diff(mpdta):
    """``att_treated`` with a window through the last horizon is Borusyak, Jaravel &
    Spiess's overall ATT (every treated observation weighted equally) and its Theorem 3
    SE: diff-diff's ``overall_att``; ``att`` weights the horizons equally."""
    dd = pytest.importorskip("diff_diff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ImputationDiD().fit(
            mpdta, outcome="lemp", unit="countyreal", time="year", first_treat="first.treat",
            aggregate="event_study",
        )  # fmt: skip
        es = impact.event_study(
            mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat",
            estimator="imputation", window=(-3, 3),
        )  # fmt: skip
    assert_close(
        [es.att_treated, es.att_treated_se], [ref.overall_att, ref.overall_se], rtol=RTOL_PEER
    )
    w = es.att_weights
    assert_close(w["equal"].to_numpy(), np.full(4, 0.25), rtol=1e-15)
    assert_close(w["treated"].sum(), 1.0, rtol=1e-15)
    assert not np.isclose(es.att, es.att_treated)


def test_did2s_overall_over_treated_observations_equals_pyfixest(exact_pyfixest_fixef):
    """Gardner's static second stage (``~ treat``) is the treated-observation weighted
    average of the event-time coefficients: pyfixest's did2s coefficient. Its SE is the
    same average of pyfixest's event-study covariance; the static second stage's own SE
    is larger (0.0247 vs 0.0202 here), its residuals keeping the effects' variation
    across event times."""
    from importlib import resources

    import pandas as pd

    path = resources.files("pyfixest") / "did" / "data" / "df_het.csv"
    df = pd.read_csv(str(path))
    df["g2"] = df["g"].replace(0, np.nan)
    post = df.loc[(df["rel_year"] >= 0) & (df["rel_year"] < np.inf), "rel_year"]
    last = int(post.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        static = pf.did2s(
            df, yname="dep_var", first_stage="~ 0 | unit + year", second_stage="~ treat",
            treatment="treat", cluster="state",
        )  # fmt: skip
        dyn = pf.did2s(
            df, yname="dep_var", first_stage="~ 0 | unit + year",
            second_stage="~ i(rel_year, ref=-1.0)", treatment="treat", cluster="state",
        )  # fmt: skip
        es = impact.event_study(
            df, y="dep_var", unit="unit", time="year", cohort="g2", estimator="did2s",
            vcov={"cluster": "state"}, window=(-3, last),
        )  # fmt: skip
    assert_close(es.att_treated, float(static.coef()["treat"]), rtol=RTOL_PYFIXEST_DID2S)
    counts = post.value_counts().sort_index()
    names = [f"rel_year::{float(k)}" for k in counts.index]
    w = (counts / counts.sum()).to_numpy()
    V = dyn._vcov[np.ix_(*[[list(dyn.coef().index).index(n) for n in names]] * 2)]
    assert_close(es.att_treated_se, float(np.sqrt(w @ V @ w)), rtol=RTOL_PYFIXEST_DID2S)
    assert_close(es.att_weights["treated"].to_numpy(), w, rtol=1e-15)
