"""Publishing a finished report into its folder: file by file, under a manifest.

A report is first written whole into a staging folder inside the output folder
(``DIR/.impact-staging-<id>``: the same file system, so every move is a rename, even when
``DIR`` is a mount point). Publishing then moves its files into ``DIR`` one by one and
removes the files of the previous run that this run does not write again, keeping a live
manifest
(``DIR/.impact-manifest.json``: every file of the package present in the folder, with its
SHA-256) up to date after every step; ``provenance.json`` (the run's manifest at rest, its
``outputs``) moves in last and the live manifest is then removed. So:

- two runs are never mixed silently: an interrupted publication leaves a live manifest that
  lists exactly the files it put or left there, and the next run removes them;
- a rerun with fewer tables leaves no stale files;
- files the package did not write (the user's own notes beside the report) are never
  touched: a file is removed only when a manifest of the package (a ``provenance.json``
  with the package's ``impact_version``, or the live manifest) lists it with the SHA-256
  it still has, so an output edited by hand since is kept too;
- staging folders of runs that were killed are removed by the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from impact.errors import OutputPathError
from impact.report.outputs import OutputFolder

__all__ = ["LIVE_MANIFEST", "PROVENANCE", "publish", "staging_folder"]

#: The manifest of a finished run (its ``outputs`` entry).
PROVENANCE = "provenance.json"
#: The manifest kept while a run is being published.
LIVE_MANIFEST = ".impact-manifest.json"


#: Name prefix of staging folders inside the output folder.
STAGING_PREFIX = ".impact-staging-"


def staging_folder(final: OutputFolder) -> OutputFolder:
    """A new, empty folder inside ``final`` (same file system, so moves are renames);
    the staging folders of killed runs are removed first."""
    for old in final.root.glob(STAGING_PREFIX + "*"):
        if old.is_dir() and not old.is_symlink():
            pid = old.name[len(STAGING_PREFIX) :].split("-")[0]
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(old, ignore_errors=True)
    name = f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    return OutputFolder.create(final.root / name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def previous_files(final: OutputFolder) -> dict[str, str]:
    """Files an earlier run of the package left in ``final``: the outputs of its
    provenance and, after an interrupted publication, the live manifest's entries."""
    record = _read_json(final.root / PROVENANCE)
    old = (record.get("outputs") or {}) if "impact_version" in record else {}
    live = _read_json(final.root / LIVE_MANIFEST)
    files = {**(old if isinstance(old, dict) else {}), **(live if isinstance(live, dict) else {})}
    if (final.root / PROVENANCE).is_file() and "impact_version" in record:
        files[PROVENANCE] = ""
    out = {}
    for rel, digest in files.items():
        try:  # a name that is not a plain path inside the folder is never ours
            final.target(*str(rel).split("/"))
        except OutputPathError:
            continue
        out[str(rel)] = str(digest)
    return out


def _save_live(final: OutputFolder, present: dict[str, str]) -> None:
    text = json.dumps(dict(sorted(present.items())), indent=1) + "\n"
    tmp = final.root / (LIVE_MANIFEST + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, final.root / LIVE_MANIFEST)


def publish(staging: OutputFolder, final: OutputFolder) -> list[Path]:
    """Move every file of ``staging`` into ``final`` under the live manifest, remove the
    previous run's files this run does not rewrite, and return the published paths.

    ``staging.written`` lists the files (``provenance.json`` among them, moved last).
    """
    present = previous_files(final)
    _save_live(final, present)
    new = dict(staging.written)
    order = [rel for rel in new if rel != PROVENANCE] + ([PROVENANCE] if PROVENANCE in new else [])
    if PROVENANCE in present:  # the old manifest at rest goes first: the live one rules
        final.target(PROVENANCE).unlink(missing_ok=True)
        present.pop(PROVENANCE)
        _save_live(final, present)
    for rel in order[:-1] if PROVENANCE in new else order:
        _move(staging, final, rel)
        present[rel] = new[rel]
        _save_live(final, present)
    for rel in sorted(set(present) - set(new)):
        path = final.target(*rel.split("/"))
        if path.is_file() and _sha256(path) == present[rel]:  # ours, as written
            path.unlink()
        present.pop(rel)
        _save_live(final, present)
    if PROVENANCE in new:
        _move(staging, final, PROVENANCE)
    (final.root / LIVE_MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(staging.root, ignore_errors=True)
    return [final.root.joinpath(*rel.split("/")) for rel in order]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _move(staging: OutputFolder, final: OutputFolder, rel: str) -> None:
    parts = rel.split("/")
    if len(parts) > 1:
        final.target(*parts[:-1], folder=True).mkdir(parents=True, exist_ok=True)
    os.replace(staging.root.joinpath(*parts), final.target(*parts))
