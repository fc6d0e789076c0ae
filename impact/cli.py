"""The ``impact`` command line."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from impact.errors import ImpactError, SpecError

__all__ = ["EXIT_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_PROBLEMS", "main"]

#: ``spec check`` found problems in the spec or the data (listed on stderr).
EXIT_PROBLEMS = 1
#: A mistake in the data, the spec, a file or an option value (one line on stderr).
EXIT_INPUT = 3
#: A bug in impact (one line; ``--debug`` shows the traceback).
EXIT_INTERNAL = 4
#: Interrupted (Ctrl-C).
EXIT_INTERRUPTED = 130

_EPILOG = """exit status:
  0    success
  1    'spec check' found problems (listed on stderr)
  2    usage error (unknown command or option)
  3    the data, the spec, a file or an option value is wrong (one line says what)
  4    internal error in impact (rerun with --debug for the traceback, please report it)
  130  interrupted

The data schema and the spec format: docs/report.md; 'impact spec init --data FILE'
writes a spec for your own columns."""

_SCHEMA_HINT = (
    "The columns the report reads are described in docs/report.md; "
    "'impact spec init --data FILE' writes a spec for your own columns (then --spec FILE)."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``impact`` and ``python -m impact``."""
    from impact._version import __version__

    parser = argparse.ArgumentParser(
        prog="impact", description="Econometric impact evaluation.", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"impact {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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
    rep.add_argument(
        "--engine", choices=("numpy", "duckdb"), default=None,
        help="where a Parquet panel is held: duckdb (default for Parquet: the estimators with an "
        "engine path run there) or numpy (read into memory)",
    )  # fmt: skip
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
    for sub_parser in (rep, sim, init, check):  # also accepted after the command
        sub_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                help="show the full traceback of an error")  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "simulate" and args.n_firms < 1:
        parser.error(f"--n-firms must be at least 1, got {args.n_firms}")
    try:
        return _run(args)
    except (ImpactError, OSError) as exc:  # data, spec, options, files and folders
        if args.debug:  # the traceback, and the same exit code as without --debug
            traceback.print_exc()
        hint = f"\n{_SCHEMA_HINT}" if isinstance(exc, SpecError) else ""
        print(f"impact: error: {exc}{hint}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("impact: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback on request
        if args.debug:
            traceback.print_exc()
        print(
            f"impact: internal error: {type(exc).__name__}: {exc} (rerun with --debug for "
            "the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


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
        engine=args.engine,
    )
    print(f"wrote {len(paths)} files to {args.out} (open {args.out}/report.html)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
