"""Drawings of the diagnostics' results (Bacon scatter, TWFE weights, pre-trend power):
every function takes ``ax=`` and returns it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.inference.intervals import critical_value
from impact.results.plotting import MARKERS, REL_TIME_LABEL

__all__ = ["plot_bacon", "plot_cell_weights", "plot_pretrend_power", "plot_sensitivity"]


def _new_axes(ax: Any, n_colours: int) -> tuple[Any, list]:
    """The given Axes or a new 6.5 x 4 figure's, and a colour-blind palette."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    return ax, sns.color_palette("colorblind", n_colours)


def _finish(ax: Any, xlabel: str, ylabel: str) -> Any:
    import seaborn as sns

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small")
    sns.despine(ax=ax)
    return ax


def plot_bacon(pairs: Any, twfe: float, *, ax: Any = None) -> Any:
    """Goodman-Bacon scatter: each 2x2 DiD estimate against its weight, one marker and
    colour per comparison type, the TWFE coefficient (their weighted mean) as a line.

    Parameters
    ----------
    pairs : DataFrame
        ``type``, ``estimate``, ``weight`` (a :class:`~impact.results.bacon.BaconResult`'s
        ``pairs``).
    twfe : float
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax, colours = _new_axes(ax, 4)
    for j, (kind, rows) in enumerate(pairs.groupby("type", sort=False)):
        ax.scatter(rows["weight"], rows["estimate"], marker=MARKERS[j % len(MARKERS)],
                   color=colours[j % len(colours)], label=kind, s=28)  # fmt: skip
    ax.axhline(twfe, color="0.2", linewidth=1.0, linestyle="--", label=f"TWFE = {twfe:.4f}")
    ax.axhline(0.0, color="0.6", linewidth=0.6)
    return _finish(ax, "Weight", "2x2 DiD estimate")


def plot_cell_weights(cells: Any, time: str, *, ax: Any = None) -> Any:
    """TWFE weights of treated observations by period: positive and negative in two
    colours and markers, zero marked.

    Parameters
    ----------
    cells : DataFrame
        ``time`` and ``weight`` columns (a :class:`TWFEWeightsResult`'s ``cells``).
    time : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax, colours = _new_axes(ax, 2)
    w = cells["weight"].to_numpy(dtype=float)
    periods = pd.Index(sorted(pd.unique(cells[time])))
    x = periods.get_indexer(cells[time])
    for j, (mask, label) in enumerate(((w >= 0, "positive"), (w < 0, "negative"))):
        ax.scatter(x[mask], w[mask], marker=MARKERS[j], color=colours[j], s=14, alpha=0.6,
                   label=f"{label} ({int(mask.sum())})")  # fmt: skip
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.set_xticks(range(len(periods)), [str(p) for p in periods])
    return _finish(ax, time, "TWFE weight")


def plot_contamination(weights: Any, coefficient: int, *, ax: Any = None) -> Any:
    """Weights of one TWFE event-study coefficient on every cohort-by-event-time cell,
    against the cell's event time: the coefficient's own cells, other event times' and the
    reference's in three markers, one line per cohort.

    Parameters
    ----------
    weights : DataFrame
        ``cohort``, ``rel_time``, ``weight``, ``role`` of one coefficient.
    coefficient : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax, colours = _new_axes(ax, 3)
    for j, role in enumerate(("own", "other", "reference")):
        part = weights[weights["role"] == role]
        ax.scatter(part["rel_time"], part["weight"], marker=MARKERS[j], color=colours[j], s=16,
                   alpha=0.7, label=f"{role} ({len(part)})")  # fmt: skip
    for _, part in weights.groupby("cohort", sort=True):
        part = part.sort_values("rel_time")
        ax.plot(part["rel_time"], part["weight"], color="0.75", linewidth=0.6, zorder=0)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.set_title(f"coefficient of event time {coefficient}")
    return _finish(ax, "Event time of the cell", "Weight")


def plot_pretrend_power(
    table: Any, reference: int, slope: float, *, alpha: float = 0.05, ax: Any = None
) -> Any:
    """Event-study coefficients with 1 - alpha intervals, the hypothesised linear trend, and the
    coefficients expected under that trend given that the pre-test passed.

    Parameters
    ----------
    table : DataFrame
        ``rel_time``, ``estimate``, ``std_error``, ``trend``, ``expected_if_passed``.
    reference : int
        The normalised event time (drawn at 0).
    slope : float
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax, colours = _new_axes(ax, 3)
    rel = table["rel_time"].to_numpy()
    est = table["estimate"].to_numpy(dtype=float)
    half = critical_value(alpha) * table["std_error"].to_numpy(dtype=float)
    ax.errorbar(rel, est, yerr=half, fmt="o", color=colours[0], capsize=3, markersize=4,
                label=f"estimate, {100 * (1 - alpha):g}% CI")  # fmt: skip
    ax.plot([reference], [0.0], "o", color=colours[0], markerfacecolor="white")
    order = np.argsort(np.r_[rel, reference])
    xs = np.r_[rel, reference][order]
    ax.plot(xs, np.r_[table["trend"].to_numpy(float), 0.0][order], "--", color="0.3",
            label=f"linear trend, slope {slope:.3g}")  # fmt: skip
    ax.plot(xs, np.r_[table["expected_if_passed"].to_numpy(float), 0.0][order],
            marker=MARKERS[1], color=colours[1], label="expected if pre-test passed")  # fmt: skip
    ax.axhline(0.0, color="0.6", linewidth=0.6)
    return _finish(ax, REL_TIME_LABEL, "Coefficient")


#: Axis labels of the sensitivity plot, by bound.
_BOUND_LABELS = {
    "M": "M (bound on the change in the trend's slope per period)",
    "Mbar": "Mbar (post-period change relative to the largest pre-period change)",
}


def plot_sensitivity(
    table: Any, breakdown: float, *, ax: Any = None, bound: str = "M", method: str = "FLCI"
) -> Any:
    """Robust confidence intervals against the bound (``M`` or ``Mbar``), the original
    interval at the left, the breakdown value as a dotted line.

    Parameters
    ----------
    table : DataFrame
        The bound's column (NaN for the original interval), ``lower``, ``upper``.
    breakdown : float
    ax : matplotlib Axes, optional
    bound : {"M", "Mbar"}
    method : str
        How the robust intervals were built (legend).

    Returns
    -------
    matplotlib Axes
    """
    ax, colours = _new_axes(ax, 2)
    robust = table[table[bound].notna()]
    original = table[table[bound].isna()]
    m = robust[bound].to_numpy(dtype=float)
    step = float(np.min(np.diff(m))) if len(m) > 1 else 1.0
    ax.vlines(m, robust["lower"], robust["upper"], color=colours[0], linewidth=2.2,
              label=f"robust CI ({method})")  # fmt: skip
    if len(original):
        x0 = float(m.min() - step) if len(m) else 0.0
        ax.vlines([x0], original["lower"], original["upper"], color=colours[1], linewidth=2.2,
                  label="original CI")  # fmt: skip
    ax.axhline(0.0, color="0.4", linewidth=0.8)
    if np.isfinite(breakdown):
        ax.axvline(
            breakdown, color="0.3", linestyle=":", label=f"breakdown {bound} = {breakdown:.3g}"
        )
    return _finish(ax, _BOUND_LABELS[bound], "Effect")
