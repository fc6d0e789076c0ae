"""Figures (seaborn styling) for the report: re-exported from :mod:`impact.results.plotting`,
where every result's ``plot()`` draws, so presentation and results share one drawing code."""

from __future__ import annotations

from impact.results.plotting import MARKERS, plot_event_study

__all__ = ["MARKERS", "plot_event_study"]
