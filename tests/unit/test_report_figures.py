"""The report's cohort figures read at a glance: a few labelled trajectory groups and
no cohort beyond the panel, roll-out counts that add up to the firms observed, a heat
map of the cohorts treated within the panel with its pre-joining cells marked.

Every expected number is computed here from the synthetic inputs, not by the figure code.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from impact.report.evaluation import Evaluation
from impact.report.figure_cohorts import draw_att_gt
from impact.report.report_figures import (
    figure_att_gt,
    figure_rollout,
    figure_style,
    figure_trajectories,
)
from impact.report.spec import Columns, OutcomeFamily, Spec
from impact.report.spec_fit import fit_spec

FIRST, LAST = 2000, 2009
#: Join years: five within the panel, one after its last year (2011), never (NaN).
JOIN_YEARS = (2002, 2003, 2004, 2006, 2008, 2011, np.nan)


def _panel() -> pd.DataFrame:
    """120 firms, 2000-2009, some entering late or leaving early; firms 0-69 in cluster
    cells (launch 2002 or 2005), members among them; firms 70+ outside cells."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(120):
        in_cell = i < 70
        g = JOIN_YEARS[i % len(JOIN_YEARS)] if in_cell else np.nan
        launch = (2002.0 if i % 2 else 2005.0) if in_cell else np.nan
        if in_cell and np.isfinite(g):
            launch = min(launch, g)
        start, end = FIRST + i % 3, LAST - (i % 5 == 0)
        for t in range(start, end + 1):
            post = np.isfinite(g) and t >= g
            rows.append({
                "firm_id": i, "year": t, "join_year": g, "cell": i % 7,
                "cluster_cell": in_cell, "launch_year": launch,
                "y": 0.1 * (t - FIRST) + 0.5 * post + rng.normal(scale=0.1),
                "z": rng.normal() + post,
            })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def ev() -> Evaluation:
    data = _panel()
    cols = Columns(unit="firm_id", time="year", cohort="join_year", cell="cell",
                   cluster_cell="cluster_cell", launch="launch_year", region=None,
                   sector=None, size_class=None, high_tech=None)  # fmt: skip
    spec = Spec(columns=cols, families=(OutcomeFamily("f", ("y", "z"), "log", ("cs",)),),
                derived={}, describe=(), selection=(), covariates=(), heterogeneity=(),
                production=None, tables=(), figures=("trajectories", "rollout"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Evaluation.build(data, fit_spec(spec, data).spec)


def _draw(builder, ev):
    with warnings.catch_warnings(), figure_style():
        warnings.simplefilter("ignore")
        return builder(ev)


def test_trajectories_few_labelled_groups_within_the_panel(ev):
    fig = _draw(figure_trajectories, ev)["trajectories"]
    data = _panel()
    firms = data.groupby("firm_id").first()
    within = sorted(firms["join_year"][firms["join_year"] <= LAST].unique())
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 2  # y and z
    for ax in panels:
        lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        assert 2 <= len(lines) <= 5
        styles = {(ln.get_linestyle(), ln.get_marker(), ln.get_linewidth()) for ln in lines}
        assert len(styles) == len(lines)  # told apart without colour
        covered = []
        for ln in lines:
            years = [int(y) for y in re.findall(r"\b(\d{4})\b", ln.get_label())]
            assert all(y <= LAST for y in years), ln.get_label()
            if "joined" in ln.get_label():
                lo, hi = years[0], years[-1]
                group = [g for g in within if lo <= g <= hi]
                covered += group
                n = int(firms["join_year"].isin(group).sum())
                assert f"({n:,} firms)" in ln.get_label()
                assert np.all(ln.get_xdata() <= LAST)
        assert covered == within  # consecutive groups, each in-panel cohort once
    # the controls' line is the mean of never-members outside cluster cells, year by year
    ctrl = data[data["join_year"].isna() & ~data["cluster_cell"]].groupby("year")["y"].mean()
    line = next(ln for ln in panels[0].get_lines() if ln.get_label().startswith("controls"))
    np.testing.assert_allclose(line.get_ydata(), ctrl.to_numpy())
    n_after = firms.loc[firms["join_year"] > LAST].shape[0]
    legend_title = fig.legends[0].get_title().get_text()
    assert f"{n_after} firms joining after {LAST}" in legend_title


def test_rollout_counts_add_up_to_the_firms_observed(ev):
    fig = _draw(figure_rollout, ev)["rollout"]
    status_ax, join_ax = fig.axes[:2]
    data = _panel()
    observed = data.groupby("year")["firm_id"].nunique()
    total = pd.Series(0.0, index=observed.index)
    heights = {}
    for bars in status_ax.containers:
        h = pd.Series([b.get_height() for b in bars],
                      index=[round(b.get_x() + b.get_width() / 2) for b in bars])  # fmt: skip
        heights[bars.get_label()] = h
        total = total.add(h, fill_value=0)
    assert len(heights) == 4
    pd.testing.assert_series_equal(total, observed.astype(float), check_names=False)
    member = data[data["year"] >= data["join_year"]].groupby("year")["firm_id"].nunique()
    members = heights["member"]
    assert members[members > 0].astype(int).to_dict() == member.to_dict()
    outside = data[~data["cluster_cell"]].groupby("year")["firm_id"].nunique()
    assert heights["outside cluster cells"].astype(int).to_dict() == outside.to_dict()
    # panel b: firms joining per year, nothing after the last year
    firms = data.groupby("firm_id")["join_year"].first()
    joins = {round(b.get_x() + b.get_width() / 2): b.get_height()
             for b in join_ax.containers[0] if b.get_height() > 0}  # fmt: skip
    assert joins == firms[firms <= LAST].value_counts().to_dict()
    assert max(joins) <= LAST
    n_after = int((firms > LAST).sum())
    assert f"{n_after} firms joining after {LAST}" in join_ax.get_title(loc="left")


def _cohorts_on(ax) -> list[int]:
    return [int(t.get_text().split()[0]) for t in ax.get_yticklabels()]


def test_heat_map_shows_only_cohorts_treated_within_the_panel(ev):
    figs = _draw(figure_att_gt, ev)
    assert list(figs) == ["att_gt_y"]
    ax = figs["att_gt_y"].axes[0]
    data = _panel()
    joins = data.groupby("firm_id")["join_year"].first()
    assert _cohorts_on(ax) == sorted(int(g) for g in joins.unique() if g <= LAST)


def _table(first: int) -> pd.DataFrame:
    """An ATT(g,t) table for years ``first``-2008: three cohorts within the panel and one
    after it (2012)."""
    rows = []
    for g, est in ((2004, 0.3), (2005, -0.2), (2007, 0.05), (2012, 9.0)):
        for t in range(first, 2009):
            post = t >= g
            rows.append({"cohort": g, "time": t, "base_period": t - 1 if not post else g - 1,
                         "estimate": est if post else 0.01 * (t - g),
                         "std_error": 0.05})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("first", [2003, 1995])
def test_heat_map_marks_pre_cells_and_significance(first):
    tab = _table(first)
    with figure_style():
        fig = draw_att_gt(tab, outcome="y", last=2008)
    ax = fig.axes[0]
    assert _cohorts_on(ax) == [2004, 2005, 2007]  # 2012: after the panel
    within = tab[tab["cohort"] <= 2008]
    pre = int((within["time"] < within["cohort"]).sum())
    assert len([p for p in ax.patches if p.get_hatch()]) == pre
    sig = within[np.abs(within["estimate"] / within["std_error"]) > 1.96]
    texts = [t for t in ax.texts if t.get_position()[1] >= 0]  # cells, not the headers
    n_event_times = (within["time"] - within["cohort"]).nunique()
    if n_event_times > 12:  # a wide grid: signs of the significant cells, no values
        assert n_event_times == 17
        signs = sorted(t.get_text() for t in texts)
        assert signs == sorted("+" if v > 0 else "−" for v in sig["estimate"])
    else:  # values with two decimals, at a printable size, starred when significant
        assert len(texts) == len(within)
        assert all(t.get_fontsize() >= 7 for t in texts)
        assert sum(t.get_text().endswith("*") for t in texts) == len(sig)
        assert all(re.fullmatch(r"−?\d\.\d\d\*?", t.get_text()) for t in texts)
