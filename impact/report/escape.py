"""Escape text from specs and data for the report's output formats.

Every string a spec or a data file can set (column names, labels, titles, notes, category
values, outcome names) reaches Markdown, LaTeX and HTML through these functions, so the
text is shown as written and never read as markup: no raw HTML or links in Markdown, no
``\\input`` in LaTeX, no tags in HTML. Line breaks become spaces in Markdown and LaTeX
(a line break ends a Markdown table row; an empty line ends a LaTeX paragraph inside a
tabular). ``tests/properties/test_hostile_text.py`` parses the outputs back.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_escape", "latex_escape", "markdown_escape", "markdown_paragraph"]

#: C0 control characters (tab excepted), DEL, C1 control characters and the line breaks:
#: shown as one space.
_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")

_LATEX = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "_": r"\_",
        "#": r"\#",
        "$": r"\$",
        "^": r"\^{}",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "[": "{[}",
        # text-mode glyphs that the default OT1 font encoding would print as others
        "<": r"\textless{}",
        ">": r"\textgreater{}",
        "|": r"\textbar{}",
        "†": r"\dag{}",
    }
)

#: ASCII punctuation that can open Markdown markup inline (CommonMark with GFM tables and
#: strikethrough): emphasis, code spans, links and images, raw HTML and autolinks, entity
#: references, table cell separators, headings. Each is escaped with a backslash, which
#: CommonMark defines for every ASCII punctuation character.
_MARKDOWN_INLINE = "\\`*_[]<>|#~&"
_MARKDOWN = str.maketrans({ch: "\\" + ch for ch in _MARKDOWN_INLINE})

#: Line starts that open a block: list items, setext underlines, ordered lists.
_BLOCK_START = re.compile(r"^([-+=])|^(\d{1,9})([.)])")


def html_escape(s: str) -> str:
    """HTML text or attribute value: ``& < > " '`` as character references."""
    return html.escape(s, quote=True)


def latex_escape(s: str) -> str:
    """LaTeX text: the ten special characters escaped in one pass (no double escaping);
    line breaks and control characters as spaces; ``[`` braced and a leading ``*``
    preceded by ``{}`` (after ``\\\\`` or ``\\midrule`` they would be read as options)."""
    text = _BREAKS.sub(" ", s).translate(_LATEX)
    return "{}" + text if text.startswith("*") else text


def markdown_escape(s: str) -> str:
    """Markdown inline text (a table cell or a heading): markup characters escaped with a
    backslash; line breaks and control characters as spaces."""
    return _BREAKS.sub(" ", s).translate(_MARKDOWN)


def markdown_paragraph(s: str) -> str:
    """Markdown paragraph text (a note): as :func:`markdown_escape`, with leading
    whitespace removed (four spaces open a code block) and a block-opening first
    character (``-``, ``+``, ``=``, ``1.``) escaped."""
    text = markdown_escape(s).lstrip(" \t")
    return _BLOCK_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text
    )
