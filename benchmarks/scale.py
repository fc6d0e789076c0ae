"""Register-scale runs: estimators on DuckDB over Parquet shards of the cluster panel,
with time, peak memory (RSS) and the engine's passes; pyfixest on the same rows loaded
in memory for comparison (its load time counted).

Run: ``python benchmarks/scale.py --rows 15000000 [--rows 100000000] [--data DIR]
[--memory-limit 4GB] [--peers]``.

Each size writes the cluster panel as Parquet shards once (``--data``, default a folder
under the system's temporary directory, reused when present; about 40 bytes per row on
disk), then runs every fit in a fresh process so that each peak RSS is its own:

- ``twfe``: ``log_va ~ log_emp + log_k | firm_id + year``, CRV1 by firm, engine DuckDB
  with the given memory limit (spilling to a temporary directory beside the data);
- ``pyfixest`` (``--peers``): the same model, the Parquet shards read with pandas first.

The printed table has rows, seconds, peak RSS in GiB and passes over the data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = "log_va ~ log_emp + log_k | firm_id + year"
COLUMNS = ["firm_id", "year", "log_va", "log_emp", "log_k"]
#: Cluster-panel firm-years per incumbent firm (about 15 over the observed window).
ROWS_PER_FIRM = 15.5


def _shards(rows: int, root: Path) -> Path:
    """The Parquet shards of about ``rows`` firm-years (written once, then reused)."""
    from impact.datasets.cluster.parquet import write_cluster_panel_parquet

    folder = root / f"cluster_{rows}"
    if not (folder / "done").exists():
        write_cluster_panel_parquet(
            folder, int(rows / ROWS_PER_FIRM), columns=COLUMNS, shard_firms=250_000,
            progress=lambda line: print(f"  writing {line}", file=sys.stderr, flush=True),
        )  # fmt: skip
        (folder / "done").write_text("complete\n")
    return folder


def _child(kind: str, folder: str, memory_limit: str) -> None:
    """One fit in this process; prints a JSON line with seconds, RSS and passes."""
    import resource

    start = time.perf_counter()
    if kind == "twfe":
        import duckdb

        import impact
        from impact.engine import DuckDBEngine

        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{Path(folder).parent / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        fit = impact.feols(FORMULA, str(Path(folder) / "part-*.parquet"),
                           vcov={"cluster": "firm_id"}, engine=DuckDBEngine(con))  # fmt: skip
        rows, passes = fit.nobs, fit.engine_use.passes
        coef = fit.coef.to_dict()
    else:
        import pandas as pd
        import pyfixest as pf

        parts = sorted(Path(folder).glob("part-*.parquet"))
        df = pd.concat([pd.read_parquet(p, columns=COLUMNS) for p in parts], ignore_index=True)
        fit = pf.feols(FORMULA, df, vcov={"CRV1": "firm_id"})
        rows, passes, coef = int(fit._N), 0, fit.coef().to_dict()
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB
    print(json.dumps({"kind": kind, "rows": rows, "seconds": seconds, "rss_gib": rss,
                      "passes": passes, "coef": coef}))  # fmt: skip


def _run(kind: str, folder: Path, memory_limit: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(folder), memory_limit],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[15_000_000])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "impact_scale")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--peers", action="store_true", help="also time pyfixest in memory")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"{'fit':<10} {'rows':>13} {'seconds':>9} {'peak RSS GiB':>13} {'passes':>7}")
    for rows in args.rows:
        folder = _shards(rows, args.data)
        kinds = ["twfe"] + (["pyfixest"] if args.peers else [])
        results = {k: _run(k, folder, args.memory_limit) for k in kinds}
        for k, r in results.items():
            print(f"{k:<10} {r['rows']:>13,} {r['seconds']:>9.1f} {r['rss_gib']:>13.2f} "
                  f"{r['passes']:>7}", flush=True)  # fmt: skip
        if "pyfixest" in results:
            a, b = results["twfe"], results["pyfixest"]
            gap = max(abs(a["coef"][k] - b["coef"][k]) / abs(b["coef"][k]) for k in b["coef"])
            print(f"{'':<10} impact/pyfixest time {a['seconds'] / b['seconds']:.2f}x, "
                  f"largest coefficient gap {gap:.1e} (relative)")  # fmt: skip


if __name__ == "__main__":
    main()
