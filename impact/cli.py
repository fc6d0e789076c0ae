"""The ``impact`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``impact`` and ``python -m impact``."""
    parser = argparse.ArgumentParser(prog="impact", description="Econometric impact evaluation.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("replicate", help="rebuild every report table")
    rep.add_argument("--out", default="replication/output", help="output directory")
    rep.add_argument("--data", default=None, help="optional input data file (CSV)")
    rep.add_argument(
        "--spec", default=None, help="report specification (TOML); reserved for the report pipeline"
    )
    rep.add_argument("--seed", type=int, default=None, help="random seed")
    sim = sub.add_parser("simulate", help="write the synthetic cluster panel with its truth files")
    sim.add_argument("--out", default="data", help="output directory (the shipped copy: data)")
    sim.add_argument("--n-firms", type=int, default=2000)
    sim.add_argument("--seed", type=int, default=None)
    sub.add_parser("version", help="print the package version")
    args = parser.parse_args(argv)
    if args.command == "version":
        import impact

        print(impact.__version__)
        return 0
    if args.command == "simulate":
        from impact.datasets.cluster.generate import DEFAULT_SEED as PANEL_SEED
        from impact.datasets.cluster.shipped import write_shipped

        seed = args.seed if args.seed is not None else PANEL_SEED
        print(write_shipped(args.out, n_firms=args.n_firms, seed=seed))
        return 0
    from impact.report.replication import DEFAULT_SEED, replicate

    if args.spec is not None:
        parser.error("--spec is not available yet: the spec-driven report pipeline has not landed.")
    paths = replicate(
        args.out, data=args.data, seed=args.seed if args.seed is not None else DEFAULT_SEED
    )
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
