"""Report figures: event studies, raw trajectories, ATT(g,t) heat maps, roll-out chart.

Each builder takes the :class:`~impact.report.evaluation.Evaluation` and returns
``{name: matplotlib Figure}`` (made outside pyplot, inside :func:`figure_style`);
estimates come from the evaluation's memoised fits (the same numbers as tables 5 and 6).
Styling: seaborn "ticks", colour-blind palette, and markers or grey levels that stay
readable in black and white.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.report.evaluation import LABELS, Evaluation
from impact.report.figures import plot_event_study
from impact.report.headline import EVENT_ESTIMATORS, primary_estimator

__all__ = [
    "figure_att_gt",
    "figure_event_studies",
    "figure_rollout",
    "figure_style",
    "figure_trajectories",
    "panel_grid",
    "subplots",
]


def figure_style() -> Any:
    """Context manager with the report's matplotlib settings (seaborn "ticks", "paper");
    global settings and the user's backend are left alone."""
    import matplotlib as mpl
    import seaborn as sns

    return mpl.rc_context({**sns.axes_style("ticks"), **sns.plotting_context("paper")})


def subplots(nrows: int = 1, ncols: int = 1, **kw: Any) -> tuple[Any, Any]:
    """A figure and its axes outside pyplot (no global figure registry, no backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kw.pop("figsize", (7, 4)))
    return fig, fig.subplots(nrows, ncols, **kw)


def panel_grid(n: int, ncols: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels, ``ncols`` per row (at most ``n``), each ``width`` x
    ``height`` inches; returns the figure and the ``n`` axes in use (the rest hidden)."""
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _event_outcomes(ev: Evaluation) -> list[tuple[Any, str]]:
    return [
        (fam, o)
        for fam in ev.spec.families
        if any(e in EVENT_ESTIMATORS for e in fam.estimators)
        for o in fam.outcomes
    ]


def figure_event_studies(ev: Evaluation) -> dict[str, Any]:
    """Per outcome: every event-study estimator overlaid (pointwise intervals and sup-t
    bands), with the generator's truth as a line when known."""
    out = {}
    for fam, outcome in _event_outcomes(ev):
        keys = [k for k in fam.estimators if k in EVENT_ESTIMATORS]
        fits = [ev.event_study(outcome, EVENT_ESTIMATORS[k]) for k in keys]
        fig, ax = subplots(figsize=(7, 4))
        plot_event_study(
            fits,
            ax=ax,
            labels=[LABELS["event_twfe" if k == "twfe" else k] for k in keys],
            xlabel="Years relative to joining",
        )
        truth = ev.true_event(outcome)
        if truth is not None:
            lo, hi = ev.spec.window
            t = truth[(truth.index >= lo) & (truth.index <= hi)]
            ax.plot(t.index, t.to_numpy(), color="black", linestyle=":", marker="x", label="truth")
            ax.legend(frameon=False, fontsize=7)
        ax.set_ylabel(f"Effect on {outcome}")
        ax.set_title(f"Cluster membership and {outcome}: event study ({ev.spec.effect} effect)")
        fig.tight_layout()
        out[f"event_study_{outcome}"] = fig
    return out


def figure_trajectories(ev: Evaluation) -> dict[str, Any]:
    """Raw yearly means by join cohort and for the never-member controls, one panel per
    outcome (cohorts in grey levels, the joining year marked; controls dashed black)."""
    c, d = ev.spec.columns, ev.data
    cohort = pd.to_numeric(d[c.cohort], errors="coerce")
    control = cohort.isna() & d[ev.names.pool].astype(bool)
    from matplotlib.ticker import MaxNLocator

    outcomes = [o for _, o in _event_outcomes(ev)]
    ncol = min(2, len(outcomes))
    nrow = -(-len(outcomes) // ncol)
    fig, axes = subplots(nrow, ncol, figsize=(8, 3 * nrow), squeeze=False)
    groups = sorted(cohort.dropna().unique())
    greys = np.linspace(0.15, 0.7, max(len(groups), 1))
    for ax, outcome in zip(axes.ravel(), outcomes, strict=False):
        for g, grey in zip(groups, greys, strict=False):
            m = d[cohort == g].groupby(c.time)[outcome].mean()
            ax.plot(m.index, m.to_numpy(), color=str(grey), linewidth=1, label=f"joined {int(g)}")
            if int(g) in m.index:
                ax.plot([g], [m.loc[int(g)]], marker="o", color=str(grey), markersize=3)
        m = d[control].groupby(c.time)[outcome].mean()
        ax.plot(
            m.index, m.to_numpy(), color="black", linewidth=2.2, linestyle="--", label="controls"
        )
        ax.set_title(f"mean {outcome}", fontsize=9)
        ax.set_xlabel(str(c.time))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # years, not 2005.0
    for ax in axes.ravel()[len(outcomes) :]:
        ax.set_visible(False)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, fontsize=6, loc="lower center", ncol=7)
    fig.suptitle("Raw outcomes by join cohort (dot: joining year) and never-member controls")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return {"trajectories": fig}


def figure_att_gt(ev: Evaluation) -> dict[str, Any]:
    """Cohort x year heat map of Callaway-Sant'Anna's ATT(g,t) for the headline outcome
    (the first outcome of the first family with CS), values printed in the cells."""
    import seaborn as sns

    fams = [f for f in ev.spec.families if primary_estimator(f) == "cs"]
    if not fams:
        return {}
    outcome = fams[0].outcomes[0]
    tab = ev.att_gt(outcome).table
    grid = tab.pivot(index="cohort", columns="time", values="estimate")
    grid.index = grid.index.astype(int)
    grid.columns = grid.columns.astype(int)
    fig, ax = subplots(figsize=(8, 4.5))
    lim = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    sns.heatmap(
        grid, ax=ax, cmap="vlag", center=0, vmin=-lim, vmax=lim, annot=True, fmt=".2f",
        annot_kws={"fontsize": 5}, cbar_kws={"label": "ATT(g,t)"}, linewidths=0.3,
    )  # fmt: skip
    ax.set_xlabel("year")
    ax.set_ylabel("join cohort")
    ax.set_title(f"Callaway-Sant'Anna ATT(g,t) for {outcome} (values printed)")
    fig.tight_layout()
    return {f"att_gt_{outcome}": fig}


#: Status codes of the roll-out chart and their grey levels (readable in black and white).
STATUS = (
    ("outside cluster cells", "0.92"),
    ("non-member, cluster not launched", "0.75"),
    ("exposed non-member", "0.5"),
    ("member", "0.0"),
)


def figure_rollout(ev: Evaluation) -> dict[str, Any]:
    """Which firm is treated when: firms (rows, sorted by cohort) by year, status in greys."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    c, d = ev.spec.columns, ev.data
    t = d[c.time].to_numpy(dtype=float)
    cohort = pd.to_numeric(d[c.cohort], errors="coerce").to_numpy(dtype=float)
    launch = pd.to_numeric(d[c.launch], errors="coerce").to_numpy(dtype=float)
    in_cell = d[c.cluster_cell].astype(bool).to_numpy()
    status = np.where(~in_cell, 0, np.where(t >= cohort, 3, np.where(t >= launch, 2, 1)))
    wide = pd.DataFrame({"unit": d[c.unit].to_numpy(), "t": t, "s": status}).pivot_table(
        index="unit", columns="t", values="s", aggfunc="max"
    )
    firm_cohort = pd.Series(cohort, index=d[c.unit].to_numpy()).groupby(level=0).min()
    firm_launch = pd.Series(launch, index=d[c.unit].to_numpy()).groupby(level=0).min()
    order = pd.DataFrame(
        {"g": firm_cohort.fillna(np.inf), "l": firm_launch.fillna(np.inf)}
    ).sort_values(["g", "l"], kind="stable")
    wide = wide.loc[order.index]
    fig, ax = subplots(figsize=(7, 5))
    cmap = ListedColormap([grey for _, grey in STATUS]).with_extremes(bad="white")
    img = np.ma.masked_invalid(wide.to_numpy(dtype=float))
    ax.imshow(img, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=3.5)
    years = wide.columns.to_numpy()
    step = max(1, len(years) // 8)
    ax.set_xticks(range(0, len(years), step), [str(int(y)) for y in years[::step]])
    ax.set_yticks([])
    ax.set_ylabel(f"firms ({len(wide):,}), sorted by join cohort and launch; white: not observed")
    ax.set_xlabel(str(c.time))
    ax.legend(
        handles=[Patch(facecolor=g, edgecolor="0.3", label=s) for s, g in STATUS],
        frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0),
    )  # fmt: skip
    ax.set_title("Programme roll-out: treatment status by firm and year")
    fig.tight_layout()
    return {"rollout": fig}
