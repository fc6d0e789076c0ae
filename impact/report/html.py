"""A self-contained ``report.html``: every table and figure (inline PNG), provenance."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from impact.report.labels import figure_caption
from impact.report.table import Table

__all__ = ["report_html"]

_CSS = """
body{font-family:Georgia,serif;max-width:70em;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #999}
table.frame{border-collapse:collapse;font-size:.8em;margin:.5em 0}
table.frame th,table.frame td{border-top:1px solid #ccc;padding:.2em .5em;text-align:right}
table.frame th{border-bottom:2px solid #333}
table.frame td:first-child,table.frame th:first-child{text-align:left}
table.frame tfoot td{text-align:left;font-size:.9em;color:#333;border-top:2px solid #333}
figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.85em}
pre{font-size:.75em;background:#f4f4f4;padding:.5em;overflow-x:auto}
nav li{font-size:.9em}
"""


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


def report_html(
    title: str,
    tables: Sequence[Table],
    figures: Mapping[str, bytes],
    provenance: Mapping[str, Any],
) -> str:
    """The report as one HTML document (no external files).

    Parameters
    ----------
    title : str
    tables : sequence of Table
        Rendered with their HTML form, title and note.
    figures : mapping of str to bytes
        PNG bytes by figure name, embedded as data URIs.
    provenance : mapping
        Printed as JSON at the end; its ``notes`` (settings switched off and tables
        skipped for this data) also as a list after the contents.
    """
    nav = [f'<li><a href="#{_anchor(t.name)}">{html.escape(t.title)}</a></li>' for t in tables]
    nav += [
        f'<li><a href="#fig-{_anchor(n)}">{html.escape(figure_caption(n, k))}</a></li>'
        for k, n in enumerate(figures, start=1)
    ]
    body = [f"<h1>{html.escape(title)}</h1>", "<nav><ul>", *nav, "</ul></nav>"]
    notes = provenance.get("notes") or []
    if notes:  # settings switched off and tables skipped for this data
        body.append('<h2 id="notes">Notes on this data</h2><ul>')
        body += [f"<li>{html.escape(str(n))}</li>" for n in notes]
        body.append("</ul>")
    for t in tables:
        body.append(f'<h2 id="{_anchor(t.name)}">{html.escape(t.title)}</h2>')
        body.append(t.render()[".html"])
    for number, (name, png) in enumerate(figures.items(), start=1):
        data = base64.b64encode(png).decode("ascii")
        caption = html.escape(figure_caption(name, number))
        body.append(
            f'<figure id="fig-{_anchor(name)}"><img alt="{caption}" '
            f'src="data:image/png;base64,{data}"><figcaption>{caption}'
            "</figcaption></figure>"
        )
    prov = json.dumps(provenance, sort_keys=True, indent=2, default=str)
    summary = "Package and dependency versions, git commit, data hash, seed, spec, warnings"
    body += [
        '<h2 id="provenance">Provenance</h2>',
        f"<details><summary>{summary}</summary><pre>{html.escape(prov)}</pre></details>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
