"""The stored peer outputs (stored/*.json): each names its peer and versions, they stay
small, and the tests that read them import no peer, so they run in a bare environment."""

from __future__ import annotations

import ast
from pathlib import Path

from peer_inputs import STORED, load_stored

HERE = Path(__file__).resolve().parent
PEERS = ("pyfixest", "moderndid", "diff_diff")
STORED_TESTS = [
    "test_stored_pyfixest.py",
    "test_stored_moderndid.py",
    "test_stored_diff_diff.py",
    "peer_inputs.py",
]
#: The repository carries these files: a few hundred KB at most, all of them together.
MAX_STORED_BYTES = 500_000


def test_each_stored_file_names_its_peer_and_versions():
    files = sorted(STORED.glob("*.json"))
    assert [f.stem for f in files] == [
        "diff_diff",
        "moderndid_mpdta",
        "moderndid_synthetic",
        "pyfixest_event_study",
        "pyfixest_feols",
        "pyfixest_fepois",
    ]
    for f in files:
        data = load_stored(f.stem)
        assert data["peer"] in PEERS and f.stem.startswith(data["peer"]), f.name
        for key in ("peer_version", "python", "numpy", "pandas", "made_by", "note"):
            assert isinstance(data[key], str) and data[key], (f.name, key)
        assert data["cases"], f.name
        assert all("input" in case for case in data["cases"].values()), f.name
    assert sum(f.stat().st_size for f in files) < MAX_STORED_BYTES


def test_stored_value_tests_import_no_peer():
    for name in STORED_TESTS:
        tree = ast.parse((HERE / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not [m for m in modules if m.split(".")[0] in PEERS], (name, modules)
