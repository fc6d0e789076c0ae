"""Outputs stay inside --out (issue 23, step 3): safe names, refused links, recorded files."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pandas as pd
import pytest

import impact
from impact.errors import InvalidOptionError, OutputPathError
from impact.report.evaluate import EvaluationReport
from impact.report.outputs import FILE_MODE, MAX_STEM, OutputFolder, file_stem
from impact.report.spec import Spec
from impact.report.table import Table


def _report(*names: str, title: str = "A report") -> EvaluationReport:
    tables = {
        n: Table(n, f"Table {n}", (), "a note", {}, frame=pd.DataFrame({"x": [1.5]})) for n in names
    }
    return EvaluationReport(title, tables, {}, Spec(), {"seed": 1})


def _tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "name, stem",
    [
        ("main", "main"),
        ("event_study", "event_study"),
        ("../../etc/passwd", "______etc_passwd"),
        ("/abs/path", "_abs_path"),
        ("a b.c", "a_b_c"),
        ("C:\\x", "C__x"),
        (".hidden", "_hidden"),
        ("ünï", "_n_"),
    ],
)
def test_file_stem_keeps_plain_characters_only(name, stem):
    assert file_stem(name) == stem


def test_file_stem_refuses_names_without_a_letter_or_digit():
    for bad in ("", "..", "/", "...///", "ü"):
        with pytest.raises(OutputPathError):
            file_stem(bad)
    assert len(file_stem("x" * 500)) == MAX_STEM


def test_hostile_table_names_are_written_inside(tmp_path):
    out = tmp_path / "out"
    paths = _report("../../escape", "/tmp/abs", "main").write(out)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in paths)
    assert _tree(tmp_path) == {"out"} | {f"out/{p}" for p in _tree(out)}
    assert (out / "tables" / "______escape.md").exists()
    assert (out / "tables" / "_tmp_abs.csv").exists()


def test_two_names_with_one_file_name_are_refused(tmp_path):
    with pytest.raises(OutputPathError, match="both be written"):
        _report("a/b", "a.b").write(tmp_path / "out")
    assert not (tmp_path / "out" / "tables").exists() or not any(
        (tmp_path / "out" / "tables").iterdir()
    )


def test_unknown_table_names_in_a_spec_are_refused():
    with pytest.raises(InvalidOptionError, match="unknown tables"):
        impact.evaluate(pd.DataFrame(), Spec(tables=("../../x",), figures=()))


@pytest.mark.parametrize("where", ["file", "folder", "report"])
def test_a_link_pointing_outside_is_refused_and_nothing_is_written_through_it(tmp_path, where):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.md"
    victim.write_text("precious")
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    if where == "file":
        (out / "tables" / "main.md").symlink_to(victim)
    elif where == "folder":
        (out / "tables").rmdir()
        (out / "tables").symlink_to(outside, target_is_directory=True)
    else:
        (out / "report.md").symlink_to(victim)
    with pytest.raises(OutputPathError, match="outside the output folder"):
        _report("main").write(out)
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.md"]


def test_a_link_inside_the_folder_is_replaced_not_followed(tmp_path):
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    keep = out / "keep.txt"
    keep.write_text("mine")
    (out / "tables" / "main.md").symlink_to(keep)
    _report("main").write(out)
    assert keep.read_text() == "mine"
    assert not (out / "tables" / "main.md").is_symlink()


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputPathError, match="not a folder"):
        OutputFolder.create(f)


@pytest.mark.parametrize("part", ["..", "../x", "a/b", ".hidden", "", "a\\b"])
def test_only_plain_parts(tmp_path, part):
    with pytest.raises(OutputPathError):
        OutputFolder.create(tmp_path).target(part)


def test_provenance_records_every_written_file(tmp_path):
    out = tmp_path / "out"
    paths = _report("main", "dynamic").write(out)
    prov = json.loads((out / "provenance.json").read_text())
    recorded = prov["outputs"]
    assert set(recorded) == {str(p.relative_to(out)) for p in paths} - {"provenance.json"}
    for rel, digest in recorded.items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    leftovers = [p for p in out.rglob("*.tmp")]
    assert not leftovers  # temporary files are moved into place
    mode = stat.S_IMODE(os.stat(out / "report.md").st_mode)
    assert mode == FILE_MODE


@pytest.mark.parametrize("obstacle", ["loop", "file_for_folder", "folder_for_file"])
def test_obstacles_in_the_folder_are_typed_errors(tmp_path, obstacle):
    out = tmp_path / "out"
    out.mkdir()
    if obstacle == "loop":
        (out / "tables").symlink_to(out / "tables")
    elif obstacle == "file_for_folder":
        (out / "tables").write_text("x")
    else:
        (out / "report.md").mkdir()
    with pytest.raises(OutputPathError):
        _report("main").write(out)


def test_names_equal_up_to_case_are_refused(tmp_path):
    with pytest.raises(OutputPathError, match="both be written"):
        _report("Main", "main").write(tmp_path / "out")
