"""Panel: codes, balance, gaps, lags by period number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact


def _df():
    # firm b skips 2002; firm c starts in 2002
    return pd.DataFrame(
        {
            "firm": ["a", "a", "a", "a", "b", "b", "b", "c", "c"],
            "year": [2000, 2001, 2002, 2003, 2000, 2001, 2003, 2002, 2003],
            "y": [1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 13.0, 20.0, 21.0],
        }
    )


def test_codes_and_counts():
    p = impact.Panel(_df(), unit="firm", time="year")
    assert p.n_units == 3 and p.n_periods == 4 and p.n_obs == 9
    assert not p.is_balanced
    assert list(p.unit_codes) == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert list(p.time_codes) == [0, 1, 2, 3, 0, 1, 3, 2, 3]
    assert p.sample_log.n_initial == 9 and p.sample_log.n_dropped == 0
    assert "3 units x 4 periods" in repr(p)


def test_gaps_are_detected():
    p = impact.Panel(_df(), unit="firm", time="year")
    g = p.gaps()
    assert p.has_gaps
    assert g.to_dict("records") == [
        {"unit": "b", "first": 2000, "last": 2003, "n_obs": 3, "n_missing": 1}
    ]


def test_lag_uses_period_numbers_not_rows():
    df = _df()
    p = impact.Panel(df.iloc[::-1], unit="firm", time="year")  # reversed row order
    lag = p.lag("y").reindex(df.index)
    expected = [np.nan, 1.0, 2.0, 3.0, np.nan, 10.0, np.nan, np.nan, 20.0]
    np.testing.assert_array_equal(lag.to_numpy(), np.array(expected))
    lead2 = p.lead("y", 2).reindex(df.index)
    np.testing.assert_array_equal(
        lead2.to_numpy(), np.array([3.0, 4.0, np.nan, np.nan, np.nan, 13.0, np.nan, np.nan, np.nan])
    )


def test_balanced_panel():
    df = pd.DataFrame({"u": np.repeat([1, 2], 3), "t": np.tile([1, 2, 3], 2)})
    p = impact.Panel(df, unit="u", time="t")
    assert p.is_balanced and not p.has_gaps


def test_quarterly_periods_are_consecutive():
    dates = pd.to_datetime(["2020-02-15", "2020-05-01", "2020-12-31", "2021-01-02"])
    df = pd.DataFrame({"u": [1, 1, 1, 1], "d": dates, "y": [1.0, 2.0, 4.0, 5.0]})
    p = impact.Panel(df, unit="u", time="d", freq="Q")
    assert list(p.time_codes) == [0, 1, 3, 4]
    np.testing.assert_array_equal(p.lag("y").to_numpy(), np.array([np.nan, 1.0, np.nan, 4.0]))


def test_sparse_huge_periods_are_not_false_duplicates():
    """Periods 2**62 apart made unit * span + period overflow int64: two distinct
    (unit, period) pairs shared a key and were reported as duplicates."""
    from impact.data.keys import check_unique_keys
    from impact.errors import DuplicateRowsError

    big = 2**62
    rows = [(0, 0), (0, 4), (0, big), (4, 0), (4, big)] + [
        (u, t) for u in (1, 2, 3) for t in (0, big)
    ]
    df = pd.DataFrame(rows, columns=["u", "t"])
    codes = pd.factorize(df["u"])[0]
    check_unique_keys(df, "u", "t", codes, df["t"].to_numpy())  # no error
    twice = pd.concat([df, df.iloc[[2]]], ignore_index=True)
    with pytest.raises(DuplicateRowsError, match=r"1 \(u, t\) pairs"):
        check_unique_keys(twice, "u", "t", pd.factorize(twice["u"])[0], twice["t"].to_numpy())
    impact.Panel(pd.DataFrame({"u": 0, "t": [0, 1, 4, big], "y": 1.0}), unit="u", time="t")
