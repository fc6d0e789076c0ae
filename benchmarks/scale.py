"""Register-scale runs: estimators on DuckDB (or Spark) over Parquet shards of the cluster
panel, with time, peak memory (RSS) and the engine's passes; pyfixest on the same rows
loaded in memory for comparison (its load time counted).

Run: ``python benchmarks/scale.py --rows 15000000 [--rows 100000000] [--data DIR]
[--memory-limit 4GB] [--engine duckdb|spark] [--peers]
[--fits twfe fepois att_gt att_gt_dr att_gt_balanced sun_abraham imputation did2s]``.

``--engine spark`` reads the same shards into a Spark ``local[2]`` session (driver memory
``--memory-limit``, ``--partitions`` shuffle partitions) and runs the fits there; with
``--peers`` it adds moderndid's Spark ATT(g,t) on the same DataFrame (``moderndid_spark``,
never-treated coded 0 as it requires), compared with ``att_gt_balanced``: moderndid
balances the panel (its default), where impact's default keeps each comparison's units,
so on the unbalanced cluster panel the two defaults estimate on different samples. Peak RSS is the Python process's: the JVM's
memory is not in it (``peak RSS`` of Spark rows is the driver's Python side only).

Each size writes the cluster panel as Parquet shards once (``--data``, default a folder
under the system's temporary directory, reused when present; about 40 bytes per row on
disk), then runs every fit in a fresh process so that each peak RSS is its own:

- ``twfe``: ``log_va ~ log_emp + log_k | firm_id + year``, CRV1 by firm, engine DuckDB
  with the given memory limit (spilling to a temporary directory beside the data);
- ``att_gt``: unconditional Callaway-Sant'Anna ATT(g,t) of ``log_emp`` by ``join_year``
  (never-treated controls, unit-level influence functions), DuckDB as above;
  ``att_gt_balanced`` the same on the balanced panel (units observed in every period);
- ``fepois``: Poisson PPML of employment, ``exp(log_emp) ~ log_k | firm_id + year``, CRV1
  by firm (separation checks and every IRLS step in DuckDB);
- ``sun_abraham``, ``imputation`` and ``did2s``: ``event_study`` of ``log_emp`` by ``join_year``,
  window (-5, 5), clustered by firm, DuckDB as above;
- the in-memory peers (``--peers``): pyfixest for TWFE and fepois, impact's numpy path for
  the others
  (the speed issue measured diff-diff's Sun-Abraham and did2s failing at 1.5e7 rows), the
  Parquet shards read with pandas first (load time counted).

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
POISSON = "exp(log_emp) ~ log_k | firm_id + year"
COLUMNS = ["firm_id", "year", "log_va", "log_emp", "log_k", "join_year"]
DID = {"y": "log_emp", "unit": "firm_id", "time": "year", "cohort": "join_year"}
#: The fits run in DuckDB, each with its in-memory peer (pyfixest for TWFE, else impact's
#: numpy path on the loaded frame).
ENGINE_FITS = {
    "twfe": "pyfixest",
    "fepois": "pyfixest_fepois",
    "att_gt": "att_gt_mem",
    "att_gt_dr": "att_gt_dr_mem",
    "att_gt_balanced": "att_gt_balanced_mem",
    "sun_abraham": "sun_abraham_mem",
    "imputation": "imputation_mem",
    "did2s": "did2s_mem",
}
#: Peers that run on Spark itself (``--engine spark --peers``).
SPARK_PEERS = {"att_gt_balanced": "moderndid_spark"}
#: Cluster-panel firm-years per incumbent firm (about 15 over the observed window).
ROWS_PER_FIRM = 15.5


def _shards(rows: int, root: Path) -> Path:
    """The Parquet shards of about ``rows`` firm-years (written once, then reused)."""
    from impact.datasets.cluster.parquet import write_cluster_panel_parquet

    folder = root / f"cluster_{rows}_did"
    if not (folder / "done").exists():
        write_cluster_panel_parquet(
            folder, int(rows / ROWS_PER_FIRM), columns=COLUMNS, shard_firms=250_000,
            progress=lambda line: print(f"  writing {line}", file=sys.stderr, flush=True),
        )  # fmt: skip
        (folder / "done").write_text("complete\n")
    return folder


def _fit(kind: str, data, engine) -> tuple[int, dict, int]:
    """One of the fits on ``data``: rows used, headline numbers, passes."""
    import impact

    if kind == "twfe":
        fit = impact.feols(FORMULA, data, vcov={"cluster": "firm_id"}, engine=engine)
        return fit.nobs, fit.coef.to_dict(), _passes(fit)
    if kind == "fepois":
        fit = impact.fepois(POISSON, data, vcov={"cluster": "firm_id"}, engine=engine)
        return fit.nobs, fit.coef.to_dict(), _passes(fit)
    if kind in ("att_gt", "att_gt_dr", "att_gt_balanced"):
        cov = {"covariates": ["log_k"], "method": "dr"} if kind == "att_gt_dr" else {}
        cov |= {"panel": "balanced"} if kind == "att_gt_balanced" else {}
        fit = impact.att_gt(data, **DID, **cov, engine=engine)
        agg = fit.aggregate("simple")
        rows = fit.sample_log.n_final
        return rows, {"ATT": agg.estimate, "se": agg.std_error}, _passes(fit)
    es = impact.event_study(data, **DID, estimator=kind, window=(-5, 5), engine=engine)
    return es.n_obs, {"ATT": es.att, "se": es.att_se}, _passes(es)


def _passes(fit) -> int:
    return 0 if fit.engine_use is None else fit.engine_use.passes


def _spark_session(memory: str, partitions: int):
    """A ``local[2]`` Spark session for the benchmark (UI and progress bars off)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", memory.lower().replace("gb", "g"))
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _moderndid_spark(sdf) -> tuple[int, dict, int]:
    """moderndid's Spark ATT(g,t) (unconditional, never-treated coded 0), simple average."""
    import moderndid

    sdf = sdf.fillna(0, subset=["join_year"])
    res = moderndid.att_gt(data=sdf, yname="log_emp", tname="year", idname="firm_id",
                           gname="join_year", est_method="reg")  # fmt: skip
    agg = moderndid.aggte(res, type="simple")
    return 0, {"ATT": float(agg.overall_att), "se": float(agg.overall_se)}, 0


def _child(kind: str, folder: str, memory_limit: str, engine: str, partitions: int) -> None:
    """One fit in this process; prints a JSON line with seconds, RSS and passes."""
    import resource

    start = time.perf_counter()
    glob = str(Path(folder) / "part-*.parquet")
    if engine == "spark" and (kind in ENGINE_FITS or kind in SPARK_PEERS.values()):
        from impact.engine import SparkEngine

        spark = _spark_session(memory_limit, partitions)
        sdf = spark.read.parquet(glob)
        if kind == "moderndid_spark":
            rows, coef, passes = _moderndid_spark(sdf)
        else:
            rows, coef, passes = _fit(kind, sdf, SparkEngine(spark))
    elif kind in ENGINE_FITS:
        import duckdb

        from impact.engine import DuckDBEngine

        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{Path(folder).parent / 'spill'}'")
        con.execute("SET preserve_insertion_order = false")
        rows, coef, passes = _fit(kind, glob, DuckDBEngine(con))
    else:
        import pandas as pd

        parts = sorted(Path(folder).glob("part-*.parquet"))
        df = pd.concat([pd.read_parquet(p, columns=COLUMNS) for p in parts], ignore_index=True)
        if kind == "pyfixest":
            import pyfixest as pf

            fit = pf.feols(FORMULA, df, vcov={"CRV1": "firm_id"})
            rows, coef, passes = int(fit._N), fit.coef().to_dict(), 0
        elif kind == "pyfixest_fepois":
            import numpy as np
            import pyfixest as pf

            df["emp"] = np.exp(df["log_emp"])
            fml = POISSON.replace("exp(log_emp)", "emp")
            fit = pf.fepois(fml, df, vcov={"CRV1": "firm_id"}, iwls_tol=1e-10)
            rows, coef, passes = int(fit._N), fit.coef().to_dict(), 0
        else:
            rows, coef, passes = _fit(kind.removesuffix("_mem"), df, None)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB
    print(json.dumps({"kind": kind, "rows": rows, "seconds": seconds, "rss_gib": rss,
                      "passes": passes, "coef": coef}))  # fmt: skip


def _run(kind: str, folder: Path, args: argparse.Namespace) -> dict:
    child = [kind, str(folder), args.memory_limit, args.engine, str(args.partitions)]
    out = subprocess.run(
        [sys.executable, __file__, "--child", *child], check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[15_000_000])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "impact_scale")
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--peers", action="store_true", help="also time the in-memory peers")
    parser.add_argument("--fits", nargs="+", default=list(ENGINE_FITS), choices=list(ENGINE_FITS))
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--partitions", type=int, default=8, help="Spark shuffle partitions")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, folder, memory, engine, partitions = args.child
        _child(kind, folder, memory, engine, int(partitions))
        return
    print(f"{'fit':<16} {'rows':>13} {'seconds':>9} {'peak RSS GiB':>13} {'passes':>7}")
    for rows in args.rows:
        folder = _shards(rows, args.data)
        kinds = list(args.fits) + ([ENGINE_FITS[k] for k in args.fits] if args.peers else [])
        if args.peers and args.engine == "spark":
            kinds += [SPARK_PEERS[k] for k in args.fits if k in SPARK_PEERS]
        results = {k: _run(k, folder, args) for k in kinds}
        for k, r in results.items():
            print(f"{k:<16} {r['rows']:>13,} {r['seconds']:>9.1f} {r['rss_gib']:>13.2f} "
                  f"{r['passes']:>7}", flush=True)  # fmt: skip
        pairs = [*ENGINE_FITS.items(), *SPARK_PEERS.items()]
        for engine_kind, peer in pairs:
            if peer in results and engine_kind in results:
                a, b = results[engine_kind], results[peer]
                gaps = {k: abs(a["coef"][k] - b["coef"][k]) / abs(b["coef"][k]) for k in b["coef"]}
                worst = max(gaps, key=gaps.__getitem__)
                print(f"{'':<16} {engine_kind} / {peer}: time {a['seconds'] / b['seconds']:.2f}x, "
                      f"largest relative gap {gaps[worst]:.1e} ({worst}: {a['coef'][worst]:.6g} "
                      f"vs {b['coef'][worst]:.6g})")  # fmt: skip


if __name__ == "__main__":
    main()
