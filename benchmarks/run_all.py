"""Every speed comparison of impact against its best peer, in one run, with a ratios table.

Run: ``python benchmarks/run_all.py [--sizes 150000 1500000] [--rounds 2] [--markdown out.md]``
(``--sizes 15000000`` for the register-sized part; sized to stay within 24 GiB: each
process is capped at ``--memory-cap`` GiB, so a peer that needs more fails with a
memory error instead of taking the machine down).

For each comparison (estimator x narrow/wide frame x size) every library runs in its own
process, through the ``--worker`` interface of ``twfe.py``, ``fepois.py`` and ``did.py``
(one warm-up call, then the best of ``--repeat`` calls on the same data; peak memory is
the high-water mark of those calls above the resident size after the warm-up, so a
first call's one-off costs such as a JIT compiler's do not count). Libraries
alternate within a round and the best time of ``--rounds`` rounds counts. The table shows
impact's time and peak memory, the best peer's, their ratios, the issue's target ratio
and whether it is met, and impact's wide/narrow time ratio (target <= 1.1). A peer that
fails or times out is reported as such (and is not the best peer).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import math
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: impact's time on a frame with 20 unused columns over its time on the narrow frame.
WIDE_TARGET = 1.1


@dataclass(frozen=True)
class Comparison:
    """One estimator timed against its peers: the script, its model and the targets
    (impact's time over the named peer's time) of the speed issue."""

    label: str
    script: str
    model: str
    peers: tuple[str, ...]
    targets: dict[str, float] = field(default_factory=dict)


COMPARISONS = (
    Comparison(
        "feols firm+year", "twfe.py", "firm+year", ("pyfixest", "linearmodels"), {"pyfixest": 0.4}
    ),
    Comparison("feols 3-way FE", "twfe.py", "firm+year+ind^year", ("pyfixest",), {"pyfixest": 0.4}),
    Comparison("fepois firm+year", "fepois.py", "fepois", ("pyfixest",), {"pyfixest": 0.4}),
    Comparison(
        "att_gt unconditional",
        "did.py",
        "unconditional",
        ("diff-diff", "moderndid", "csdid"),
        {"diff-diff": 0.35, "moderndid": 0.1, "csdid": 0.1},
    ),
    Comparison(
        "att_gt DR, 2 covariates",
        "did.py",
        "dr-2cov",
        ("diff-diff", "moderndid", "csdid"),
        {"diff-diff": 0.5, "moderndid": 0.1, "csdid": 0.1},
    ),
    Comparison("Sun-Abraham", "did.py", "sun-abraham", ("diff-diff",), {"diff-diff": 0.1}),
    Comparison("imputation", "did.py", "imputation", ("diff-diff",), {"diff-diff": 0.3}),
    Comparison("did2s", "did.py", "did2s", ("pyfixest", "diff-diff"), {"pyfixest": 0.5}),
    Comparison("etwfe (linear)", "did.py", "etwfe", ("diff-diff",)),
    Comparison("event-study TWFE", "did.py", "twfe-es", ("pyfixest",)),
)


def _cap(gib: float):
    """A ``preexec_fn`` capping the child's address space at ``gib`` GiB."""
    limit = int(gib * 2**30)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def run_one(script: str, lib: str, rows: int, model: str, args) -> dict:
    """One worker process: ``{"time", "peak_mb", "rows"}`` or ``{"error": text}``."""
    cmd = [sys.executable, str(HERE / script), "--worker", lib, str(rows), model]
    cmd.append(str(args.repeat))
    try:
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
            preexec_fn=_cap(args.memory_cap),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
        memory = "MemoryError" in out.stderr or "Unable to allocate" in out.stderr
        why = f"out of memory (cap {args.memory_cap:g} GiB)" if memory else tail[0][-120:]
        return {"error": why}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {"error": "not estimated by this library"} if res.get("skipped") else res


def measure(comp: Comparison, rows: int, wide: bool, libs: list[str], args) -> dict:
    """Best time and largest peak of every library over the rounds (libraries alternate)."""
    model = comp.model + ("-wide" if wide else "")
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for lib in libs:
            r = run_one(comp.script, lib, rows, model, args)
            prev = best.get(lib)
            if "error" in r:
                best.setdefault(lib, r)
            elif prev is None or "error" in prev:
                best[lib] = r
            else:
                prev["time"] = min(prev["time"], r["time"])
                prev["peak_mb"] = max(prev["peak_mb"], r["peak_mb"])
    return best


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def row_of(comp: Comparison, rows: int, wide: bool, res: dict) -> dict:
    """One line of the ratios table."""
    me = res.get("impact", {"error": "not run"})
    peers = {k: v for k, v in res.items() if k != "impact" and "error" not in v}
    best = min(peers, key=lambda k: peers[k]["time"]) if peers else None
    failed = sorted(k for k, v in res.items() if k != "impact" and "error" in v)
    out = {
        "estimator": comp.label,
        "frame": "wide" if wide else "narrow",
        "rows": rows,
        "impact_s": me.get("time", math.nan),
        "impact_mb": me.get("peak_mb", math.nan),
        "peer": best or "-",
        "peer_s": peers[best]["time"] if best else math.nan,
        "peer_mb": peers[best]["peak_mb"] if best else math.nan,
        "failed": ", ".join(f"{k}: {res[k]['error']}" for k in failed),
        "impact_error": me.get("error", ""),
    }
    out["time_ratio"] = _ratio(out["impact_s"], out["peer_s"])
    out["mem_ratio"] = _ratio(out["impact_mb"], out["peer_mb"])
    checks = []
    for peer, target in comp.targets.items():
        if peer in peers:
            ratio = _ratio(out["impact_s"], peers[peer]["time"])
            checks.append(f"{peer} {ratio:.2f} <= {target:g}: {'yes' if ratio <= target else 'NO'}")
        elif peer in res:
            checks.append(f"{peer} failed")
    out["targets"] = "; ".join(checks)
    return out


def _fmt(v: float, digits: int = 2) -> str:
    return "-" if not isinstance(v, float) or math.isnan(v) else f"{v:.{digits}f}"


def markdown(lines: list[dict]) -> str:
    """The ratios table as Markdown."""
    head = (
        "| Estimator | Frame | Rows | impact s | impact MB | Best peer | Peer s | Peer MB | "
        "Time ratio | Memory ratio | Targets | Wide/narrow | Peers failed |"
    )
    out = [head, "|" + "---|" * 13]
    for r in lines:
        out.append(
            f"| {r['estimator']} | {r['frame']} | {r['rows']:,} | {_fmt(r['impact_s'], 3)} | "
            f"{_fmt(r['impact_mb'], 0)} | {r['peer']} | {_fmt(r['peer_s'], 3)} | "
            f"{_fmt(r['peer_mb'], 0)} | {_fmt(r['time_ratio'])} | {_fmt(r['mem_ratio'])} | "
            f"{r['targets'] or '-'} | {r.get('wide_ratio', '-')} | "
            f"{r['failed'] or r['impact_error'] or '-'} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150_000, 1_500_000])
    ap.add_argument(
        "--only", nargs="+", default=None, help="labels (substrings) of the comparisons to run"
    )
    ap.add_argument("--narrow-only", action="store_true", help="skip the wide frames")
    ap.add_argument("--skip", nargs="+", default=[], help="peers not to run (e.g. csdid)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--memory-cap", type=float, default=20.0, help="GiB per process")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()
    comps = [c for c in COMPARISONS if args.only is None or any(o in c.label for o in args.only)]
    libs = sorted({"impact", *(p for c in comps for p in c.peers)})
    versions = {}
    for lib in libs:
        try:
            versions[lib] = md.version(lib)
        except md.PackageNotFoundError:
            versions[lib] = None
    print("versions:", {k: v or "not installed" for k, v in versions.items()}, flush=True)
    lines = []
    for comp in comps:
        run = ["impact", *(p for p in comp.peers if versions[p] and p not in args.skip)]
        for rows in args.sizes:
            narrow = None
            for wide in (False,) if args.narrow_only else (False, True):
                res = measure(comp, rows, wide, run, args)
                line = row_of(comp, rows, wide, res)
                if wide and narrow is not None:
                    wr = _ratio(line["impact_s"], narrow["impact_s"])
                    line["wide_ratio"] = f"{wr:.2f} ({'yes' if wr <= WIDE_TARGET else 'NO'})"
                narrow = narrow or line
                lines.append(line)
                print(
                    f"{line['estimator']:<24} {line['frame']:<6} {rows:>10,} "
                    f"impact {_fmt(line['impact_s'], 3):>7} s {_fmt(line['impact_mb'], 0):>6} MB | "
                    f"{line['peer']:<12} {_fmt(line['peer_s'], 3):>7} s "
                    f"{_fmt(line['peer_mb'], 0):>6} MB | ratio {_fmt(line['time_ratio'])} "
                    f"mem {_fmt(line['mem_ratio'])} | {line['targets']} "
                    f"{line.get('wide_ratio', '')} {line['failed']}{line['impact_error']}",
                    flush=True,
                )
    table = markdown(lines)
    print("\n" + table)
    print("ratios are impact / peer (below 1: impact faster or leaner)")
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
