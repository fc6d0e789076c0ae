"""Figures (seaborn styling): they take ``ax=`` and return it; they consume results only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MARKERS", "plot_event_study"]

#: One marker per overlaid estimator, so overlays stay distinct in black and white.
MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_event_study(
    results: Any | Sequence[Any],
    *,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    offset: float = 0.12,
) -> Any:
    """Overlay event-study results: points with pointwise intervals and simultaneous bands.

    Parameters
    ----------
    results : EventStudyResult or sequence of them
        Anything with a ``table`` holding ``rel_time``, ``estimate``, ``conf_low``,
        ``conf_high``, ``band_low``, ``band_high``.
    ax : matplotlib Axes, optional
        Created if not given.
    labels : sequence of str, optional
        Legend labels (default: each result's ``estimator``).
    offset : float
        Horizontal dodge between overlaid estimators.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if not isinstance(results, (list, tuple)):
        results = [results]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colors = sns.color_palette("colorblind", len(results))
    markers = MARKERS * (len(results) // len(MARKERS) + 1)
    shift = (np.arange(len(results)) - (len(results) - 1) / 2) * offset
    for k, res in enumerate(results):
        tab = res.table
        x = tab["rel_time"].to_numpy(dtype=float) + shift[k]
        label = labels[k] if labels is not None else getattr(res, "estimator", f"model {k + 1}")
        ax.vlines(x, tab["band_low"], tab["band_high"], color=colors[k], alpha=0.35, linewidth=5)
        ax.errorbar(
            x,
            tab["estimate"],
            yerr=[tab["estimate"] - tab["conf_low"], tab["conf_high"] - tab["estimate"]],
            fmt=markers[k],
            color=colors[k],
            capsize=3,
            label=label,
            markersize=4,
        )
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.axvline(-0.5, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_xlabel("Years relative to joining")
    ax.set_ylabel("Effect")
    ax.legend(frameon=False)
    sns.despine(ax=ax)
    return ax
