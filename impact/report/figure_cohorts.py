"""Drawings of the report's cohort figures: the ATT(g,t) heat map, raw trajectories by
group of join cohorts, and the programme's roll-out.

Pure functions of arrays and frames (no :class:`~impact.report.evaluation.Evaluation`):
:mod:`impact.report.report_figures` extracts the columns and calls them. Every figure is
built outside pyplot, in grey levels, line styles, markers and hatching that survive
black-and-white printing (the heat map's colour scale is the one exception; its
significant cells also carry a ``+`` or ``−`` sign). A cohort that joins after the last
observed period is never drawn as a treated cohort.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "STATUS",
    "cohort_bins",
    "draw_att_gt",
    "draw_rollout",
    "draw_trajectories",
    "rollout_counts",
    "rollout_status",
]

#: Status codes 0-3 of the roll-out chart: label and grey level (readable in black and white).
STATUS = (
    ("outside cluster cells", "0.95"),
    ("non-member, cluster not launched", "0.75"),
    ("exposed non-member", "0.45"),
    ("member", "0.0"),
)

#: Normal critical value of the heat map's significance marks (pointwise, 5% level).
Z_CRIT = 1.96

#: Largest grid (cohorts, event times) whose cells are annotated with their values.
ANNOTATE_MAX = (12, 12)

#: Line styles of the trajectory groups: colour, line style, marker.
GROUP_STYLES = (("0.0", "-", "o"), ("0.3", "--", "s"), ("0.5", "-.", "^"))

#: Names of 1, 2 or 3 groups of join cohorts.
GROUP_NAMES = {1: ("members",), 2: ("early", "late"), 3: ("early", "middle", "late")}


def _figure(width: float, height: float) -> Any:
    """A matplotlib Figure outside pyplot (no global registry, no backend)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _year(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _count(n: int, min_firms: int) -> str:
    """A firm count as printed: ``< k`` when disclosure control hides it."""
    return f"fewer than {min_firms}" if 1 <= n < min_firms else f"{n:,}"


def _span(years: np.ndarray) -> str:
    lo, hi = _year(years.min()), _year(years.max())
    return lo if lo == hi else f"{lo}–{hi}"


# ---------------------------------------------------------------------- roll-out
def rollout_status(
    time: np.ndarray, cohort: np.ndarray, launch: np.ndarray, in_cell: np.ndarray
) -> np.ndarray:
    """Status code (index into :data:`STATUS`) of each firm-year: member from the join
    year on; otherwise outside cluster cells, exposed (the cell's cluster launched) or
    not yet launched. NaN cohorts or launches never arrive."""
    with np.errstate(invalid="ignore"):
        member, launched = time >= cohort, time >= launch
    return np.where(member, 3, np.where(~in_cell, 0, np.where(launched, 2, 1)))


def rollout_counts(unit: np.ndarray, time: np.ndarray, status: np.ndarray) -> pd.DataFrame:
    """Firms observed in each period (rows) by status (columns: :data:`STATUS` labels)."""
    frame = pd.DataFrame({"unit": unit, "time": time, "status": status})
    n = frame.groupby(["time", "status"])["unit"].nunique().unstack(fill_value=0)
    n = n.reindex(columns=range(len(STATUS)), fill_value=0)
    n.columns = [label for label, _ in STATUS]
    return n


def draw_rollout(
    counts: pd.DataFrame, joining: pd.Series, *, n_after: int = 0, min_firms: int = 0
) -> Any:
    """Two panels: (a) stacked bars of firms observed by status per period; (b) firms
    joining in each period (the join cohorts' sizes).

    Parameters
    ----------
    counts : DataFrame
        :func:`rollout_counts`.
    joining : Series
        Firms by join period (cohorts within the panel only).
    n_after : int
        Firms joining after the last period (not drawn; stated in panel b).
    min_firms : int
        Disclosure control: counts of 1 to ``min_firms - 1`` firms are not drawn (bars of
        panel b labelled ``< k``; stated in the titles). 0: off.
    """
    from matplotlib.ticker import MaxNLocator

    fig = _figure(7.0, 6.2)
    ax, bx = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    years = counts.index.to_numpy(dtype=float)
    counts, joining = counts.astype(float), joining.astype(float)
    small_a = (counts >= 1) & (counts < min_firms)
    counts = counts.mask(small_a, 0.0)
    bottom = np.zeros(len(years))
    for label, grey in reversed(STATUS):  # members at the bottom, where the eye starts
        v = counts[label].to_numpy(dtype=float)
        ax.bar(years, v, bottom=bottom, width=0.8, color=grey, edgecolor="0.25",
               linewidth=0.4, label=label)  # fmt: skip
        bottom += v
    ax.set_ylabel("firms observed")
    title_a = "(a) Firms by treatment status"
    if small_a.to_numpy().any():
        # on its own line: one line ran past the figure's edge
        title_a += f"\n(groups of fewer than {min_firms} firms not drawn: disclosure control)"
    ax.set_title(title_a, loc="left", fontsize=10)
    ax.set_ylim(0, bottom.max() * 1.05 if bottom.size else 1)
    j = joining.reindex(counts.index, fill_value=0)
    small_b = ((j >= 1) & (j < min_firms)).to_numpy()
    shown = np.where(small_b, 0.0, j.to_numpy(dtype=float))
    bars = bx.bar(years, shown, width=0.8, color="0.2", edgecolor="0.2")
    text = [
        f"< {min_firms}" if h else (f"{int(v)}" if v else "")
        for v, h in zip(j, small_b, strict=True)
    ]
    bx.bar_label(bars, labels=text, fontsize=7, padding=1)
    bx.set_ylim(0, max(float(j.max()) * 1.2, 1.0) if len(j) else 1.0)
    bx.set_ylabel("firms joining")
    title = "(b) Firms joining a cluster, by year of joining"
    if n_after:
        last = _year(years.max())
        title += (
            f"\n({_count(n_after, min_firms)} firms joining after {last}, the last year "
            "observed, not shown)"
        )
    bx.set_title(title, loc="left", fontsize=10)
    bx.set_xlabel("year")
    bx.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(years):
        bx.set_xlim(years.min() - 0.6, years.max() + 0.6)
    for a in (ax, bx):
        a.spines[["top", "right"]].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], frameon=False, fontsize=8, ncol=2,
               loc="upper center", bbox_to_anchor=(0.5, 0.955))  # fmt: skip
    fig.suptitle("Programme roll-out", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


# ---------------------------------------------------------------------- trajectories
def cohort_bins(cohorts: np.ndarray, last: float, k: int = 3) -> list[tuple[str, np.ndarray]]:
    """At most ``k`` (<= 3) groups of consecutive join cohorts, each with about as many
    cohorts: ``[(name, cohort values)]``, earliest first. Cohorts after ``last`` (the last
    observed period) and NaN are left out."""
    g = np.unique(cohorts[np.isfinite(cohorts) & (cohorts <= last)])
    if g.size == 0:
        return []
    parts = np.array_split(g, min(k, 3, g.size))
    return list(zip(GROUP_NAMES[len(parts)], parts, strict=True))


def draw_trajectories(
    data: pd.DataFrame,
    outcomes: list[str],
    *,
    unit: str,
    time: str,
    cohort: np.ndarray,
    control: np.ndarray,
    control_label: str,
    min_firms: int = 0,
) -> Any:
    """Yearly means of each outcome (one panel each) for up to three groups of join
    cohorts (early, middle, late joiners) and the controls.

    Parameters
    ----------
    data : DataFrame
        The panel (firm-years).
    cohort : ndarray
        Each row's join period (NaN: never-member).
    control : ndarray of bool
        Rows of the comparison firms (never-members of the control pool).
    control_label : str
        Who the controls are, for the legend.
    min_firms : int
        Disclosure control: a group (or the controls) of fewer firms is not drawn.

    Notes
    -----
    A group's markers are hollow before its earliest join year and filled from it on.
    Firms joining after the last observed period are left out (and counted in a note).
    """
    from matplotlib.ticker import MaxNLocator

    t = data[time].to_numpy(dtype=float)
    last = float(np.nanmax(t))
    bins = cohort_bins(cohort, last)
    firm_cohort = pd.Series(cohort).groupby(data[unit].to_numpy()).first()
    n_small = sum(1 for _, yrs in bins if int(firm_cohort.isin(yrs).sum()) < min_firms)
    bins = [(name, yrs) for name, yrs in bins if int(firm_cohort.isin(yrs).sum()) >= min_firms]
    n_after = int((firm_cohort > last).sum())
    n_ctrl = int(pd.Series(data[unit].to_numpy()[control]).nunique())
    show_controls = n_ctrl >= min_firms
    n_small += not show_controls
    ncol = min(2, len(outcomes))
    nrow = -(-len(outcomes) // ncol)
    fig = _figure(max(7.0, 3.8 * ncol), 2.7 * nrow + 1.1)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, outcome in zip(axes, outcomes, strict=False):
        if show_controls:
            m = data[control].groupby(time)[outcome].mean()
            ax.plot(m.index, m.to_numpy(), color="0.65", linewidth=3.0, solid_capstyle="butt",
                    label=f"controls: {control_label} ({n_ctrl:,} firms)")  # fmt: skip
        for (name, years), (colour, style, marker) in zip(bins, GROUP_STYLES, strict=False):
            rows = np.isin(cohort, years)
            m = data[rows].groupby(time)[outcome].mean()
            x, y = m.index.to_numpy(dtype=float), m.to_numpy(dtype=float)
            n = int(firm_cohort.isin(years).sum())
            word = "joined" if name == "members" else f"{name} joiners: joined"
            ax.plot(x, y, color=colour, linestyle=style, linewidth=1.3, marker=marker,
                    markersize=4, markerfacecolor=colour, markeredgecolor=colour,
                    label=f"{word} {_span(years)} ({n:,} firms)")  # fmt: skip
            before = x < years.min()
            ax.plot(x[before], y[before], linestyle="none", marker=marker, markersize=4,
                    markerfacecolor="white", markeredgecolor=colour)  # fmt: skip
        ax.set_title(outcome, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[len(outcomes) :]:
        ax.set_visible(False)
    for ax in axes[max(len(outcomes) - ncol, 0) : len(outcomes)]:
        ax.set_xlabel("year")
    handles, labels = axes[0].get_legend_handles_labels()
    if show_controls:
        handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]  # controls last
    note = "hollow markers: years before the group's first members joined"
    if n_after:
        after = _count(n_after, min_firms)
        note += f"; {after} firms joining after {_year(last)} (the last year) not shown"
    if n_small:
        note += f"; {n_small} group(s) of fewer than {min_firms} firms not shown (disclosure)"
    fig.legend(handles, labels, frameon=False, fontsize=8, loc="lower center", ncol=2,
               title=note, title_fontsize=7.5)  # fmt: skip
    fig.suptitle("Raw yearly means: members by year of joining, and controls", fontsize=11)
    fig.tight_layout(rect=(0, 0.75 / (2.7 * nrow + 1.1), 1, 1))
    return fig


# ---------------------------------------------------------------------- heat map
def _grid(table: pd.DataFrame, column: str, rows: list[float], cols: np.ndarray) -> np.ndarray:
    wide = table.pivot_table(index="cohort", columns="rel_time", values=column, aggfunc="first")
    return wide.reindex(index=rows, columns=cols).to_numpy(dtype=float)


def draw_att_gt(
    table: pd.DataFrame,
    *,
    outcome: str,
    last: float,
    sizes: pd.Series | None = None,
) -> Any:
    """Heat map of ATT(g,t): join cohorts (rows, earliest on top) by years relative to
    joining ``e = t - g`` (columns); a vertical line between e = -1 and e = 0 separates the
    pre-joining placebo cells (hatched) from the effects.

    Parameters
    ----------
    table : DataFrame
        The ATT(g,t) table: ``cohort``, ``time``, ``estimate`` and, when known,
        ``std_error`` and ``base_period``.
    last : float
        The last observed period: cohorts joining after it are left out.
    sizes : Series, optional
        Firms per cohort, shown beside the cohort.

    Notes
    -----
    Cells with ``|estimate / SE| > 1.96`` carry a ``+`` or ``−`` (the sign). Grids up to
    :data:`ANNOTATE_MAX` print the values (two decimals) instead, ``*`` marking the same
    cells. The colour scale is symmetric around zero.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tab = table.copy()
    tab = tab[np.isfinite(tab["estimate"].to_numpy(dtype=float)) & (tab["cohort"] <= last)]
    tab["rel_time"] = tab["time"].to_numpy(dtype=float) - tab["cohort"].to_numpy(dtype=float)
    rows = sorted(tab["cohort"].unique())
    if not rows:
        return None
    e = tab["rel_time"].to_numpy(dtype=float)
    cols = np.arange(e.min(), e.max() + 1)
    est = _grid(tab, "estimate", rows, cols)
    se = _grid(tab, "std_error", rows, cols) if "std_error" in tab else np.full_like(est, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        sig = np.abs(est / se) > Z_CRIT
    lim = float(np.nanmax(np.abs(est))) or 1.0
    annotate = len(rows) <= ANNOTATE_MAX[0] and len(cols) <= ANNOTATE_MAX[1]
    height = max(3.6, 0.32 * len(rows) + 2.4)
    fig = _figure(7.5, height)
    ax = fig.subplots()
    xe = np.append(cols - 0.5, cols[-1] + 0.5)
    ye = np.arange(len(rows) + 1) - 0.5
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(est), cmap="RdBu_r", vmin=-lim, vmax=lim,
                         edgecolors="white", linewidth=0.5)  # fmt: skip
    pre_cells = np.isfinite(est) & (cols[None, :] < 0)
    for i, k in zip(*np.nonzero(pre_cells), strict=True):
        ax.add_patch(_hatched(cols[k], i))
    if cols[0] < 0 <= cols[-1]:  # the line between before and after joining
        ax.axvline(-0.5, color="black", linewidth=1.6)
    dark = np.abs(est) > 0.6 * lim
    for i, k in zip(*np.nonzero(np.isfinite(est)), strict=True):
        colour = "white" if dark[i, k] else "black"
        if annotate:
            text = f"{est[i, k]:.2f}".replace("-", "−") + ("*" if sig[i, k] else "")
            ax.text(cols[k], i, text, ha="center", va="center", fontsize=7, color=colour)
        elif sig[i, k]:
            sign = "+" if est[i, k] > 0 else "−"
            ax.text(cols[k], i, sign, ha="center", va="center", fontsize=9,
                    fontweight="bold", color=colour)  # fmt: skip
    ax.set_ylim(len(rows) - 0.5, -0.5)  # earliest cohort on top
    ax.set_yticks(range(len(rows)), [_cohort_label(g, sizes) for g in rows], fontsize=8)
    step = 1 if len(cols) <= 16 else 2
    ticks = [c for c in cols if c % step == 0]
    ax.set_xticks(ticks, [f"{int(c)}".replace("-", "−") for c in ticks], fontsize=8)
    ax.set_xlabel("years relative to joining, e = t − g (calendar year t = g + e)")
    ax.set_ylabel("join cohort g (firms)" if sizes is not None else "join cohort g")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    if cols[0] < 0:
        ax.text(-0.7, -0.6, "before joining (placebo) ", ha="right", va="bottom", fontsize=8)
    if cols[-1] >= 0:
        ax.text(-0.3, -0.6, " after joining (effect)", ha="left", va="bottom", fontsize=8)
    fig.colorbar(mesh, ax=ax, label=f"ATT(g,t) on {outcome}", shrink=0.8, pad=0.02)
    if annotate:
        mark, what = "$*$", "|estimate / SE|"
    else:
        mark, what = "$+$", "significantly positive (+) or negative (−): |estimate / SE|"
    handles = [
        Line2D([], [], linestyle="none", marker=mark, color="black", markersize=7,
               label=f"{what} > {Z_CRIT} (pointwise 5% level)"),
        Patch(facecolor="white", edgecolor="0.45", hatch="//",
              label=f"hatched cells: before joining{_pre_base(tab)}"),
    ]  # fmt: skip
    fig.legend(handles=handles, frameon=False, fontsize=7.5, loc="lower left",
               bbox_to_anchor=(0.02, 0.0))  # fmt: skip
    fig.suptitle(f"Callaway-Sant'Anna ATT(g,t) for {outcome}", fontsize=11)
    fig.tight_layout(rect=(0, 0.55 / height, 1, 1))
    return fig


def _hatched(x: float, y: float) -> Any:
    from matplotlib.patches import Rectangle

    patch = Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.45",
                      linewidth=0.0)  # fmt: skip
    if hasattr(patch, "set_hatch_linewidth"):  # matplotlib >= 3.10
        patch.set_hatch_linewidth(0.5)
    return patch


def _cohort_label(g: float, sizes: pd.Series | None) -> str:
    if sizes is None or g not in sizes.index:
        return _year(g)
    return f"{_year(g)} ({int(sizes[g]):,})"


def _pre_base(tab: pd.DataFrame) -> str:
    """How the pre-joining cells are differenced, from their base periods."""
    pre = tab[tab["rel_time"] < 0]
    if "base_period" not in tab or pre.empty:
        return ""
    gap = pre["time"].to_numpy(dtype=float) - pre["base_period"].to_numpy(dtype=float)
    if np.all(gap == 1):
        return " (change from the year before: varying base period)"
    if np.all(pre["base_period"].to_numpy(dtype=float) == pre["cohort"].to_numpy() - 1):
        return " (difference from year g − 1: universal base period)"
    return ""
