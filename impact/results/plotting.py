"""Drawing of results (seaborn styling): every function takes ``ax=`` and returns it.

Every result's ``plot()`` draws here; :mod:`impact.report.figures` re-exports
:func:`plot_event_study` for the report. Functions read a result's tidy frames only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MARKERS",
    "REL_TIME_LABEL",
    "plot_att_gt",
    "plot_coefficients",
    "plot_event_study",
]

#: Default x-label of event-study plots (results on a yearly grid say years).
REL_TIME_LABEL = "Periods relative to treatment"

#: One marker per overlaid estimator, so overlays stay distinct in black and white.
MARKERS = ("o", "s", "^", "D", "v", "P")


def plot_event_study(
    results: Any | Sequence[Any],
    *,
    ax: Any = None,
    labels: Sequence[str] | None = None,
    offset: float = 0.12,
    xlabel: str | None = None,
) -> Any:
    """Overlay event-study results: points with pointwise intervals and simultaneous bands.

    Parameters
    ----------
    results : result or sequence of results
        An event study, a dynamic aggregation of ATT(g,t), or anything with a ``table``
        holding ``rel_time``, ``estimate``, ``conf_low``, ``conf_high`` (and optionally
        the simultaneous band ``band_low``, ``band_high``).
    ax : matplotlib Axes, optional
        Created if not given.
    labels : sequence of str, optional
        Legend labels (default: each result's ``estimator``).
    offset : float
        Horizontal dodge between overlaid estimators.
    xlabel : str, optional
        Default: the first result's ``rel_time_label`` (its period unit), else
        :data:`REL_TIME_LABEL`.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    Callaway-Sant'Anna and TWFE event studies of R did's minimum-wage county panel overlaid.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat", window=(-4, 3))
    >>> results = [impact.event_study(mpdta, estimator=e, **kw) for e in ("cs", "twfe")]
    >>> ax = impact.plot_event_study(results, labels=["Callaway-Sant'Anna", "TWFE"])
    >>> ax.get_xlabel(), [text.get_text() for text in ax.get_legend().get_texts()]
    ('Periods relative to treatment', ["Callaway-Sant'Anna", 'TWFE'])
    >>> plt.close(ax.figure)
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
        tab = res if isinstance(res, pd.DataFrame) else res.table
        x = tab["rel_time"].to_numpy(dtype=float) + shift[k]
        label = labels[k] if labels is not None else getattr(res, "estimator", f"model {k + 1}")
        if {"band_low", "band_high"} <= set(tab.columns):
            ax.vlines(
                x, tab["band_low"], tab["band_high"], color=colors[k], alpha=0.35, linewidth=5
            )
        est = tab["estimate"].to_numpy(dtype=float)
        err = np.vstack([est - tab["conf_low"].to_numpy(float), tab["conf_high"] - est])
        if (np.nan_to_num(err) >= 0).all():
            ax.errorbar(
                x, est, yerr=err, fmt=markers[k], color=colors[k], capsize=3, label=label,
                markersize=4,
            )  # fmt: skip
        else:  # an interval that need not contain the estimate (bootstrap percentiles)
            ax.vlines(x, tab["conf_low"], tab["conf_high"], color=colors[k], linewidth=1)
            ax.plot(x, est, markers[k], color=colors[k], label=label, markersize=4)
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    ax.axvline(-0.5, color="0.3", linewidth=0.8, linestyle="--")
    ax.set_xlabel(xlabel or getattr(results[0], "rel_time_label", REL_TIME_LABEL))
    ax.set_ylabel("Effect")
    ax.legend(frameon=False)
    sns.despine(ax=ax)
    return ax


def plot_coefficients(tidy: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Estimates with their confidence intervals, one row per term (a coefficient plot).

    Parameters
    ----------
    tidy : DataFrame
        A result's ``tidy()``: ``term``, ``estimate``, ``conf_low``, ``conf_high``.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.6 + 0.35 * len(tidy)))
    y = np.arange(len(tidy))[::-1]
    est = tidy["estimate"].to_numpy(dtype=float)
    ax.errorbar(
        est,
        y,
        xerr=[est - tidy["conf_low"].to_numpy(float), tidy["conf_high"].to_numpy(float) - est],
        fmt="o",
        color=sns.color_palette("colorblind", 1)[0],
        capsize=3,
        markersize=4,
    )
    ax.set_yticks(y, [str(t) for t in tidy["term"]])
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel("Estimate")
    if title:
        ax.set_title(title)
    sns.despine(ax=ax)
    return ax


def plot_att_gt(table: Any, *, ax: Any = None, xlabel: str = REL_TIME_LABEL) -> Any:
    """ATT(g,t) by cohort, against event time (R ``did``'s ggdid): one panel per cohort.

    Parameters
    ----------
    table : DataFrame
        The ATT(g,t) table: ``cohort``, ``rel_time``, ``estimate``, ``conf_low``,
        ``conf_high`` (and ``band_low``, ``band_high`` with a bootstrap).
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per cohort (created, stacked, if not given); a single Axes draws every
        cohort on it, coloured by cohort.

    Returns
    -------
    ndarray of matplotlib Axes (one per cohort), or the single Axes given.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cohorts = list(dict.fromkeys(table["cohort"]))
    single = ax is not None and not isinstance(ax, (list, tuple, np.ndarray))
    if ax is None:
        _, ax = plt.subplots(len(cohorts), 1, figsize=(7, 1.8 * len(cohorts) + 0.6), sharex=True)
    axes = [ax] * len(cohorts) if single else list(np.atleast_1d(ax))
    if len(axes) != len(cohorts):
        from impact.errors import InvalidOptionError

        raise InvalidOptionError(
            f"plot needs {len(cohorts)} Axes (one per cohort), got {len(axes)}."
        )
    colors = sns.color_palette("colorblind", len(cohorts))
    for k, (c, a) in enumerate(zip(cohorts, axes, strict=True)):
        tab = table[table["cohort"] == c]
        x = tab["rel_time"].to_numpy(dtype=float)
        est = tab["estimate"].to_numpy(dtype=float)
        pre = x < 0
        for mask, marker in ((pre, "o"), (~pre, "s")):
            a.errorbar(
                x[mask], est[mask],
                yerr=[est[mask] - tab["conf_low"].to_numpy(float)[mask],
                      tab["conf_high"].to_numpy(float)[mask] - est[mask]],
                fmt=marker, color=colors[k], capsize=3, markersize=4,
                label=f"cohort {c}" if marker == "o" else None,
            )  # fmt: skip
        a.axhline(0.0, color="0.3", linewidth=0.8)
        a.axvline(-0.5, color="0.3", linewidth=0.8, linestyle="--")
        if not single:
            a.set_title(f"cohort {c}", fontsize=9, loc="left")
        sns.despine(ax=a)
    axes[-1].set_xlabel(xlabel)
    if single:
        ax.legend(frameon=False, fontsize=8)
        return ax
    return np.asarray(axes)
