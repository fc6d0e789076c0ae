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
    rep = sub.add_parser("replicate", help="rebuild the evaluation report (tables, figures, HTML)")
    rep.add_argument("--out", default="replication/output", help="output directory")
    rep.add_argument(
        "--data", default=None, help="firm panel (CSV) in the documented schema; default: embedded"
    )
    rep.add_argument(
        "--spec", default=None, help="report spec (TOML); default: replication/config.toml"
    )
    rep.add_argument("--seed", type=int, default=None, help="random seed (overrides the spec)")
    rep.add_argument("--quiet", action="store_true", help="no progress lines")
    rep.add_argument(
        "--workers", type=int, default=2, help="processes (2: production tables alongside)"
    )
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
    from impact.report.replication import replicate

    paths = replicate(
        args.out,
        data=args.data,
        spec=args.spec,
        seed=args.seed,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(f"wrote {len(paths)} files to {args.out} (open {args.out}/report.html)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
