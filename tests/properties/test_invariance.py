"""Layer 6: results do not depend on row order, id types, dtypes, names or the vcov choice."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close, random_panel
from hypothesis import given, settings
from hypothesis import strategies as st

import impact

FML = "y ~ x1 + x2 | unit + year"
VCOV = {"cluster": "unit"}


def _fit(df, formula=FML, **kw):
    kw.setdefault("vcov", VCOV)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols(formula, data=df, **kw)


@pytest.fixture(scope="module")
def base():
    df = random_panel(31)
    return df, _fit(df)


def _same(a, b, rtol=RTOL_CLOSED_FORM):
    assert a.nobs == b.nobs and a.n_clusters == b.n_clusters and a.df_t == b.df_t
    assert list(a.coef.index) == list(b.coef.index)
    assert_close(a.coef.to_numpy(), b.coef.to_numpy(), rtol=rtol)
    assert_close(a.se.to_numpy(), b.se.to_numpy(), rtol=rtol)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order(base, seed):
    df, ref = base
    perm = np.random.default_rng(seed).permutation(len(df))
    _same(_fit(df.iloc[perm]), ref)


@pytest.mark.parametrize(
    "relabel",
    [
        lambda s: "firm-" + s.astype(str),
        lambda s: s.astype("category"),
        lambda s: (s * 7919 + 13).astype("int32"),
        lambda s: s.astype(float),
    ],
    ids=["str", "category", "int32-permuted", "float"],
)
def test_relabelled_ids(base, relabel):
    df, ref = base
    _same(_fit(df.assign(unit=relabel(df["unit"]))), ref)


@pytest.mark.parametrize(
    "time",
    [
        lambda s: pd.PeriodIndex(s.astype(str), freq="Y").to_series(index=s.index),
        lambda s: pd.to_datetime(s.astype(str) + "-06-30"),
        lambda s: s.astype("int16"),
    ],
    ids=["period", "datetime", "int16"],
)
def test_time_types(base, time):
    df, ref = base
    _same(_fit(df.assign(year=time(df["year"]))), ref)


def test_time_types_give_same_panel_codes(base):
    df, _ = base
    p0 = impact.Panel(df, unit="unit", time="year")
    per = pd.PeriodIndex(df["year"].astype(str), freq="Y").to_series(index=df.index)
    p1 = impact.Panel(df.assign(year=per), unit="unit", time="year")
    dt = pd.to_datetime(df["year"].astype(str) + "-03-01")
    p2 = impact.Panel(df.assign(year=dt), unit="unit", time="year", freq="Y")
    for p in (p1, p2):
        assert np.array_equal(p.time_codes, p0.time_codes)
        assert np.array_equal(p.unit_codes, p0.unit_codes)


def test_integer_and_float_columns():
    df = random_panel(32)
    df["xi"] = np.round(df["x1"] * 10).astype("int64")
    df["yi"] = np.round(df["y"] * 10).astype("int32")
    a = _fit(df, "yi ~ xi + x2 | unit + year")
    b = _fit(df.astype({"xi": float, "yi": float}), "yi ~ xi + x2 | unit + year")
    _same(a, b)
    assert abs(a.coef["xi"]) > 0


def test_column_names_that_collide_with_internal_words():
    df = random_panel(33)
    renamed = df.rename(
        columns={"y": "t", "x1": "g", "x2": "coef", "unit": "y", "year": "weights", "w": "fe"}
    )
    a = _fit(df, vcov={"cluster": "unit"}, weights="w")
    b = _fit(renamed, "t ~ g + coef | y + weights", vcov={"cluster": "y"}, weights="fe")
    assert_close(a.coef.to_numpy(), b.coef.to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert_close(a.se.to_numpy(), b.se.to_numpy(), rtol=RTOL_CLOSED_FORM)


@settings(max_examples=8, deadline=None)
@given(c=st.sampled_from([1e-6, 0.01, 3.0, 1e4, 1e8]))
def test_rescaled_outcome(base, c):
    df, ref = base
    fit = _fit(df.assign(y=df["y"] * c))
    assert_close(fit.coef.to_numpy(), c * ref.coef.to_numpy(), rtol=1e-9)
    assert_close(fit.se.to_numpy(), c * ref.se.to_numpy(), rtol=1e-9)


def test_extra_columns_do_not_matter(base):
    df, ref = base
    extra = df.assign(junk=np.nan, s="text", t=1)
    _same(_fit(extra), ref)


def test_input_frame_unchanged():
    df = random_panel(34)
    df["cat"] = df["ind"].astype("category")
    df.loc[[0, 1], "y"] = np.nan
    copy = df.copy(deep=True)
    dtypes = df.dtypes.copy()
    _fit(df, "y ~ x1 + C(cat) + i(ind, ref=0):x2 | unit + grp^year", weights="w")
    impact.Panel(df, unit="unit", time="year").lag("y")
    assert df.equals(copy)
    assert df.dtypes.equals(dtypes)


def test_vcov_never_changes_sample_or_estimates(base):
    df, _ = base
    fits = [
        _fit(df, vcov=v)
        for v in (
            "iid",
            "hetero",
            {"cluster": "unit"},
            {"cluster": ["unit", "year"]},
            {"CRV3": "region"},
        )
    ]
    for f in fits[1:]:
        assert f.nobs == fits[0].nobs
        assert np.array_equal(f.coef.to_numpy(), fits[0].coef.to_numpy())
