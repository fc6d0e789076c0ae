"""Every public name of ``impact`` shows its use in a numpydoc ``Examples`` section, and every
example runs.

The API reference (docs/api.md) renders these docstrings; this test keeps them honest. For
each name of ``impact.__all__`` (the modules ``datasets`` and ``errors`` and ``__version__``
aside) it checks that the docstring has an ``Examples`` section, the last one, with at least
one ``>>>`` line, and runs the docstring's examples with the standard library's ``doctest``
(ellipsis and whitespace-insensitive matching, fresh globals holding ``impact``, ``np`` and
``pd``). The examples print rounded numbers, most of them published or peer values that the
docstrings name, so a failure here is either a broken example or changed numbers. An example
must not warn either: a warning of this package (or raised from its code) fails the test.
"""

from __future__ import annotations

import doctest
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: figures are never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import ImpactWarning

#: Entries of ``impact.__all__`` that are not a documented function or class.
NOT_API = {"__version__", "datasets", "errors"}
PUBLIC = sorted(set(impact.__all__) - NOT_API)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: A numpydoc section header: its title, then dashes of the same length at the same indent.
SECTION = re.compile(r"^(?P<indent>[ \t]*)(?P<title>[A-Z][A-Za-z ]*)\n(?P=indent)-+[ \t]*$", re.M)
PACKAGE = str(Path(impact.__file__).resolve().parent)


def _sections(doc: str) -> list[re.Match[str]]:
    """The numpydoc section headers of ``doc`` (dash line as long as the title)."""
    return [
        m
        for m in SECTION.finditer(doc)
        if len(m.group(0).splitlines()[1].strip()) == len(m.group("title"))
    ]


def _ours(w: warnings.WarningMessage) -> bool:
    """A warning of this package, or one raised from its code or from an example."""
    filename = str(w.filename)
    return (
        issubclass(w.category, ImpactWarning)
        or filename.startswith(PACKAGE)
        or filename.startswith("<doctest")
    )


def test_every_public_name_is_covered():
    assert len(PUBLIC) == len(impact.__all__) - len(NOT_API)
    assert {"feols", "att_gt", "SSC", "evaluate"} <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_has_an_examples_section(name):
    doc = getattr(impact, name).__doc__ or ""
    sections = _sections(doc)
    titles = [m.group("title") for m in sections]
    assert "Examples" in titles, f"impact.{name}: no numpydoc 'Examples' section"
    assert titles[-1] == "Examples", f"impact.{name}: sections after Examples: {titles}"
    body = doc[sections[-1].end() :]
    assert re.search(r"^\s*>>> ", body, re.M), f"impact.{name}: its Examples have no '>>>' line"


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_examples_run(name):
    obj = getattr(impact, name)
    globs = {"impact": impact, "np": np, "pd": pd}
    finder = doctest.DocTestFinder(recurse=False)
    tests = [t for t in finder.find(obj, f"impact.{name}", globs=globs) if t.examples]
    assert tests, f"impact.{name}: no doctest found"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    failed = attempted = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for test in tests:
                result = runner.run(test, out=report.append)
                failed += result.failed
                attempted += result.attempted
    finally:
        plt.close("all")
    assert attempted > 0
    assert failed == 0, f"impact.{name}: {failed} of {attempted} examples failed\n" + "".join(
        report
    )
    ours = [f"{w.category.__name__}: {w.message}" for w in caught if _ours(w)]
    assert not ours, f"impact.{name}: the examples warn:\n" + "\n".join(ours)
