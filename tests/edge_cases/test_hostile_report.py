"""A whole report on a panel whose names and values are hostile text (issue 23, step 4).

Column names (every role), category values, outcome-family names and the title carry
HTML, LaTeX, Markdown and SQL pieces. The report must give the same numbers as with
plain names (the names reach formulas quoted), and every written file must parse back
with the hostile text shown as text and nothing written outside the output folder.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import impact
from impact.report.spec import Columns, OutcomeFamily, Spec

pytest.importorskip("markdown_it")
from markup_readers import latex_rows, read_html, read_markdown, squash

#: Same data, same spec, different column names: estimates agree to rounding only.
RENAME_TOL = 1e-10

HOSTILE = {
    "firm_id": 'firm "id" <b>',
    "year": "year|t",
    "join_year": "join $\\input{/etc/passwd}$",
    "cell": "cell; DROP TABLE t; --",
    "sector": "sec\ntor",
    "cluster_cell": "cc & 100%",
    "launch_year": "launch_{y}",
    "log_emp": "log emp <script>alert(1)</script>",
    "high_tech": "high-tech #1",
    "rd_performer": "**rd** [x](javascript:alert(1))",
    "size_class": "size ~class",
}
TITLE = "Report <script>alert(1)</script> \\input{x} | # not a heading"
FAMILY = "jobs <img src=x onerror=alert(1)>"
TABLES = ("descriptives", "main", "dynamic", "heterogeneity")


def _spec(names: dict[str, str], family: str) -> Spec:
    n = {k: names.get(k, k) for k in HOSTILE}
    return Spec(
        columns=Columns(
            unit=n["firm_id"], time=n["year"], cohort=n["join_year"], cell=n["cell"],
            sector=n["sector"], cluster_cell=n["cluster_cell"], launch=n["launch_year"],
            high_tech=n["high_tech"], size_class=n["size_class"],
        ),
        cluster=n["firm_id"],
        describe=(n["log_emp"],),
        selection=(n["log_emp"], n["high_tech"]),
        families=(
            OutcomeFamily(family, (n["log_emp"],), "log", ("cs", "sun_abraham", "twfe")),
            OutcomeFamily("innovation", (n["rd_performer"],), "binary", ("cs",)),
        ),
        production=None,
        tables=TABLES,
        figures=("event_study",),
    )  # fmt: skip


@pytest.fixture(scope="module")
def reports(s4_panel):
    df, _ = s4_panel
    hostile = df.rename(columns=HOSTILE)
    sector = HOSTILE["sector"]
    hostile[sector] = "<i>" + hostile[sector].astype(str) + " | \\end{tabular}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = impact.evaluate(df, _spec({}, "jobs"))
        bad = impact.evaluate(hostile, _spec(HOSTILE, FAMILY), title=TITLE)
    return plain, bad


def test_hostile_names_give_the_same_numbers(reports):
    plain, bad = reports
    for name in TABLES:
        x, y = plain.table(name), bad.table(name)
        num = x.select_dtypes("number").columns
        assert list(num) == list(y.select_dtypes("number").columns), name
        a, b = (t[num].to_numpy(dtype=float, na_value=np.nan) for t in (x, y))
        assert np.allclose(a, b, atol=RENAME_TOL, equal_nan=True), name


def test_every_written_file_shows_hostile_text_as_text(reports, tmp_path):
    _, bad = reports
    out = tmp_path / "out"
    paths = bad.write(out)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in paths)
    assert {p.name for p in tmp_path.iterdir()} == {"out"}
    outcome = squash(HOSTILE["log_emp"])

    md = read_markdown((out / "tables" / "main.md").read_text(encoding="utf-8"))
    assert set(md.tags) <= {"h2", "table", "thead", "tbody", "tr", "th", "td", "p"}
    cells = [squash(t) for tag, t in md.texts if tag == "td"]
    assert outcome in cells and squash(FAMILY) in cells

    html = read_html((out / "tables" / "main.html").read_text(encoding="utf-8"))
    assert set(html.tags) <= {"table", "thead", "tbody", "tfoot", "tr", "th", "td"}
    assert HOSTILE["log_emp"] in [t for tag, t in html.texts if tag == "td"]

    rows = latex_rows((out / "tables" / "main.tex").read_text(encoding="utf-8"))
    assert any(HOSTILE["log_emp"] in row for row in rows)
    hetero = latex_rows((out / "tables" / "heterogeneity.tex").read_text(encoding="utf-8"))
    assert hetero  # category values with LaTeX pieces read back under the strict reader

    page = read_html((out / "report.html").read_text(encoding="utf-8"))
    assert not {"script", "iframe", "object", "embed", "base"} & set(page.tags)
    assert all(not name.startswith("on") for name, _ in page.attrs)
    assert [t for tag, t in page.texts if tag == "title"] == [TITLE]

    report_md = read_markdown((out / "report.md").read_text(encoding="utf-8"))
    # ul/li: the report's notes on this data (settings switched off, tables skipped)
    allowed = {"h1", "h2", "table", "thead", "tbody", "tr", "th", "td", "p", "img", "ul", "li",
               "em"}  # fmt: skip
    assert set(report_md.tags) <= allowed
    assert [squash(t) for tag, t in report_md.texts if tag == "h1"] == [squash(TITLE)]
    srcs = [v for k, v in report_md.attrs if k == "src"]  # figure names hold outcome names
    assert len(srcs) == 2 and all((out / src).is_file() for src in srcs)
    assert all(re.fullmatch(r"figures/[A-Za-z0-9_-]+\.png", src) for src in srcs)
