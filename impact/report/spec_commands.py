"""The ``impact spec init`` and ``impact spec check`` commands: read the data (CSV or
Parquet), run :func:`~impact.report.spec_init.propose_spec` or
:func:`~impact.report.spec_check.check_data`, print what the user should know."""

from __future__ import annotations

import sys
from pathlib import Path

from impact.data.files import read_panel
from impact.errors import InvalidOptionError
from impact.report.spec import Spec
from impact.report.spec_check import check_data
from impact.report.spec_init import propose_spec

__all__ = ["spec_check", "spec_init"]


def spec_init(data: str | Path, out: str | Path, *, force: bool = False) -> int:
    """Write a proposed spec for ``data`` to ``out``; print what to check. Exit code 0."""
    out = Path(out)
    if out.exists() and not force:
        raise InvalidOptionError(f"{str(out)!r} exists; give another --out or --force.")
    proposal = propose_spec(read_panel(data))
    out.write_text(proposal.text, encoding="utf-8")
    print(f"wrote {out}; check:")
    for line in proposal.checks:
        print(f"  - {line}")
    print(f"then: impact spec check --spec {out} --data {data}")
    return 0


def spec_check(spec: str | Path, data: str | Path) -> int:
    """Print every problem of ``spec`` on ``data`` (exit code 1) or what the report will
    build and leave out (exit code 0)."""
    problems, fitted = check_data(Spec.from_toml(spec), read_panel(data))
    if problems:
        n = len(problems)
        print(f"{n} problem{'s' if n > 1 else ''}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    if fitted is None:  # not reached: a spec that does not fit is a problem
        return 1
    print(f"the spec fits the data: tables {list(fitted.spec.tables)}, figures "
          f"{list(fitted.spec.figures)}")  # fmt: skip
    for note in fitted.notes:
        print(f"  - {note}")
    return 0
