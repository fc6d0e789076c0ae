"""Time and peak memory of the synthetic cluster-panel generator.

Run: ``python benchmarks/generator.py [--n-firms 1000000] [--full-truth]``. Prints rows,
seconds and peak resident memory (ru_maxrss) of one generation in this process.
"""

from __future__ import annotations

import argparse
import resource
import time

from impact.datasets import cluster_panel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-firms", type=int, default=1_000_000)
    ap.add_argument("--full-truth", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    df, truth = cluster_panel(n_firms=args.n_firms, full_truth=args.full_truth)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"n_firms={args.n_firms} rows={len(df):,} truth_rows={len(truth.firm_year):,} "
        f"seconds={secs:.1f} peak_gib={peak:.2f}"
    )


if __name__ == "__main__":
    main()
