"""Packaging: every package is listed in pyproject.toml, the shipped data are package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_listed():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set(find_packages(str(ROOT), include=["impact", "impact.*"]))
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {found - listed}"
    assert cfg["package-dir"]["impact.datasets.shipped"] == "data"
