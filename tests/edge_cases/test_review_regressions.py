"""Regressions found by an independent review of the linear core (each compared to a peer)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_ITERATIVE, RTOL_PEER, assert_close

import impact

pf = pytest.importorskip("pyfixest")


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    n = 400
    d = pd.DataFrame(
        {
            "a": rng.integers(0, 8, n),
            "b": rng.integers(0, 5, n),
            "cat": rng.integers(0, 4, n),
            "m": rng.integers(0, 3, n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    d["y"] = d["x1"] + 0.5 * d["x2"] + 0.3 * d["a"] + rng.normal(size=n)
    return d


def _both(fml, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols(fml, data=d, **kw), pf.feols(fml, data=d, fixef_tol=1e-13)


def test_i_with_numeric_interaction_keeps_every_level(df):
    ours, ref = _both("y ~ i(cat, x1) | a", df)
    assert len(ours.coef) == 4
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_PEER)


def test_i_interaction_does_not_drop_a_later_categorical_level(df):
    ours, ref = _both("y ~ 0 + i(cat, x1) + C(m)", df)
    assert_close(ours.ssr, float(np.sum(ref.resid() ** 2)), rtol=RTOL_PEER)


def test_predict_uses_the_training_coding(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols("y ~ x1 + C(cat) | a", data=df)
    new = df[df["cat"] == 1].head(5)  # lacks the reference level 0
    assert_close(fit.predict(new).to_numpy(), fit.predict().loc[new.index].to_numpy(), rtol=1e-12)
    unseen = new.assign(cat=99)
    assert fit.predict(unseen).isna().all()


def test_regressor_with_large_level_is_not_dropped(df):
    d = df.assign(x1=1e7 + df["x1"])
    ours, ref = _both("y ~ x1 + x2 | a + b", d)
    assert list(ours.coef.index) == ["x1", "x2"]
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)


def test_iterative_demeaning_is_accurate_with_large_offsets():
    rng = np.random.default_rng(1)
    n = 40_000
    d = pd.DataFrame(
        {
            "f1": rng.integers(0, 8000, n),
            "f2": rng.integers(0, 4000, n),
            "f3": rng.integers(0, 3500, n),
            "x1": rng.normal(size=n),
        }
    )
    d["y"] = d["x1"] + rng.normal(size=n) + 1e6
    d["x1"] = d["x1"] + 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = impact.feols("y ~ x1 | f1 + f2 + f3", data=d)
        ref = pf.feols("y ~ x1 | f1 + f2 + f3", data=d, fixef_tol=1e-14)
    assert ours.demean_strategy == "map"
    assert_close(ours.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)
    assert_close(ours.se.to_numpy(), ref.se().to_numpy(), rtol=1e-5)


def test_nested_fixed_effects_rank_with_weights():
    rng = np.random.default_rng(2)
    n = 2000
    firm = rng.integers(0, 300, n)
    d = pd.DataFrame(
        {
            "firm": firm,
            "ind": firm % 20,
            "year": rng.integers(0, 8, n),
            "x": rng.normal(size=n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    d["y"] = d["x"] + rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols("y ~ x | firm + ind + year", data=d, weights="w", drop_singletons=False)
    n_firms = d["firm"].nunique()
    assert fit.df_resid == n - 1 - (n_firms + d["year"].nunique() - 1)


# ---------------------------------------------------------------- session 2026-11-27 review


def _two_cohorts(never: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    U, T = 60, 6
    groups = [np.nan, 2, 4] if never else [2, 4]
    rows = [(i, t, groups[i % len(groups)]) for i in range(U) for t in range(T)]
    df = pd.DataFrame(rows, columns=["id", "t", "g"])
    treated = (df["t"] >= df["g"]).to_numpy()
    df["y"] = (
        5
        + 0.2 * rng.normal(size=U)[df["id"]]
        + 3.0 * df["t"]
        + 1.0 * treated
        + rng.normal(scale=0.05, size=len(df))
    )
    return df


def test_etwfe_drops_periods_without_comparison_rows_instead_of_misattributing():
    """No never-treated units, not-yet-treated controls: from the last cohort's start
    nobody is untreated, so those periods carry no comparison (before the fix their cells
    came out near 13 for a true effect of 1)."""
    df = _two_cohorts(never=False)
    with pytest.warns(impact.errors.SampleDropWarning, match="without a comparison"):
        res = impact.etwfe(df, y="y", unit="id", time="t", cohort="g", family="linear")
    assert set(res.cells["period"]) == {2, 3}
    assert np.all(np.abs(res.cells["estimate"] - 1.0) < 0.1)
    assert res.sample_log.dropped("no_comparison") == 120


def test_etwfe_never_controls_drop_a_cohort_without_its_reference_period():
    df = _two_cohorts(never=True)
    d = df[~((df["g"] == 4) & (df["t"] == 3))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.etwfe(d, y="y", unit="id", time="t", cohort="g", control="never")
    assert set(res.cells["cohort"]) == {2}
    with pytest.raises(impact.errors.EmptySampleError, match="never-treated"):
        impact.etwfe(
            _two_cohorts(never=False), y="y", unit="id", time="t", cohort="g", control="never"
        )


def test_etwfe_unidentified_cells_leave_with_their_rows_and_a_warning():
    """A category nested in cohort 4 with no untreated rows after period 3: its cells
    are not identified; their rows must not join the comparison."""
    df = _two_cohorts(never=True)
    df["sector"] = np.where(df["g"] == 4, 9, df["id"] % 2)
    with pytest.warns(impact.errors.ImpactWarning, match="not identified"):
        res = impact.etwfe(
            df, y="y", unit="id", time="t", cohort="g", family="linear", fixed_effects="sector^t"
        )
    assert 4 not in set(res.cells["cohort"])
    assert np.all(np.abs(res.cells["estimate"] - 1.0) < 0.1)


def test_event_study_etwfe_passes_warnings_through():
    df = _two_cohorts(never=True)
    df.loc[(df["g"] == 4) & (df["t"] == 5), "y"] = 0.0
    df["y"] = np.round(np.exp(df["y"] / 5))
    df.loc[(df["g"] == 4) & (df["t"] == 5), "y"] = 0.0
    with pytest.warns(impact.errors.ImpactWarning):
        impact.event_study(
            df, y="y", unit="id", time="t", cohort="g", estimator="etwfe", family="poisson"
        )


def test_imputation_refuses_counterfactuals_across_disconnected_components():
    """Never-treated A seen in periods 0-1, treated (g=2) in 0-2, never-treated B in 2-3:
    period 2's effect and the treated units' effects are not tied together, so a
    common shock from period 2 on must not move the estimate (it did by +100)."""
    rows = []
    for i in range(30):
        kind = i % 3
        periods = {0: (0, 1), 1: (0, 1, 2), 2: (2, 3)}[kind]
        for t in periods:
            rows.append((i, t, 2.0 if kind == 1 else np.nan, float(i % 7) + t))
    df = pd.DataFrame(rows, columns=["id", "t", "g", "y"])
    with pytest.raises(impact.errors.ImpactError, match="imputed"):
        impact.event_study(df, y="y", unit="id", time="t", cohort="g", estimator="imputation")


def test_cell_event_studies_log_matches_the_sample():
    df = _two_cohorts(never=True)
    df["pool"] = df["id"] % 6 != 0
    df.loc[df.index[(df["g"].isna() & ~df["pool"]).to_numpy()][:7], "y"] = np.nan
    for est in ("sun_abraham", "twfe"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.event_study(
                df, y="y", unit="id", time="t", cohort="g", estimator=est, control_pool="pool"
            )
        assert res.n_obs == res.sample_log.n_final


def test_sun_abraham_without_treated_rows_is_a_typed_error():
    df = _two_cohorts(never=True)
    df.loc[df["g"].notna(), "y"] = np.nan
    with pytest.raises(impact.errors.EmptySampleError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.event_study(df, y="y", unit="id", time="t", cohort="g", estimator="sun_abraham")


def test_uint64_ids_beyond_int64_are_coded():
    df = pd.DataFrame(
        {"firm": pd.array([2**63 + 10, 2**63 + 11, 2**63 + 10], dtype="UInt64"), "year": [1, 1, 2]}
    )
    p = impact.Panel(df, unit="firm", time="year")
    assert list(p.unit_codes) == [0, 1, 0]
    assert list(p.unit_labels) == [2**63 + 10, 2**63 + 11]


def test_did2s_with_an_absorbed_group_clusters_by_unit_by_default():
    from impact.estimators.did2s import did2s_fit
    from impact.estimators.imputation import FirstStageSpec

    df = _two_cohorts(never=True)
    df["st"] = df["id"] % 5
    spec = FirstStageSpec(y="y", unit="id", time="t", cohort="g", absorb="st")
    V0 = did2s_fit(df, spec, static=True).vcov
    V1 = did2s_fit(df, spec, static=True, cluster="id").vcov
    assert_close(V0, V1, rtol=1e-12)


def test_imputation_with_a_missing_cluster_and_etwfe_missing_clusters():
    df = _two_cohorts(never=True)
    df["region"] = (df["id"] % 4).astype(float)
    df.loc[df.index[5], "region"] = np.nan
    with pytest.raises(impact.errors.ImpactError, match="region"):
        impact.event_study(
            df,
            y="y",
            unit="id",
            time="t",
            cohort="g",
            estimator="imputation",
            vcov={"cluster": "region"},
        )
    with pytest.raises(impact.errors.ImpactError, match="region"):
        impact.etwfe(df, y="y", unit="id", time="t", cohort="g", vcov={"cluster": "region"})


def test_imputation_refuses_clusters_that_split_units():
    df = _two_cohorts(never=True)
    with pytest.raises(impact.errors.InvalidOptionError, match="changes within units"):
        impact.event_study(
            df, y="y", unit="id", time="t", cohort="g", estimator="imputation",
            vcov={"cluster": "t"},
        )  # fmt: skip
