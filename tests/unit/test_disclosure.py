"""Minimum-cell-count disclosure control of the report (Spec.disclosure_min_firms).

On the S4 test panel, which has small subgroups and join cohorts: every statistic resting
on 1 to k - 1 firms is absent from the written tables (Markdown, HTML, LaTeX and CSV) and
marked, the rest is unchanged, the roll-out counts are checked against counts made here
from the data, and k = 0 changes nothing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import InvalidOptionError
from impact.report.disclosure import SUPPRESSED, suppress_rows
from impact.report.spec import OutcomeFamily, Spec

#: The threshold of the test: hits the panel's smallest subgroups and cohorts.
K = 10


def _spec(k: int) -> Spec:
    return Spec(
        families=(OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs")),),
        production=None,
        tables=("descriptives", "rollout", "main", "heterogeneity"),
        figures=("rollout", "att_gt_heatmap"),
        disclosure_min_firms=k,
    )


@pytest.fixture(scope="module")
def reports(s4_panel):
    df, truth = s4_panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (
            df,
            impact.evaluate(df, _spec(0), truth=truth),
            impact.evaluate(df, _spec(K), truth=truth),
        )


def test_rollout_counts_below_k_are_suppressed(reports):
    df, open_, closed = reports
    firms = df.groupby("firm_id")["join_year"].first()
    joining = firms.value_counts()  # counted here from the data, per join year
    tab = closed.tables["rollout"]
    frame = tab.frame.set_index("year")
    md = tab.render()[".md"]
    small = [int(y) for y, n in joining.items() if 1 <= n < K and int(y) in frame.index.astype(int)]
    assert small, "the panel must have a small join cohort for this test"
    for y in small:
        assert pd.isna(frame.loc[frame.index.astype(int) == y, "firms joining"]).all()
        assert f"| {y} |" in md
        row = next(line for line in md.splitlines() if line.startswith(f"| {y} |"))
        assert f"< {K}" in row
    big = [int(y) for y, n in joining.items() if n >= K]
    for y in big:
        assert int(frame.loc[frame.index.astype(int) == y, "firms joining"].iloc[0]) == joining[y]
    assert "Disclosure control" in tab.note


def test_subgroups_below_k_are_suppressed_with_their_split(reports):
    _, open_, closed = reports
    a = open_.tables["heterogeneity"].frame
    b = closed.tables["heterogeneity"].frame
    small = a["members"].between(1, K - 1)
    assert small.any(), "the panel must have a small subgroup for this test"
    blocks = set(map(tuple, a.loc[small, ["outcome", "dimension"]].to_numpy()))
    in_block = [tuple(r) in blocks for r in a[["outcome", "dimension"]].to_numpy()]
    assert b[SUPPRESSED].to_numpy().tolist() == in_block  # the difference row goes too
    assert b.loc[in_block, ["estimate", "std_error", "members"]].isna().all().all()
    keep = ~np.array(in_block)
    pd.testing.assert_frame_equal(
        a.loc[keep].reset_index(drop=True),
        b.loc[keep].drop(columns=SUPPRESSED).reset_index(drop=True),
    )
    rendered = closed.tables["heterogeneity"].render()
    for fmt in (".md", ".html", ".tex", ".csv"):
        for v in a.loc[in_block, "estimate"].dropna():
            assert f"{v:.3f}" not in rendered[fmt] or fmt == ".tex", (fmt, v)
            assert f"{v:.10g}" not in rendered[fmt], (fmt, v)
    assert rendered[".md"].count(SUPPRESSED) >= int(np.sum(in_block))


def test_without_k_nothing_changes(reports):
    _, open_, closed = reports
    for name in ("main", "heterogeneity", "rollout"):
        assert SUPPRESSED not in open_.tables[name].frame.columns
        assert "Disclosure control" not in open_.tables[name].note
    # the main table's estimates rest on hundreds of firms: unchanged
    pd.testing.assert_frame_equal(open_.tables["main"].frame, closed.tables["main"].frame)


def _heat_map_rows(rep) -> list[str] | None:
    figs = [f for name, f in rep.figures.items() if name.startswith("att_gt")]
    if not figs:
        return None
    return [t.get_text().split(" ")[0] for t in figs[0].axes[0].get_yticklabels()]


def test_heat_map_leaves_out_small_cohorts(reports):
    df, open_, closed = reports
    sizes = df.groupby("join_year")["firm_id"].nunique()
    small = {str(int(g)) for g, n in sizes.items() if n < K}
    assert small & set(_heat_map_rows(open_))
    rows = _heat_map_rows(closed)
    if rows is None:  # every cohort within the panel was small: no heat map at all
        assert (sizes[sizes.index <= df["year"].max()] < K).all()
    else:
        assert not small & set(rows)


def test_suppress_rows_does_not_modify_its_input():
    frame = pd.DataFrame({"estimate": [0.1, 0.2], "firms": pd.array([3, 30], dtype="Int64")})
    before = frame.copy()
    out, n = suppress_rows(frame, "firms", 10)
    pd.testing.assert_frame_equal(frame, before)
    assert n == 1 and out["estimate"].isna().tolist() == [True, False]


@pytest.mark.parametrize("bad", [-1, 2.5, "10", True])
def test_bad_threshold_is_a_typed_error(bad):
    with pytest.raises(InvalidOptionError, match="disclosure_min_firms"):
        Spec(disclosure_min_firms=bad)


def test_notes_have_no_unfilled_placeholders(reports):
    import re

    for rep in reports[1:]:
        for name, tab in rep.tables.items():
            assert not re.search(r"\{[A-Za-z_][\w.\[\]]*\}", tab.note), (name, tab.note)


def test_spec_files_carry_the_threshold(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text("disclosure_min_firms = 10\n")
    assert Spec.from_toml(path).disclosure_min_firms == 10
    assert Spec.from_dict(Spec(disclosure_min_firms=7).to_dict()).disclosure_min_firms == 7
    with pytest.raises(InvalidOptionError, match="disclosure_min_firms"):
        Spec.from_dict({"disclosure_min_firms": -1})


def test_a_report_resting_on_fewer_member_firms_is_refused(s4_panel):
    df, truth = s4_panel
    few = df[df["join_year"].isna() | (df["join_year"] == 2011)]  # 4 member firms
    assert 1 <= few.loc[few["join_year"].notna(), "firm_id"].nunique() < K
    with pytest.raises(impact.errors.DisclosureError, match="fewer than 10 firms join"):
        impact.evaluate(few, _spec(K))


def test_event_times_resting_on_few_member_firms_are_suppressed(s4_panel):
    df, truth = s4_panel
    k = 50
    spec = Spec(
        families=(OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs")),),
        production=None, tables=("dynamic",), figures=(), disclosure_min_firms=k,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = impact.evaluate(df, spec).tables["dynamic"]
    # counted here: member firms (joining within the panel) with a row at each event time
    m = df[df["join_year"].notna() & (df["join_year"] <= df["year"].max())]
    n = {e: m.loc[m["year"] - m["join_year"] == e, "firm_id"].nunique() for e in range(-5, 6)}
    small = {e for e, c in n.items() if 1 <= c < k}
    assert small, "the panel must have an event time resting on few firms"
    frame = tab.frame
    hidden = frame["rel_time"].isin(small).to_numpy()
    assert frame[SUPPRESSED].to_numpy().tolist() == hidden.tolist()
    assert frame.loc[hidden, ["estimate", "std_error"]].isna().all().all()
    assert frame.loc[~hidden, "estimate"].notna().any()
    assert "suppressed" in tab.render()[".md"] and "Disclosure control" in tab.note


def test_a_split_with_an_empty_subgroup_is_left_out_with_a_note(s4_panel):
    """Only the 2011 cohort's 4 members: no founder (the 2011 cohort joins after its
    cells' launches), so the founder split is skipped and said so; the report is built."""
    df, truth = s4_panel
    few = df[df["join_year"].isna() | (df["join_year"] == 2011)]
    spec = Spec(
        families=(OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),),
        production=None, tables=("heterogeneity",), figures=(),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = impact.evaluate(few, spec).tables["heterogeneity"]
    founders = (few["join_year"] == few["launch_year"]).any()
    assert not founders
    assert "founder" not in set(tab.frame["dimension"])
    assert "the founder split is not estimated" in tab.note


def test_event_time_counts_only_firms_observed_then():
    """A member that left the panel does not count at event times after its exit (the
    count decides suppression: counting it would publish an estimate on too few firms)."""
    from impact.report.disclosure import treated_firms_by_event_time

    years = list(range(2000, 2006))
    rows = [("a", y, 2003.0) for y in years] + [("b", y, 2003.0) for y in years if y <= 2003]
    rows += [("c", y, float("nan")) for y in years] + [("d", y, 2009.0) for y in years]
    data = pd.DataFrame(rows, columns=["firm", "year", "g"])
    n = treated_firms_by_event_time(data, "firm", "year", "g", [-3, -1, 0, 1, 2, 5])
    assert n == {-3: 2, -1: 2, 0: 2, 1: 1, 2: 1, 5: 0}


def test_rollout_titles_stay_inside_the_figure():
    """The disclosure and late-joiner remarks make the panel titles long: every text of
    the figure lies within its edges (a one-line title ran past the right edge)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from impact.report.figure_cohorts import STATUS, draw_rollout

    years = pd.Index(np.arange(2000, 2016), name="year")
    counts = pd.DataFrame({label: [3, 40, 400, 800][j] for j, (label, _) in enumerate(STATUS)},
                          index=years)  # fmt: skip
    joining = pd.Series(np.where(np.arange(16) % 3 == 0, 4, 25), index=years)
    fig = draw_rollout(counts, joining, n_after=7, min_firms=K)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    for ax in fig.axes:
        for text in (ax.title, ax._left_title, ax._right_title):
            if text.get_text():
                e = text.get_window_extent(renderer)
                assert box.x0 <= e.x0 and e.x1 <= box.x1 and e.y1 <= box.y1, text.get_text()
