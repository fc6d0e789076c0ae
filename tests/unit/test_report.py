"""etable formats and the replication runner."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers import random_panel

import impact


@pytest.fixture(scope="module")
def fits():
    df = random_panel(51)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            impact.feols("y ~ x1 | unit", data=df, vcov={"cluster": "unit"}),
            impact.feols("y ~ x1 + x2 | unit + year", data=df, vcov="hetero"),
        ]


def test_dataframe_rows(fits):
    t = impact.etable(fits)
    assert list(t.columns) == ["(1)", "(2)"]
    assert t.loc["FE: unit"].tolist() == ["Yes", "Yes"]
    assert t.loc["FE: year"].tolist() == ["No", "Yes"]
    assert t.loc["Observations"].tolist() == [f"{fits[0].nobs:,}", f"{fits[1].nobs:,}"]
    assert t.loc["x2"].tolist()[0] == ""
    assert t.loc["x1 "].tolist()[0] == f"({fits[0].se['x1']:.3f})"
    assert t.loc["Std. errors"].tolist() == ["Clustered (unit)", "Heteroskedasticity-robust (HC1)"]
    assert t.loc["SSC"].tolist() == ["fixest", "fixest"]


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_text_formats(fits, fmt):
    s = impact.etable(fits, format=fmt)
    assert "x1" in s and "Observations" in s
    want = {"html": "p&lt;0.01", "markdown": "p\\<0.01", "latex": r"p\textless{}0.01"}[fmt]
    assert want in s  # '<' opens raw HTML in Markdown: escaped


@pytest.mark.slow
def test_replicate_is_deterministic(tmp_path):
    """The README's main job, twice: every file identical; truth beside the estimates."""
    a, b = tmp_path / "a", tmp_path / "b"
    root = Path(__file__).resolve().parents[2]
    for out in (a, b):  # two fresh processes, from the repository root (its config.toml)
        cmd = [sys.executable, "-m", "impact", "replicate", "--out", str(out), "--quiet"]
        subprocess.run(cmd, cwd=root, check=True)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    prov = json.loads((a / "provenance.json").read_text())
    assert {"impact_version", "git_commit", "data_sha256", "seed", "spec"} <= set(prov)
    for name in ("descriptives", "rollout", "main", "dynamic", "production"):
        assert (a / "tables" / f"{name}.tex").stat().st_size > 0
    main_md = (a / "tables" / "main.md").read_text()
    assert "truth" in main_md and "two-stage bootstrap" in main_md
    assert "Truth (generator)" in (a / "tables" / "production.md").read_text()
    assert (a / "report.html").stat().st_size > 100_000  # figures embedded
