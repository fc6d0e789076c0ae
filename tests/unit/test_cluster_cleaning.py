"""The delivered panel: nominal values, deflators, data dirt, and the cleaning step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

from impact.datasets import clean_cluster_panel, cluster_panel
from impact.datasets.cluster.nominal import BASE_YEAR, perpetual_inventory
from impact.errors import DuplicateRowsError

#: The perpetual inventory accumulates rescaled flows over up to 16 years.
RTOL_PIM = 1e-9


@pytest.fixture(scope="module")
def delivered():
    raw, truth = cluster_panel(n_firms=800, seed=21, raw=True)
    clean, _ = cluster_panel(n_firms=800, seed=21)
    return raw, truth, clean


def test_raw_has_the_dirt_of_dgp_4_8(delivered):
    raw, truth, clean = delivered
    dirt = truth.dirt
    assert len(raw) == len(clean) + int(dirt["duplicated"].sum())
    assert int(dirt["duplicated"].sum()) > 0
    assert int(dirt["sales_unit_error"].sum()) > 0
    assert int(raw["materials"].isna().sum()) == int(dirt["materials_missing"].sum()) > 0
    assert len(truth.id_changes) >= 3
    assert raw.duplicated(["firm_id", "year"]).sum() == int(dirt["duplicated"].sum())


def test_raw_frame_is_not_modified_by_cleaning(delivered):
    raw, truth, _ = delivered
    copy = raw.copy(deep=True)
    clean_cluster_panel(raw, deflators=truth.deflators, id_changes=truth.id_changes)
    pd.testing.assert_frame_equal(raw, copy)


def test_cleaning_recovers_the_analysis_panel(delivered):
    raw, truth, clean = delivered
    got, report = clean_cluster_panel(raw, deflators=truth.deflators, id_changes=truth.id_changes)
    assert report.sample_log.dropped("duplicates") == int(truth.dirt["duplicated"].sum())
    assert report.fixes["sales reported in euros, divided by 1000"] == int(
        truth.dirt["sales_unit_error"].sum()
    )
    assert list(got.columns) == list(clean.columns)
    assert got[["firm_id", "year"]].equals(clean[["firm_id", "year"]])
    missing = truth.dirt.drop_duplicates(["firm_id", "year"]).set_index(["firm_id", "year"])[
        "materials_missing"
    ]
    miss = missing.reindex(pd.MultiIndex.from_frame(clean[["firm_id", "year"]])).to_numpy()
    for col in clean.columns[11:]:
        a, b = got[col].to_numpy(dtype=float), clean[col].to_numpy(dtype=float)
        if col in ("log_va", "va", "log_materials"):
            assert np.isnan(a[miss]).all()
            a, b = a[~miss], b[~miss]
        rtol = RTOL_PIM if col in ("log_k", "capital") else RTOL_CLOSED_FORM
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(b)
        assert_close(a[ok], b[ok], rtol=rtol, atol=1e-12)


def test_deflators_are_100_in_the_base_year(delivered):
    _, truth, _ = delivered
    base = truth.deflators[truth.deflators["year"] == BASE_YEAR]
    assert np.allclose(
        base[["output", "materials", "investment"]].to_numpy(), 100.0, rtol=0, atol=1e-12
    )


def test_naive_deflation_of_book_capital_is_wrong(delivered):
    """Deflating historical-cost book values by the current price index mismeasures capital."""
    raw, truth, clean = delivered
    index = truth.deflators.rename(columns={"investment": "p_inv"})[["year", "sector", "p_inv"]]
    d = raw.drop_duplicates(["firm_id", "year"]).merge(index, on=["year", "sector"])
    d = d.merge(clean[["firm_id", "year", "capital"]], on=["firm_id", "year"])
    naive = d["capital_book"] / (d["p_inv"] / 100)
    rel = (naive / d["capital"] - 1).abs()
    assert rel.max() > 1e-3


def test_perpetual_inventory_matches_the_recursion():
    firm = np.array([1, 1, 1, 1, 2, 2, 2])
    start = np.array([100.0, 0, 0, 0, 50.0, 0, 0])
    flow = np.array([10.0, 20.0, 5.0, 1.0, 4.0, 8.0, 2.0])
    got = perpetual_inventory(firm, start, flow, 0.1)
    expected = [
        100.0,
        100.0 * 0.9 + 10,
        (100.0 * 0.9 + 10) * 0.9 + 20,
        ((100.0 * 0.9 + 10) * 0.9 + 20) * 0.9 + 5,
        50.0,
        50 * 0.9 + 4,
        (50 * 0.9 + 4) * 0.9 + 8,
    ]
    assert_close(got, np.array(expected), rtol=RTOL_CLOSED_FORM)


def test_conflicting_duplicates_are_an_error(delivered):
    raw, truth, _ = delivered
    bad = pd.concat([raw, raw.iloc[[5]].assign(emp=raw["emp"].iloc[5] + 1)], ignore_index=True)
    with pytest.raises(DuplicateRowsError):
        clean_cluster_panel(bad, deflators=truth.deflators, id_changes=truth.id_changes)
