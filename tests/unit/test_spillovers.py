"""Table 8 (spillovers): the exposure design by hand, the table's shape and its truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets.cluster.truth import cell_itt
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table8_spillovers import CELL, FIRM, SDID, _sample


@pytest.fixture(scope="module")
def panel(s4_panel):
    return s4_panel


def _spec() -> Spec:
    fam = (OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),)
    return Spec(families=fam, production=None, tables=("spillovers",), figures=())


def test_exposure_sample_by_hand(panel):
    df, _ = panel
    ev = Evaluation.build(df, _spec())
    s = _sample(ev)
    EXPOSURE, OUTSIDE = ev.names.exposure, ev.names.outside
    assert s["join_year"].isna().all()  # members and later joiners are left out
    in_cell = s["cluster_cell"].to_numpy()
    assert np.array_equal(s.loc[in_cell, EXPOSURE], s.loc[in_cell, "launch_year"])
    assert s.loc[~in_cell, EXPOSURE].isna().all()
    assert np.array_equal(s[OUTSIDE].to_numpy(), ~in_cell)
    assert len(df) > len(s)  # the user's frame is untouched and larger


def test_spillover_table(panel):
    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = impact.evaluate(df, _spec(), truth=truth).table("spillovers")
    tab = full[full["design"] == FIRM]
    avg = tab[tab["exposure_time"].isna()].iloc[0]
    by_e = tab[tab["exposure_time"].notna()].set_index("exposure_time")
    post = by_e.loc[0:5]
    assert avg["estimate"] == pytest.approx(post["estimate"].mean(), abs=1e-12)
    te = truth.spillover_event
    te = te[(te["outcome"] == "log_emp") & te["exposure_time"].between(0, 5)]
    assert avg["true_effect"] == pytest.approx(te["effect_never_joiners"].mean(), abs=1e-12)
    assert (by_e.loc[-5:-1, "true_effect"] == 0).all()  # no spillover before the launch
    assert avg["units"] > 0 and 0 <= avg["pretrend_p"] <= 1
    cell = full[full["design"] == CELL]
    cavg = cell[cell["exposure_time"].isna()].iloc[0]
    ci = cell_itt(truth.firm_year)
    ci = ci[(ci["outcome"] == "log_emp") & ci["exposure_time"].between(0, 5)]
    assert cavg["true_effect"] == pytest.approx(
        ci.groupby("exposure_time")["itt_means"].mean().mean(), abs=1e-12
    )
    assert cavg["units"] == truth.cells["launch_year"].notna().sum()
    sdid = full[full["design"] == SDID].iloc[0]
    assert pd.isna(sdid["exposure_time"]) and np.isfinite(sdid["std_error"])
    # every launch wave is observed for event times 0-5: the two averages share the truth
    assert sdid["true_effect"] == pytest.approx(cavg["true_effect"], abs=1e-12)


def test_cell_means_by_hand(panel):
    """The cell panel: per cell and year the mean outcome of its firms, the launch year
    only in cluster cells, one sector per cell."""
    from impact.report.cell_level import cell_means

    df, _ = panel
    ev = Evaluation.build(df, _spec())
    cells, names = cell_means(ev, "log_emp")
    d = ev.data
    one = d[(d["cell"] == d["cell"].iloc[0]) & (d["year"] == 2010)]
    row = cells[(cells["cell"] == one["cell"].iloc[0]) & (cells["time"] == 2010)].iloc[0]
    assert row["y"] == pytest.approx(one["log_emp"].mean(), abs=1e-12)
    assert row["firms"] == len(one)
    launched = cells.dropna(subset=["launch"])["cell"].unique()
    assert set(launched) == set(d.loc[d["cluster_cell"].astype(bool), "cell"].unique())
    assert len(names) == d["sector"].nunique() - 1


def test_a_launch_or_sector_that_varies_within_a_cell_is_refused(panel):
    from impact.errors import ImpactError
    from impact.report.cell_level import cell_means

    df, _ = panel
    for col in ("launch_year", "sector"):
        bad = df.copy()
        first = bad.index[bad["cluster_cell"].astype(bool)][0]
        bad.loc[first, col] = bad.loc[bad[col] != bad.loc[first, col], col].iloc[0]
        ev = Evaluation.build(bad, _spec())
        with pytest.raises(ImpactError, match=f"{col!r} varies within unit"):
            cell_means(ev, "log_emp")


def test_the_synthetic_did_row_counts_incomplete_cells(panel):
    """Cells without firms in some year cannot get synthetic weights: left out, counted."""
    from impact.report.cell_level import cell_means, cell_sdid_fit

    df, _ = panel
    ev = Evaluation.build(df, _spec())
    cells = cell_means(ev, "log_emp")[0]
    expected = int((cells.groupby("cell")["time"].size() < cells["time"].nunique()).sum())
    fit, incomplete = cell_sdid_fit(ev, "log_emp", 5)
    assert incomplete == expected
    assert fit.n_units == cells["cell"].nunique() - expected


def test_the_split_rows_add_up_in_estimates_and_truths(panel):
    """Table 8's imputation rows: ITT = w members + (1 - w) non-members, in the estimates
    and in the generator's truth of the same firm-years."""
    from impact.report.table8_spillovers import SPLIT

    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = impact.evaluate(df, _spec(), truth=truth).table("spillovers")
    rows = full[full["design"].isin(SPLIT.values())].set_index("design")
    itt, m, n = (rows.loc[SPLIT[k]] for k in ("itt", "members", "non_members"))
    assert m["weight"] + n["weight"] == pytest.approx(1.0, abs=1e-12)
    for col in ("estimate", "true_effect"):
        split = m["weight"] * m[col] + n["weight"] * n[col]
        assert itt[col] == pytest.approx(split, abs=1e-12)
    assert np.isfinite(rows["true_effect"]).all() and (rows["units"] > 0).all()


def test_display_layout(panel):
    from impact.report.table8_spillovers import table_spillovers

    df, truth = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = Evaluation.build(df, _spec(), truth=truth)
        disp = table_spillovers(ev).display
    assert list(disp.columns[:2]) == ["design", "exposure time"]
    averages = disp[disp["exposure time"].str.startswith("average")]
    assert len(averages) == disp["design"].nunique()  # one average per design
    split = disp[disp["design"].str.startswith("of which")]
    assert len(split) == 2 and split["log_emp"].str.contains("weight").all()
    ref = disp[disp["exposure time"] == "-1"]
    assert set(ref["design"]) == {"never-joiners vs outside firms", "cell ITT (cell means)"}
