"""A report table: title, tidy frame (or fitted models), note; rendered in four formats."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from impact.report.disclosure import SUPPRESSED
from impact.report.escape import html_escape, markdown_escape, markdown_paragraph
from impact.report.etable import etable
from impact.report.frames import format_frame, latex_note, render_frame
from impact.report.labels import PRETREND_FLAG_NOTE, display_frame, flag_pretrends

__all__ = ["Table", "is_truth_column"]


def is_truth_column(name: object) -> bool:
    """A column of the generator's truth: ``true_effect`` (or another ``true_*``),
    ``truth``, or ``<outcome> truth``."""
    text = str(name)
    return text.startswith("true_") or text == "truth" or text.endswith(" truth")


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
            shown, flagged = flag_pretrends(
                self.display if self.display is not None else self.frame
            )
            hidden = shown.pop(SUPPRESSED) if SUPPRESSED in shown.columns else None
            shown = format_frame(display_frame(shown))
            if hidden is not None:  # disclosure control: say so where the estimate was
                target = "Estimate" if "Estimate" in shown.columns else shown.columns[-1]
                shown.loc[hidden.to_numpy(dtype=bool), target] = SUPPRESSED
            note = self.note + (PRETREND_FLAG_NOTE if flagged else "")
            return {
                ".md": heading + render_frame(shown, "markdown", note),
                ".tex": latex_note(render_frame(shown, "latex"), note),
                ".html": render_frame(shown, "html", note),
                ".csv": self.frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"),
            }
        models = list(self.models)
        return {
            ".md": heading
            + etable(models, format="markdown", labels=self.labels)
            + f"\n{markdown_paragraph(self.note)}\n",
            ".tex": latex_note(etable(models, format="latex", labels=self.labels), self.note),
            ".html": etable(models, format="html", labels=self.labels) + _html_note(self.note),
            ".csv": etable(models, labels=self.labels).to_csv(lineterminator="\n"),
        }

    def without_truth(self) -> Table:
        """The table without truth columns (for data that have no truth)."""
        if self.frame is None:
            return self

        def drop(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            if frame is None:
                return None
            # a truth column is empty without truth (an outcome named "truth" is not)
            gone = [c for c in frame.columns if is_truth_column(c) and frame[c].isna().all()]
            return frame.drop(columns=gone)

        return dataclasses.replace(self, frame=drop(self.frame), display=drop(self.display))


def _html_note(note: str) -> str:
    """A model table's note under its HTML table (a frame table's is in its footer)."""
    return f'<p class="note">{html_escape(note)}</p>\n' if note else ""
