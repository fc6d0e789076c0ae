"""prodest on bad and awkward input: typed errors, counted drops, no mutation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import PRODEST_COLUMNS

import impact
from impact.errors import (
    ColumnNotFoundError,
    ImpactWarning,
    InvalidOptionError,
    NonPositiveInputError,
    SampleDropWarning,
)

ARGS = dict(output="va", free="emp", state="capital", unit="firm_id", time="year")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    df, _ = impact.datasets.cluster_panel(n_firms=300, seed=11, scenario="S2")
    return df.assign(materials=np.exp(df["log_materials"]))


def test_levels_with_zero_input_name_the_column(small):
    bad = small.copy()
    bad.loc[bad.index[5], "capital"] = 0.0
    with pytest.raises(NonPositiveInputError, match="'capital'"):
        impact.prodest(bad, in_logs=False, method="ols", **ARGS)


def test_log_of_zero_in_log_columns_is_an_error(small):
    bad = small.copy()
    bad.loc[bad.index[3], "log_emp"] = -np.inf
    with pytest.raises(NonPositiveInputError, match="'log_emp'"):
        impact.prodest(
            bad,
            output="log_va",
            free="log_emp",
            state="log_k",
            unit="firm_id",
            time="year",
            method="ols",
        )


def test_levels_are_logged_and_frame_untouched(small):
    before = small.copy()
    lv = impact.prodest(small, in_logs=False, method="ols", **ARGS)
    lg = impact.prodest(
        small,
        output="log_va",
        free="log_emp",
        state="log_k",
        unit="firm_id",
        time="year",
        method="ols",
    )
    np.testing.assert_allclose(lv.coef.to_numpy(), lg.coef.to_numpy(), rtol=1e-8)
    pd.testing.assert_frame_equal(small, before)


def test_missing_values_are_dropped_and_counted(small):
    bad = small.copy()
    bad.loc[bad.index[:7], "log_materials"] = np.nan
    with pytest.warns(SampleDropWarning, match="7 of"):
        res = impact.prodest(bad, method="wooldridge", **PRODEST_COLUMNS)
    assert res.sample_log.dropped("missing") == 7
    assert res.omega.iloc[:7].isna().all()
    assert res.tfp.iloc[:7].notna().all()  # tfp needs only output and inputs


def test_op_drops_and_counts_zero_investment(small):
    df = small.copy()
    df.loc[df.index[::10], "investment"] = 0.0
    with pytest.warns(SampleDropWarning, match="zero or negative investment"):
        res = impact.prodest(
            df,
            output="va",
            free="emp",
            state="capital",
            proxy="investment",
            unit="firm_id",
            time="year",
            method="op",
            in_logs=False,
            n_boot=5,
        )
    assert res.sample_log.dropped("proxy_nonpositive") == len(df.index[::10])


def test_option_errors(small):
    with pytest.raises(InvalidOptionError, match="method"):
        impact.prodest(small, method="gnr", **ARGS)
    with pytest.raises(InvalidOptionError, match="proxy"):
        impact.prodest(small, method="acf", **ARGS)
    with pytest.raises(InvalidOptionError, match="analytic"):
        impact.prodest(small, method="acf", proxy="materials", vcov="analytic", **ARGS)
    with pytest.raises(ColumnNotFoundError, match="capitl"):
        impact.prodest(small, **{**ARGS, "state": "capitl"}, method="ols")
    with pytest.raises(InvalidOptionError, match="start"):
        impact.prodest(small, method="acf", proxy="materials", in_logs=False, start=[0.5], **ARGS)


def test_bootstrap_is_seeded_and_close_to_clustered_se(small):
    """The firm-block bootstrap SE of OLS tracks the analytic firm-clustered SE."""
    kw = dict(output="log_va", free="log_emp", state="log_k", unit="firm_id", time="year")
    a = impact.prodest(small, method="ols", vcov="bootstrap", n_boot=199, seed=5, **kw)
    b = impact.prodest(small, method="ols", vcov="bootstrap", n_boot=199, seed=5, **kw)
    np.testing.assert_array_equal(a.bootstrap.draws, b.bootstrap.draws)
    analytic = impact.prodest(small, method="ols", **kw)
    # 199 draws estimate an SE with ~5% relative error; 25% is > 4 of those
    ratio = a.se / analytic.se
    assert ((ratio > 0.75) & (ratio < 1.25)).all(), ratio


def test_etable_and_summary(small):
    kw = dict(output="log_va", free="log_emp", state="log_k", unit="firm_id", time="year")
    res = impact.prodest(small, method="ols", **kw)
    tab = impact.etable([res], format="dataframe")
    assert "log_emp" in tab.index
    assert "Returns to scale" in res.summary()
    assert np.isfinite(res.tfp_dispersion())


def test_by_group_equals_separate_fits_and_flags_small_groups(small):
    kw = dict(output="log_va", free="log_emp", state="log_k", unit="firm_id", time="year")
    sizes = small.groupby("sector")["firm_id"].nunique()
    cut = int(sizes.sort_values().iloc[1]) + 1  # the two smallest sectors fall below
    with pytest.warns(ImpactWarning, match="not estimated"):
        by = impact.prodest(small, method="ols", by="sector", min_firms=cut, **kw)
    tidy = by.tidy()
    small_sectors = set(sizes[sizes < cut].index)
    assert set(tidy.loc[tidy["estimate"].isna(), "sector"]) == small_sectors
    big = sorted(set(sizes.index) - small_sectors)[0]
    alone = impact.prodest(small[small["sector"] == big], method="ols", **kw)
    got = tidy[tidy["sector"] == big].set_index("term")["estimate"]
    np.testing.assert_allclose(got.to_numpy(), alone.coef.to_numpy(), rtol=1e-12)
    in_small = small["sector"].isin(small_sectors).to_numpy()
    assert by.tfp[in_small].isna().all() and by.tfp[~in_small].notna().all()
