"""Regression tests from a hostile review of the engine event studies: a cluster column
named like an engine result column, treatment effects far larger than the noise, exact
fits, columns DuckDB cannot read or use as ids, and the sup-t draws' independence of the
eigensolver's signs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import ColumnTypeError
from impact.inference.bands import symmetric_root

duckdb = pytest.importorskip("duckdb")
from impact.engine import DuckDBEngine  # noqa: E402

#: The conformance tolerance of tests/unit/test_engine_event_study.py.
ENGINE_RTOL = 1e-10
#: With effects 1e5 times the noise both paths' standard errors carry rounding of about
#: 1e-16 x 1e5^2 / (terms summed) relative: 1e-9 measured in memory; the engine's
#: type-centred moments keep it there (before the fix: 3e-5, and 6x at worse scales).
RTOL_HUGE_EFFECTS = 1e-7
#: An exact fit's variance is rounding noise, about eps * var(y) (1e-16 here), so its
#: square root, the standard error, is about 1e-8 at this outcome's unit scale; where the
#: noise lands depends on the BLAS's summation order (1.5e-9 for Sun-Abraham with one BLAS
#: thread, below 1e-15 with two). A zero standard error is one below sqrt(eps) * scale.
EXACT_FIT_SE = 1e-7
KW = dict(y="log_emp", unit="firm_id", time="year", cohort="join_year")


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.event_study(data, **kw)


@pytest.mark.parametrize("name", ["units", "f0", "f1_0", "m2_0_0"])
@pytest.mark.parametrize("estimator", ["sun_abraham", "imputation", "cs"])
def test_cluster_named_like_a_result_column(name, estimator):
    df = impact.datasets.load("cluster_panel").rename(columns={"region": name})
    kw = dict(KW, estimator=estimator, vcov={"cluster": name})
    a, b = _fit(df, **kw), _fit(df, **kw, engine="duckdb")
    np.testing.assert_allclose([b.att, b.att_se], [a.att, a.att_se], rtol=ENGINE_RTOL)
    assert (b.n_obs, b.n_units, b.clusters) == (a.n_obs, a.n_units, a.clusters)


def _huge_effects(scale: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    units, years = np.arange(150), np.arange(2004, 2016)
    g = rng.choice([2008.0, 2010.0, 2012.0, np.nan], size=len(units))
    df = pd.DataFrame(
        {"id": np.repeat(units, len(years)), "yr": np.tile(years, len(units)),
         "g": np.repeat(g, len(years))}
    )  # fmt: skip
    rel = df["yr"] - df["g"]
    effect = np.where(rel >= 0, scale * (1 + rel**2), 0.0)
    return df.assign(y=rng.normal(size=len(df)) + np.nan_to_num(effect))


@pytest.mark.parametrize("estimator", ["sun_abraham", "imputation", "did2s", "cs"])
def test_standard_errors_keep_their_digits_with_huge_effects(estimator):
    df = _huge_effects(1e5)
    kw = dict(y="y", unit="id", time="yr", cohort="g", estimator=estimator)
    a, b = _fit(df, **kw), _fit(df, **kw, engine="duckdb")
    np.testing.assert_allclose(b.table["std_error"], a.table["std_error"], rtol=RTOL_HUGE_EFFECTS)
    np.testing.assert_allclose(b.att_se, a.att_se, rtol=RTOL_HUGE_EFFECTS)


def test_an_exact_fit_has_a_zero_not_a_missing_standard_error():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": [0] * 5 + [1] * 3 + [2] * 4,
                       "yr": [0, 2, 4, 8, 10, 6, 8, 10, 0, 2, 6, 10],
                       "g": [np.nan] * 8 + [4.0] * 4, "y": rng.normal(size=12)})  # fmt: skip
    for estimator in ("imputation", "did2s", "sun_abraham"):
        for engine in (None, "duckdb"):
            res = _fit(df, y="y", unit="id", time="yr", cohort="g", estimator=estimator,
                       window=(-4, 1), engine=engine)  # fmt: skip
            assert np.isfinite(res.att_se) and res.att_se < EXACT_FIT_SE


def test_columns_duckdb_cannot_read_or_use_as_ids_are_typed():
    df = impact.datasets.load("cluster_panel")
    period = df.assign(year=pd.PeriodIndex(df["year"].astype(str), freq="Y"))
    with pytest.raises(ColumnTypeError, match="year"):
        impact.event_study(period, **KW, engine="duckdb")
    con = duckdb.connect()
    con.register("panel", df)
    rel = con.sql("SELECT *, {'a': region} AS st FROM panel")
    with pytest.raises(ColumnTypeError, match="not ids"):
        _fit(rel, **KW, vcov={"cluster": "st"}, engine=DuckDBEngine(con))
    text_y = df.assign(log_emp=df["log_emp"].astype(object))
    for engine in (None, "duckdb"):
        with pytest.raises(ColumnTypeError):
            impact.event_study(text_y, **KW, engine=engine)


def test_sup_t_draws_use_the_unique_symmetric_root():
    """A triangular or eigenvector root depends on the eigensolver's signs (the bands
    differed by 2e-3 between equal covariances); the symmetric root is unique."""
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    s3 = np.sqrt(3.0)
    want = np.array([[s3 + 1, s3 - 1], [s3 - 1, s3 + 1]]) / 2  # eigenvalues 3 and 1
    np.testing.assert_allclose(symmetric_root(A), want, rtol=1e-14)
    np.testing.assert_allclose(symmetric_root(np.eye(3) * 4.0), np.eye(3) * 2.0, rtol=1e-14)


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham", "imputation"])
def test_clustered_by_the_cohort_column_itself(estimator):
    """Clusters are the user's cohort codes (0 = never treated is one cluster): memory
    read the column after recoding 0 to missing and refused it."""
    df = impact.datasets.load("cluster_panel")
    df = df.assign(g=df["join_year"].fillna(0))
    kw = dict(y="log_emp", unit="firm_id", time="year", cohort="g", never_treated=0,
              vcov={"cluster": "g"}, estimator=estimator)  # fmt: skip
    a, b = _fit(df, **kw), _fit(df, **kw, engine="duckdb")
    assert a.clusters == b.clusters == {"g": df["g"].nunique()}
    np.testing.assert_allclose([b.att, b.att_se], [a.att, a.att_se], rtol=ENGINE_RTOL)


#: Memory's own rounding of these SEs (measured 4e-7 against the fit without the huge
#: terms): the engine must match it, not zero the variance as rounding.
RTOL_HUGE_TERMS = 1e-5


@pytest.mark.parametrize("kind", ["effect 1e8, weights 1e-6..1e6", "trend 1e9"])
def test_att_gt_keeps_real_variances_beside_huge_terms(kind):
    df = impact.datasets.load("cluster_panel")
    rng = np.random.default_rng(1)
    firms = df["firm_id"].unique()
    w = 10.0 ** rng.uniform(-6, 6, len(firms))
    df["w"] = df["firm_id"].map(dict(zip(firms, w, strict=True)))
    post = (df["year"] >= df["join_year"]).fillna(False)
    if kind.startswith("effect"):
        huge = 1e8 * post * (df["year"] - df["join_year"] + 1).fillna(0)
        kw = {"weights": "w"}
    else:
        huge, kw = 1e9 * (df["year"] - 2000), {}
    df["yh"] = df["log_emp"] + huge
    call = dict(y="yh", unit="firm_id", time="year", cohort="join_year", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = impact.att_gt(df, **call), impact.att_gt(df, **call, engine="duckdb")
    np.testing.assert_allclose(b.table["std_error"], a.table["std_error"], rtol=RTOL_HUGE_TERMS)
    for agg in ("simple", "group"):
        np.testing.assert_allclose(b.aggregate(agg).std_error, a.aggregate(agg).std_error,
                                   rtol=RTOL_HUGE_TERMS)  # fmt: skip
