"""Publishing the report into its folder under a manifest: no stale files, the user's own
files kept, an interrupted publication recorded exactly and cleaned up by the next run."""

from __future__ import annotations

import json
import os

import pytest

from impact.report import publish as publish_module
from impact.report.publish import LIVE_MANIFEST, PROVENANCE
from impact.report.replication import replicate

FEW = dict(tables=["descriptives", "rollout"], figures=[])


def _files(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _outputs(folder) -> set[str]:
    return set(json.loads((folder / PROVENANCE).read_text())["outputs"]) | {PROVENANCE}


def test_a_rerun_with_fewer_tables_leaves_no_stale_files_and_keeps_the_users(tmp_path):
    out = tmp_path / "report"
    replicate(out, tables=["descriptives", "rollout", "balance"], figures=[])
    (out / "my_notes.txt").write_text("mine")
    (out / "tables" / "my_table.csv").write_text("mine")
    replicate(out, **FEW)
    assert _files(out) == _outputs(out) | {"my_notes.txt", "tables/my_table.csv"}
    assert not any(f.startswith("tables/balance") for f in _files(out))
    assert not list(out.glob(".impact-staging-*"))  # the staging folder is gone


def test_an_interrupted_publication_is_recorded_and_cleaned_up(tmp_path, monkeypatch):
    out = tmp_path / "report"
    replicate(out, tables=["descriptives", "rollout", "balance"], figures=[])
    (out / "my_notes.txt").write_text("mine")
    real, calls = os.replace, {"n": 0}

    def failing(src, dst):
        if ".impact-staging-" in str(src) and ".impact-staging-" not in str(dst):  # publishing
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(publish_module.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        replicate(out, **FEW)
    monkeypatch.setattr(publish_module.os, "replace", real)
    live = json.loads((out / LIVE_MANIFEST).read_text())
    # the live manifest lists exactly the package's files in the folder
    assert set(live) == _files(out) - {"my_notes.txt", LIVE_MANIFEST}
    assert not (out / PROVENANCE).exists()
    assert not list(out.glob(".impact-staging-*"))
    replicate(out, **FEW)
    assert _files(out) == _outputs(out) | {"my_notes.txt"}


def test_a_manifest_naming_paths_outside_the_folder_is_ignored(tmp_path):
    out = tmp_path / "report"
    replicate(out, **FEW)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    record = json.loads((out / PROVENANCE).read_text())
    record["outputs"]["../victim.txt"] = "x"
    record["outputs"]["/etc/hostname"] = "x"
    (out / PROVENANCE).write_text(json.dumps(record))
    replicate(out, **FEW)
    assert victim.read_text() == "keep"


def test_only_our_unedited_files_are_removed(tmp_path):
    """A foreign provenance.json, or an output edited by hand since, is never a licence to
    delete; a killed run's staging folder is cleaned up."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "data.csv").write_text("precious")
    (out / PROVENANCE).write_text(json.dumps({"outputs": {"data.csv": "abc"}}))
    replicate(out, **FEW)
    assert (out / "data.csv").read_text() == "precious"
    replicate(out, tables=["descriptives", "rollout", "balance"], figures=[])
    edited = out / "tables" / "balance.tex"
    edited.write_text(edited.read_text() + "% my tweak\n")
    (out / ".impact-staging-999999-dead").mkdir()
    replicate(out, **FEW)
    assert edited.exists() and "my tweak" in edited.read_text()
    assert not (out / "tables" / "balance.md").exists()
    assert not (out / ".impact-staging-999999-dead").exists()
