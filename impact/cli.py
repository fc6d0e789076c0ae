"""The ``impact`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from impact.errors import ImpactError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``impact`` and ``python -m impact``."""
    from impact._version import __version__

    parser = argparse.ArgumentParser(prog="impact", description="Econometric impact evaluation.")
    parser.add_argument("--version", action="version", version=f"impact {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("replicate", help="rebuild the evaluation report (tables, figures, HTML)")
    rep.add_argument("--out", default="replication/output", help="output directory")
    rep.add_argument(
        "--data", default=None, help="firm panel (CSV or Parquet); default: the embedded panel"
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
    spec = sub.add_parser("spec", help="write a first spec for your panel, or check one")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True)
    init = spec_sub.add_parser("init", help="propose a spec (TOML) from the data's columns")
    init.add_argument("--data", required=True, help="firm panel (CSV or Parquet)")
    init.add_argument("--out", default="spec.toml", help="where to write it (default spec.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = spec_sub.add_parser("check", help="list every problem of a spec on a data set")
    check.add_argument("--spec", required=True, help="report spec (TOML)")
    check.add_argument("--data", required=True, help="firm panel (CSV or Parquet)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ImpactError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"impact: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "spec":
        from impact.report.spec_commands import spec_check, spec_init

        if args.spec_command == "init":
            return spec_init(args.data, args.out, force=args.force)
        return spec_check(args.spec, args.data)
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
