"""Readers that parse the report's Markdown, HTML and LaTeX back, for the hostile-text tests.

They share no code with the renderers: Markdown goes through markdown-it (CommonMark with
GFM tables), HTML through the standard library's parser, LaTeX through a strict reader of
the subset our tables write (any other command or active character fails).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import markdown_it

#: Characters every renderer shows as one space in Markdown and LaTeX (line breaks and
#: control characters: a break ends a Markdown row or a LaTeX paragraph).
BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def squash(s: str) -> str:
    """Text up to whitespace (Markdown trims cells and paragraphs)."""
    return " ".join(BREAKS.sub(" ", s).split())


class _Collect(HTMLParser):
    """Elements and the text of each text-bearing element, in document order."""

    TEXT = frozenset({"th", "td", "h1", "h2", "p", "title", "figcaption", "li", "pre", "a"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.texts: list[tuple[str, str]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        if tag in self.TEXT:
            self._open.append(tag)
            self.texts.append((tag, ""))

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            tag, text = self.texts[-1]
            self.texts[-1] = (tag, text + data)


def read_html(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    p.close()
    return p


def read_markdown(text: str) -> _Collect:
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    return read_html(md.render(text))


_LATEX_ESCAPES = {
    r"\textbackslash{}": "\\", r"\&": "&", r"\%": "%", r"\_": "_", r"\#": "#", r"\$": "$",
    r"\^{}": "^", r"\{": "{", r"\}": "}", r"\textasciitilde{}": "~", "{[}": "[", "{}": "",
    r"\textless{}": "<", r"\textgreater{}": ">", r"\textbar{}": "|", r"\dag{}": "†",
}  # fmt: skip
_ACTIVE = set("&%#$^_{}~\\[")


def read_latex_row(row: str) -> list[str]:
    r"""Cells of one tabular row ``a & b \\``; fails on any command or active character
    our escaping does not write (so nothing can run or break the table)."""
    assert row.endswith(r" \\"), row
    body, cells, cell, k = row[: -len(r" \\")], [], [], 0
    assert not body.startswith("*"), "a row starting with '*' reads as \\\\*"
    while k < len(body):
        if body.startswith(" & ", k):
            cells.append("".join(cell))
            cell, k = [], k + 3
            continue
        if body[k] in "\\{":
            esc = next((e for e in _LATEX_ESCAPES if body.startswith(e, k)), None)
            assert esc is not None, f"unexpected command at {body[k : k + 20]!r}"
            cell.append(_LATEX_ESCAPES[esc])
            k += len(esc)
            continue
        assert body[k] not in _ACTIVE, f"active character {body[k]!r} in {body!r}"
        assert body[k] not in "\n\r", "a line break inside a row"
        cell.append(body[k])
        k += 1
    cells.append("".join(cell))
    return cells


def _latex_parts(text: str) -> tuple[list[str], str | None]:
    """The tabular's lines and the note (None without one) of a table fragment: a bare
    tabular, or one inside ``threeparttable`` with a ``tablenotes`` note."""
    lines = text.rstrip("\n").split("\n")
    if lines[0] != r"\begin{threeparttable}":
        return lines, None
    end = lines.index(r"\end{tabular}")
    notes = lines[end + 1 :]
    assert notes[:2] == [r"\begin{tablenotes}[flushleft]", r"\footnotesize"], notes
    assert notes[-2:] == [r"\end{tablenotes}", r"\end{threeparttable}"], notes
    assert len(notes) == 5 and notes[2].startswith(r"\item "), notes
    return lines[1 : end + 1], notes[2][len(r"\item ") :]


def latex_rows(text: str) -> list[list[str]]:
    lines, _ = _latex_parts(text)
    frame = {r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}"}
    assert lines[0].startswith(r"\begin{tabular}{") and lines[-1] == r"\end{tabular}"
    return [read_latex_row(line) for line in lines[1:] if line not in frame]


def latex_note(text: str) -> str | None:
    """The note of a table fragment read back as text (None without one)."""
    _, note = _latex_parts(text)
    return None if note is None else " & ".join(read_latex_row(note + r" \\"))
