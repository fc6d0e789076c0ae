"""Time the engine seam's group-by primitive: the in-memory engine (numpy bincounts on a
pandas frame) against DuckDB on the same frame and over the same rows as Parquet.

Run: ``python benchmarks/engine.py [--sizes 1500000 15000000] [--repeat 3]``.

The sums are those of a firm + year TWFE's first pass (per-firm n, sum y, sum x, sum
y*x, sum x*x). Each size builds the staggered panel of ``_data.py`` once, writes it as
Parquet to a temporary folder, then times each path (one warm-up, best of ``--repeat``)
and prints seconds and the ratio DuckDB / in-memory. DuckDB over Parquet includes
reading the file; the in-memory path has the frame already.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMS = {"sy": "y", "sx": "x1", "sxy": "x1 * y", "sxx": "x1 * x1", "syy": "y * y"}


def _one(rows: int, repeat: int) -> str:
    """One size: the three timings and their ratios, as a table line."""
    sys.path.insert(0, str(HERE))
    from _data import staggered_panel, timed

    from impact.engine import DuckDBEngine, PandasEngine

    df = staggered_panel(max(1, rows // 15))
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "panel.parquet")
        df.to_parquet(path)
        pe, de = PandasEngine(), DuckDBEngine()
        rel = de.source(df)
        _, t_mem, _ = timed(lambda: pe.group_sums(df, ["firm"], SUMS), repeat)
        _, t_duck, _ = timed(lambda: de.group_sums(rel, ["firm"], SUMS), repeat)
        _, t_pq, _ = timed(lambda: de.group_sums(de.source(path), ["firm"], SUMS), repeat)
    return (
        f"{len(df):>12,} {t_mem:>12.3f} {t_duck:>10.3f} {t_pq:>10.3f} "
        f"{t_duck / t_mem:>11.2f} {t_pq / t_mem:>12.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_500_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'rows':>12} {'in-memory s':>12} {'duckdb s':>10} {'parquet s':>10} "
          f"{'duckdb/mem':>11} {'parquet/mem':>12}")  # fmt: skip
    for size in args.sizes:
        print(_one(size, args.repeat), flush=True)


if __name__ == "__main__":
    main()
