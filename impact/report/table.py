"""A report table: title, tidy frame (or fitted models), note; rendered in four formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from impact.report.escape import markdown_escape, markdown_paragraph
from impact.report.etable import etable
from impact.report.frames import format_frame, render_frame

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    """A report table.

    Attributes
    ----------
    name, title, note : str
    models : tuple
        Fitted models rendered with :func:`impact.etable` (when ``frame`` is None).
    labels : dict
        Variable labels for :func:`impact.etable`.
    frame : DataFrame, optional
        The tidy table: one row per estimate, every number unrounded (written as CSV).
    display : DataFrame, optional
        The shape shown in Markdown, LaTeX and HTML (default: ``frame``).
    """

    name: str
    title: str
    models: tuple[Any, ...]
    note: str
    labels: dict[str, str]
    frame: pd.DataFrame | None = None
    display: pd.DataFrame | None = None

    def render(self) -> dict[str, str]:
        """The table as Markdown (with title and note), LaTeX, HTML and CSV text."""
        heading = f"## {markdown_escape(self.title)}\n\n"
        if self.frame is not None:
            shown = format_frame(self.display if self.display is not None else self.frame)
            return {
                ".md": heading + render_frame(shown, "markdown", self.note),
                ".tex": render_frame(shown, "latex"),
                ".html": render_frame(shown, "html", self.note),
                ".csv": self.frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"),
            }
        models = list(self.models)
        return {
            ".md": heading
            + etable(models, format="markdown", labels=self.labels)
            + f"\n{markdown_paragraph(self.note)}\n",
            ".tex": etable(models, format="latex", labels=self.labels),
            ".html": etable(models, format="html", labels=self.labels),
            ".csv": etable(models, labels=self.labels).to_csv(lineterminator="\n"),
        }
