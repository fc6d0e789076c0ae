"""Render a results DataFrame (already formatted to strings) as Markdown, LaTeX or HTML."""

from __future__ import annotations

import pandas as pd

from impact.errors import InvalidOptionError
from impact.report.escape import html_escape, latex_escape, markdown_escape, markdown_paragraph

__all__ = ["counts_frame", "format_frame", "latex_note", "render_frame"]


def counts_frame(rows: list[dict], counts: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table's tidy frame from its rows; ``counts`` columns become nullable integers
    (a count is missing, not NaN, where it does not apply)."""
    out = pd.DataFrame(rows)
    for col in counts:
        if col in out.columns:
            out[col] = out[col].astype("Int64")
    return out


def format_frame(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Strings with fixed decimals for floats, thousands separators for integers."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_integer_dtype(s):
            out[col] = ["" if pd.isna(v) else f"{v:,}" for v in s]
        elif pd.api.types.is_float_dtype(s):
            out[col] = ["" if pd.isna(v) else f"{v:.{digits}f}" for v in s]
        else:
            out[col] = s.astype(str)
    return out


def latex_note(tabular: str, note: str) -> str:
    """A LaTeX table fragment with its note set under it, as wide as the table
    (``threeparttable``; the fragment needs ``booktabs`` and ``threeparttable``)."""
    text = latex_escape(note).strip()
    if not text:
        return tabular
    return (
        "\\begin{threeparttable}\n" + tabular + "\\begin{tablenotes}[flushleft]\n"
        "\\footnotesize\n\\item " + text + "\n\\end{tablenotes}\n\\end{threeparttable}\n"
    )


def render_frame(df: pd.DataFrame, format: str, note: str = "") -> str:
    """Render a string frame; the index is not shown. Every header, cell and the note is
    escaped for the format (:mod:`impact.report.escape`)."""
    cols = [str(c) for c in df.columns]
    rows = df.to_numpy().tolist()
    if format == "markdown":
        head = " | ".join(markdown_escape(c) for c in cols)
        lines = ["| " + head + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(markdown_escape(str(v)) for v in r) + " |" for r in rows]
        para = markdown_paragraph(note) if note else ""
        return "\n".join(lines) + ("\n\n" + para if para else "") + "\n"
    if format == "latex":
        lines = [
            r"\begin{tabular}{" + "l" * len(cols) + "}",
            r"\toprule",
            " & ".join(latex_escape(c) for c in cols) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(latex_escape(str(v)) for v in r) + r" \\" for r in rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    if format == "html":
        head = "".join(f"<th>{html_escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html_escape(str(v))}</td>" for v in r) + "</tr>" for r in rows
        )
        foot = (
            f'<tfoot><tr><td colspan="{len(cols)}">{html_escape(note)}</td></tr></tfoot>'
            if note
            else ""
        )
        table = f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}"
        return f'<table class="frame">{table}</table>\n'
    raise InvalidOptionError(f"format must be 'markdown', 'latex' or 'html', got {format!r}.")
