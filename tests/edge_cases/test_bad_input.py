"""VERIFICATION.md §3: every bad input gives a typed error or a counted drop."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import random_panel

import impact
from impact import errors


@pytest.fixture
def df():
    return random_panel(21)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_all_errors_are_value_errors():
    assert issubclass(errors.ImpactError, ValueError)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and name.endswith("Error"):
            assert issubclass(obj, errors.ImpactError)


def test_duplicated_unit_time_lists_pairs(df):
    bad = pd.concat([df, df.iloc[[0, 5]]], ignore_index=True)
    with pytest.raises(errors.DuplicateRowsError, match=r"2 \(unit, year\) pairs.*\(0, 2000\)"):
        impact.Panel(bad, unit="unit", time="year")


@pytest.mark.parametrize("col", ["unit", "year"])
def test_missing_ids(df, col):
    bad = df.astype({col: float})
    bad.loc[3, col] = np.nan
    with pytest.raises(errors.MissingIdError, match=col):
        impact.Panel(bad, unit="unit", time="year")


def test_missing_values_dropped_and_counted_per_column(df):
    bad = df.copy()
    bad.loc[[1, 2, 3], "y"] = np.nan
    bad.loc[[3, 4], "x1"] = np.inf
    bad.loc[[7], "year"] = np.nan
    with pytest.warns(errors.SampleDropWarning, match="5 rows with missing"):
        fit = impact.feols("y ~ x1 + x2 | unit + year", data=bad)
    rec = fit.sample_log.records[0]
    assert rec.step == "missing" and rec.n_rows == 5  # row 3 lacks both y and x1
    assert dict(rec.detail) == {"y": 3, "x1": 2, "year": 1}
    full = _quiet(impact.feols, "y ~ x1 + x2 | unit + year", data=df)
    assert fit.nobs + 5 + fit.sample_log.dropped(
        "singletons"
    ) == full.nobs + full.sample_log.dropped("singletons")


def test_entirely_missing_column_is_an_error(df):
    bad = df.assign(x2=np.nan)
    with pytest.raises(errors.EmptySampleError, match="'x2'.*all"):
        impact.feols("y ~ x1 + x2 | unit", data=bad)


def test_log_of_nonpositive_is_a_counted_drop(df):
    bad = df.copy()
    bad.loc[[0, 1], "x2"] = [-1.0, 0.0]
    fit = _quiet(
        impact.feols,
        "y ~ x1 + log(x2) | unit",
        data=bad.assign(x2=bad["x2"].abs() + (bad.index > 1)),
    )
    assert fit.sample_log.dropped("transform") == 1  # only the exact zero
    rec = next(r for r in fit.sample_log.records if r.step == "transform")
    assert dict(rec.detail) == {"log(x2)": 1}


def test_missing_cluster_is_an_error_not_a_drop(df):
    bad = df.astype({"region": float})
    bad.loc[10, "region"] = np.nan
    with pytest.raises(errors.ClusterError, match="'region'.*1 rows"):
        impact.feols("y ~ x1 | unit", data=bad, vcov={"cluster": "region"})
    # the same rows estimate fine without clustering: a vcov never changes the sample
    assert _quiet(impact.feols, "y ~ x1 | unit", data=bad).nobs > 0


def test_singletons_removed_iteratively_and_counted_per_dimension():
    # firm 2 and year 2003 are singletons; once firm 2 is gone, year 2002 is one too
    d = pd.DataFrame(
        {
            "f": [0, 0, 1, 1, 2, 3, 3, 4, 4],
            "t": [2000, 2001, 2000, 2001, 2002, 2003, 2002, 2000, 2001],
            "x": [1.0, 2.0, 0.5, 2.0, 3.0, 2.0, 1.0, 0.3, 0.9],
            "y": [1.0, 2.5, 0.0, 2.0, 4.0, 1.0, 0.0, 0.2, 1.1],
        }
    )
    with pytest.warns(errors.SampleDropWarning, match="singleton"):
        fit = impact.feols("y ~ x | f + t", data=d)
    assert fit.nobs == 6
    rec = next(r for r in fit.sample_log.records if r.step == "singletons")
    assert rec.n_rows == 3
    assert dict(rec.detail) == {"f": 1, "t": 2}


def test_collinear_nuisance_dropped_with_named_warning(df):
    d = df.assign(x3=2 * df["x1"] - df["x2"], const_in_unit=df["unit"] * 0.5)
    with pytest.warns(
        errors.CollinearityWarning, match=r"x3 \(collinear with other.*const_in_unit"
    ):
        fit = impact.feols("y ~ x1 + x2 + x3 + const_in_unit | unit", data=d)
    assert list(fit.coef.index) == ["x1", "x2"]
    assert fit.collinear == ("x3", "const_in_unit")
    ref = _quiet(impact.feols, "y ~ x1 + x2 | unit", data=d)
    assert fit.small_sample.K == ref.small_sample.K
    assert np.allclose(fit.se.to_numpy(), ref.se.to_numpy(), rtol=1e-12, atol=0)


def test_collinear_coefficient_of_interest_is_an_error(df):
    d = df.assign(treat=(df["unit"] % 2).astype(float))
    with pytest.raises(errors.CollinearityError, match="'treat'"):
        _quiet(impact.feols, "y ~ treat + x1 | unit", data=d, protect=["treat"])


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({3: -1.0}, "negative"),
        ({3: np.nan}, "missing or infinite"),
        ({3: np.inf}, "missing or infinite"),
    ],
)
def test_bad_weights(df, values, match):
    bad = df.copy()
    for i, v in values.items():
        bad.loc[i, "w"] = v
    with pytest.raises(errors.InvalidWeightsError, match=match):
        impact.feols("y ~ x1 | unit", data=bad, weights="w")


def test_all_zero_weights(df):
    with pytest.raises(errors.InvalidWeightsError, match="zero on every row"):
        impact.feols("y ~ x1 | unit", data=df.assign(w=0.0), weights="w")


def test_zero_weights_are_counted_drops(df):
    d = df.copy()
    d.loc[[0, 1, 2], "w"] = 0.0
    fit = _quiet(impact.feols, "y ~ x1 | unit", data=d, weights="w", drop_singletons=False)
    assert fit.sample_log.dropped("zero_weight") == 3
    ref = _quiet(impact.feols, "y ~ x1 | unit", data=d.iloc[3:], weights="w", drop_singletons=False)
    assert np.allclose(fit.coef.to_numpy(), ref.coef.to_numpy(), rtol=1e-12, atol=0)


def test_one_cluster_is_an_error(df):
    with pytest.raises(errors.ClusterError, match="at least 2"):
        impact.feols("y ~ x1 | unit", data=df.assign(c=1), vcov={"cluster": "c"})


def test_few_clusters_warn(df):
    with pytest.warns(errors.FewClustersWarning, match="only 12 clusters"):
        impact.feols("y ~ x1 | unit", data=df, vcov={"cluster": "region"})


def test_nonconvergence_is_a_typed_error(df):
    with pytest.raises(errors.ConvergenceError, match="did not converge"):
        _quiet(
            impact.feols,
            "y ~ x1 | unit + year + grp",
            data=df,
            demean_strategy="map",
            fixef_maxiter=2,
        )


def test_unknown_column_suggests_close_match(df):
    with pytest.raises(errors.ColumnNotFoundError, match="Did you mean 'x1'"):
        impact.feols("y ~ x11 | unit", data=df)


@pytest.mark.parametrize(
    ("vcov", "match"),
    [("hetro", "Did you mean 'hetero'"), ({"clustr": "unit"}, "Did you mean 'cluster'")],
)
def test_misspelt_option_suggests(df, vcov, match):
    with pytest.raises(errors.InvalidOptionError, match=match):
        impact.feols("y ~ x1 | unit", data=df, vcov=vcov)


@pytest.mark.parametrize(
    "formula",
    ["y ~ x1 | unit | year", "y x1", "y ~ foo(x1)", "y ~ x1 - x2", "y ~ (x1", "C(y) ~ x1"],
)
def test_bad_formulas(df, formula):
    with pytest.raises(errors.FormulaError):
        impact.feols(formula, data=df)


def test_string_regressor_needs_C(df):
    with pytest.raises(errors.FormulaError, match=r"C\(s\)"):
        _quiet(impact.feols, "y ~ x1 + s | unit", data=df.assign(s="a"))


def test_missing_reference_level(df):
    with pytest.raises(errors.FormulaError, match="reference level"):
        _quiet(impact.feols, "y ~ i(ind, ref=99) | unit", data=df)


@pytest.mark.parametrize("bad", ["a", 1.5])
def test_bad_time_values(df, bad):
    d = df.astype({"year": object})
    d.loc[0, "year"] = bad
    with pytest.raises(errors.InvalidTimeError):
        impact.Panel(d.astype({"year": type(bad)}) if bad == 1.5 else d, unit="unit", time="year")


def test_datetime_without_freq(df):
    """Year starts are a regular calendar grid (freq inferred); scattered days are not."""
    d = df.assign(date=pd.to_datetime(df["year"].astype(str) + "-01-01"))
    p = impact.Panel(d, unit="unit", time="date")
    assert p.freq == "Y" and p.n_periods == df["year"].nunique()
    days = pd.to_datetime("2000-01-01") + pd.to_timedelta(df["year"] * 37 % 101, unit="D")
    with pytest.raises(errors.InvalidTimeError, match="freq="):
        impact.Panel(df.assign(date=days), unit="unit", time="date")


def test_no_residual_degrees_of_freedom(df):
    d = pd.DataFrame(
        {"f": [0, 0, 1, 1], "t": [0, 1, 0, 1], "x": [1.0, 2.0, 0.5, 3.0], "y": [1.0, 2.0, 0.0, 1.0]}
    )
    with pytest.raises(errors.EmptySampleError, match="4 observations and 4 parameters"):
        _quiet(impact.feols, "y ~ x | f + t", data=d)
