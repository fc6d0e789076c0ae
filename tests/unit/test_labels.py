"""Report display: headers from the one label table (no code names), identifiers as
integers, numbered figure captions, print-resolution PNGs."""

from __future__ import annotations

import re
import struct
import warnings

import numpy as np
import pandas as pd
import pytest

from impact.datasets import cluster_panel
from impact.report.evaluate import FIGURE_DPI
from impact.report.labels import COLUMN_LABELS, display_frame, figure_caption
from impact.report.replication import replicate

#: Code-name pattern: lower-case words joined by underscores.
CODE_NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, _ = cluster_panel(500, seed=3)  # small: the layout is what is tested
        replicate(out, data=panel, tables=["descriptives", "balance", "spillovers", "production"],
                  figures=["rollout"])  # fmt: skip
    return out


def _headers(md: str) -> list[str]:
    lines = md.splitlines()
    heads = [lines[i - 1] for i, line in enumerate(lines) if re.match(r"^\|(---\|)+$", line)]
    return [h.strip().replace("\\_", "_") for row in heads for h in row.strip("|").split("|")]


def test_no_code_names_in_headers(report):
    variables = {"log_emp", "log_va_per_worker", "rd_performer", "log_k", "export", "patents"}
    for path in sorted((report / "tables").glob("*.md")):
        for h in _headers(path.read_text()):
            words = [w for w in re.split(r"[ ,:()]+", h) if w]
            code = [w for w in words if CODE_NAME.match(w) and w not in variables]
            assert not code, (path.name, h)


def test_label_table_and_integer_ids():
    frame = pd.DataFrame({"cell": [96.0, np.nan], "estimate": [1.0, 2.0], "std_error": [0.1, 0.2],
                          "cohort": [2008.0, 2010.5]})  # fmt: skip
    shown = display_frame(frame)
    assert list(shown.columns) == ["cell", COLUMN_LABELS["estimate"], "SE", "cohort"]
    assert str(shown["cell"].dtype) == "Int64" and shown["cell"].iloc[0] == 96
    assert shown["cohort"].dtype == float  # not whole numbers: left alone
    assert frame["cell"].dtype == float  # the tidy frame is not changed


def test_figures_are_numbered_and_printable(report):
    md = (report / "report.md").read_text()
    assert "*Figure 1: Roll-out of the programme" in md and "Figure 1: Roll-out" in (
        report / "report.html").read_text()  # fmt: skip
    assert figure_caption("rollout", 3) == (
        "Figure 3: Roll-out of the programme: firms joining clusters per year."
    )
    png = (report / "figures" / "rollout.png").read_bytes()
    chunk = png.index(b"pHYs")  # pixels per metre
    ppm = struct.unpack(">I", png[chunk + 4 : chunk + 8])[0]
    assert round(ppm * 0.0254) == FIGURE_DPI >= 200


def test_provenance_lists_every_dependency_and_no_internal_names(report):
    import json

    prov = json.loads((report / "provenance.json").read_text())
    for name in ("statsmodels", "linearmodels", "seaborn", "numpy", "pandas", "scipy"):
        assert prov["versions"][name] not in ("", "not installed")
    assert "__tfp__" not in (report / "provenance.json").read_text()
    assert "<details><summary>" in (report / "report.html").read_text()
