"""Hostile text is shown as text in every format (issue 23, step 4).

Strings a spec or a data file can set (column names, labels, titles, notes, category
values, term and fixed-effect names) are fed into the renderers; each output is parsed
back with a parser that does not share our code (markdown-it for CommonMark with GFM
tables, the standard library's HTML parser, and a strict reader of our LaTeX subset),
and the text read back must equal the text put in, with no element, command or markup
the renderer did not write itself.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impact
from impact.errors import ImpactError
from impact.report.html import report_html
from impact.report.labels import figure_caption
from impact.report.table import Table
from impact.results.protocol import ModelInfo, ResultProtocol, tidy_frame

pytest.importorskip("markdown_it")
from markup_readers import (
    BREAKS,
    latex_note,
    latex_rows,
    read_html,
    read_latex_row,
    read_markdown,
    squash,
)

#: Pieces a hostile author would try in each format, mixed with arbitrary text.
ATTACKS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;", "&#60;", '"', "'",
    "\\input{/etc/passwd}", "\\write18{rm -rf ~}", "$x^2$", "}\\end{tabular}", "%", "#", "~",
    "_", "^", "\\\\", "\\", "&", "{", "}", "|", "| --- |", "\\|", "[x](javascript:alert(1))",
    "![i](http://x/y.png)", "<http://x>", "**bold**", "`code`", "# heading", "- item",
    "1. item", "> quote", "    indented", "---", "===", ";", "; DROP TABLE t; --", "\n", "\r\n",
    "\n\n", "\t", "\x00", "\x0b", "\u2028", "é東京📈", "\u202e", "\u00a0",
]  # fmt: skip
TEXT = st.lists(
    st.one_of(st.sampled_from(ATTACKS), st.text(max_size=6)), min_size=0, max_size=5
).map("".join)
HOSTILE_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# ------------------------------------------------------------------------- properties
@HOSTILE_SETTINGS
@given(
    title=TEXT,
    note=TEXT,
    names=st.lists(TEXT, min_size=1, max_size=3, unique=True),
    cells=st.lists(TEXT, min_size=3, max_size=3),
)
def test_report_tables_show_hostile_text_as_text(title, note, names, cells):
    frame = pd.DataFrame({n: [cells[j % 3], cells[(j + 1) % 3]] for j, n in enumerate(names)})
    out = Table("t", title, (), note, {}, frame=frame).render()
    want_rows = [[str(n) for n in names], *frame.astype(str).to_numpy().tolist()]

    md = read_markdown(out[".md"])
    assert set(md.tags) <= {"h2", "table", "thead", "tbody", "tr", "th", "td", "p"}
    got = [t for tag, t in md.texts if tag in ("th", "td")]
    assert [squash(t) for t in got] == [squash(c) for row in want_rows for c in row]
    assert [squash(t) for tag, t in md.texts if tag == "h2"] == [squash(title)]
    assert squash(" ".join(t for tag, t in md.texts if tag == "p")) == squash(note)

    html = read_html(out[".html"])
    assert set(html.tags) <= {"table", "thead", "tbody", "tfoot", "tr", "th", "td"}
    assert html.attrs <= [("class", "frame"), ("colspan", str(len(names)))] * 2
    got = [t for tag, t in html.texts if tag in ("th", "td")]
    assert got == [c for row in want_rows for c in row] + ([note] if note else [])

    rows = latex_rows(out[".tex"])
    assert rows == [[BREAKS.sub(" ", c) for c in row] for row in want_rows]
    assert latex_note(out[".tex"]) == (BREAKS.sub(" ", note).strip() or None)


class _Model(ResultProtocol):
    """A result whose every name is chosen by the test (through the result protocol)."""

    def __init__(self, depvar: str, terms: list[str], fe: str, cluster: str) -> None:
        self.terms, self.info = terms, ModelInfo(
            depvar=depvar, nobs=1000, vcov_label=f"Clustered ({cluster})",
            clusters={cluster: 40}, fixef=(fe,), stats={"r2": 0.25},
        )  # fmt: skip

    def tidy(self) -> pd.DataFrame:
        n = len(self.terms)
        return tidy_frame(self.terms, [0.5] * n, [0.1] * n)

    def model_info(self) -> ModelInfo:
        return self.info


def _model(depvar: str, terms: list[str], fe: str, cluster: str) -> _Model:
    return _Model(depvar, terms, fe, cluster)


@HOSTILE_SETTINGS
@given(
    depvar=TEXT,
    terms=st.lists(TEXT.filter(bool), min_size=1, max_size=2, unique=True),
    fe=TEXT,
    cluster=TEXT,
    label=TEXT,
)
def test_etable_shows_hostile_names_and_labels_as_text(depvar, terms, fe, cluster, label):
    labels = {terms[0]: label} if label not in terms[1:] else {}
    m = _model(depvar, terms, fe, cluster)
    shown = [labels.get(t, t) for t in terms]
    md = read_markdown(impact.etable([m], format="markdown", labels=labels))
    assert set(md.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "p"}
    cells = [squash(t) for tag, t in md.texts if tag == "td"]
    assert cells[:2] == ["Dependent variable", squash(depvar)]
    assert cells[2:4] == [squash(shown[0]), "0.500***"]
    assert (
        squash(f"FE: {labels.get(fe, fe)}") in cells and squash(f"Clustered ({cluster})") in cells
    )

    html = read_html(impact.etable([m], format="html", labels=labels))
    assert set(html.tags) <= {"table", "thead", "tbody", "tfoot", "tr", "th", "td"}
    cells = [t for tag, t in html.texts if tag == "td"]
    assert cells[:4] == ["Dependent variable", depvar, shown[0], "0.500***"]
    assert f"FE: {labels.get(fe, fe)}" in cells

    tex = impact.etable([m], format="latex", labels=labels).split("\n")
    body = [ln for ln in tex if ln.endswith(r" \\")]
    rows = [read_latex_row(ln.replace(r"$^{***}$", "***")) for ln in body]
    assert rows[1][:2] == ["Dependent variable", BREAKS.sub(" ", depvar)]
    assert rows[2] == [BREAKS.sub(" ", shown[0]), "0.500***"]


@HOSTILE_SETTINGS
@given(note=TEXT)
def test_model_tables_carry_their_note_in_latex_and_html(note):
    out = Table("t", "T", (_model("y", ["a"], "firm", "firm"),), note, {}).render()
    want = BREAKS.sub(" ", note).strip() or None
    assert latex_note(out[".tex"]) == want
    rows = [read_latex_row(ln.replace(r"$^{***}$", "***"))
            for ln in out[".tex"].split("\n") if ln.endswith(r" \\")]  # fmt: skip
    assert rows[2] == ["a", "0.500***"]
    html = read_html(out[".html"])
    assert set(html.tags) <= {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "p"}
    notes = [t for tag, t in html.texts if tag == "p"]
    assert notes == ([note] if note else [])


@HOSTILE_SETTINGS
@given(title=TEXT, table_title=TEXT, figure=TEXT, note=TEXT)
def test_report_page_shows_hostile_titles_and_names_as_text(title, table_title, figure, note):
    tab = Table("t<x>", table_title, (), note, {}, frame=pd.DataFrame({"a": [1.0]}))
    page = read_html(report_html(title, [tab], {figure: b"png"}, {"spec": {"title": title}}))
    assert not {"script", "iframe", "object", "embed", "base"} & set(page.tags)
    assert all(not name.startswith("on") for name, _ in page.attrs)
    texts = dict.fromkeys(tag for tag, _ in page.texts)
    assert texts  # every text element was read
    assert [t for tag, t in page.texts if tag == "title"] == [title]
    assert [t for tag, t in page.texts if tag == "h1"] == [title]
    # the caption numbers the figure and shows its name as text
    assert [t for tag, t in page.texts if tag == "figcaption"] == [figure_caption(figure, 1)]
    assert table_title in [t for tag, t in page.texts if tag == "h2"]


def test_duplicate_labels_are_a_typed_error():
    m = _model("y", ["a", "b"], "firm", "firm")
    with pytest.raises(ImpactError, match="same|two terms"):
        impact.etable([m], labels={"a": "x", "b": "x"})


@pytest.mark.parametrize("label", ["[3cm]x", "*z", "[-20ex] a", "x]"])
def test_latex_rows_cannot_take_optional_arguments(label):
    """After ``\\\\`` or ``\\midrule`` a row starting with ``[`` or ``*`` would be read as an
    option of the line break (extra space, a swallowed label)."""
    frame = pd.DataFrame({"name": [label, "b"], "v": ["1", "2"]})
    rows = latex_rows(Table("t", "T", (), "", {}, frame=frame).render()[".tex"])
    assert rows[1] == [label, "1"]
    m = _model("y", [label], "firm", "firm")
    body = impact.etable([m], format="latex").split("\n")
    rows = [read_latex_row(ln.replace(r"$^{***}$", "***")) for ln in body if ln.endswith(r" \\")]
    assert rows[2] == [label, "0.500***"]
