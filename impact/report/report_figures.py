"""Report figures: event studies, raw trajectories, ATT(g,t) heat maps, roll-out chart.

Each builder takes the :class:`~impact.report.evaluation.Evaluation` and returns
``{name: matplotlib Figure}`` (made outside pyplot, inside :func:`figure_style`);
estimates come from the evaluation's memoised fits (the same numbers as tables 5 and 6).
The heat map, trajectories and roll-out are drawn by :mod:`impact.report.figure_cohorts`
from the columns extracted here. Styling: seaborn "ticks", colour-blind palette, and
markers, line styles or grey levels that stay readable in black and white.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.report.evaluation import LABELS, Evaluation
from impact.report.figure_cohorts import (
    STATUS,
    draw_att_gt,
    draw_rollout,
    draw_trajectories,
    rollout_counts,
    rollout_status,
)
from impact.report.figures import plot_event_study
from impact.report.headline import EVENT_ESTIMATORS, primary_estimator

__all__ = [
    "CONTROL_LABELS",
    "STATUS",
    "figure_att_gt",
    "figure_event_studies",
    "figure_rollout",
    "figure_style",
    "figure_trajectories",
    "panel_grid",
    "subplots",
]


#: Who the trajectories' controls are, by the spec's ``control`` setting.
CONTROL_LABELS = {
    "out_of_cell": "never-members outside cluster cells",
    "in_cell": "never-members in cluster cells",
    "never": "never-members",
}


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
    """Raw yearly means, one panel per outcome, for up to three groups of join cohorts
    (early, middle, late joiners; consecutive join years) and the never-member controls of
    the spec's control pool; firms joining after the last observed year are left out (see
    :func:`~impact.report.figure_cohorts.draw_trajectories`)."""
    c, d = ev.spec.columns, ev.data
    cohort = d[ev.names.cohort].to_numpy(dtype=float)
    control = np.isnan(cohort) & d[ev.names.pool].to_numpy(dtype=bool)
    outcomes = [o for _, o in _event_outcomes(ev)]
    if not outcomes:
        return {}
    fig = draw_trajectories(
        d, outcomes, unit=c.unit, time=c.time, cohort=cohort, control=control,
        control_label=CONTROL_LABELS.get(ev.spec.control, "never-members"),
        min_firms=ev.spec.disclosure_min_firms,
    )  # fmt: skip
    return {"trajectories": fig}


def figure_att_gt(ev: Evaluation) -> dict[str, Any]:
    """Heat map of Callaway-Sant'Anna's ATT(g,t) for the headline outcome (the first
    outcome of the first family with CS): join cohorts treated within the panel by years
    relative to joining, pre-joining cells hatched, significant cells signed (see
    :func:`~impact.report.figure_cohorts.draw_att_gt`)."""
    fams = [f for f in ev.spec.families if primary_estimator(f) == "cs"]
    if not fams:
        return {}
    outcome = fams[0].outcomes[0]
    c, d = ev.spec.columns, ev.data
    last = float(d[c.time].to_numpy(dtype=float).max())
    sizes = d.groupby(ev.names.cohort)[c.unit].nunique()
    table = ev.att_gt(outcome).table
    k = ev.spec.disclosure_min_firms  # disclosure control: cells of fewer firms not drawn
    if k > 1:
        table = table[~table["n_treated"].between(1, k - 1)]
    fig = draw_att_gt(table, outcome=outcome, last=last, sizes=sizes)
    return {} if fig is None else {f"att_gt_{outcome}": fig}


def figure_rollout(ev: Evaluation) -> dict[str, Any]:
    """Roll-out at a glance: firms observed per year by treatment status (stacked bars,
    :data:`STATUS`) and firms joining per year (see
    :func:`~impact.report.figure_cohorts.draw_rollout`)."""
    c, d = ev.spec.columns, ev.data
    t = d[c.time].to_numpy(dtype=float)
    cohort = d[ev.names.cohort].to_numpy(dtype=float)
    launch = pd.to_numeric(d[c.launch], errors="coerce").to_numpy(dtype=float)
    in_cell = d[c.cluster_cell].astype(bool).to_numpy()
    unit = d[c.unit].to_numpy()
    counts = rollout_counts(unit, t, rollout_status(t, cohort, launch, in_cell))
    firm_cohort = pd.Series(cohort).groupby(unit).first()
    last = float(t.max())
    joining = firm_cohort[firm_cohort <= last].value_counts().sort_index()
    fig = draw_rollout(
        counts, joining, n_after=int((firm_cohort > last).sum()),
        min_firms=ev.spec.disclosure_min_firms,
    )  # fmt: skip
    return {"rollout": fig}
