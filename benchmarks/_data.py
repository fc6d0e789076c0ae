"""Seeded staggered-adoption firm panel shared by the benchmarks."""

from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd


def staggered_panel(
    n_firms: int, n_years: int = 15, seed: int = 1, drop_share: float = 0.1
) -> pd.DataFrame:
    """Firms x years, ~10% of firm-years missing, staggered membership, 20 industries."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms, dtype=np.int64), n_years)
    year = np.tile(np.arange(2005, 2005 + n_years, dtype=np.int64), n_firms)
    industry = rng.integers(0, 20, n_firms)[firm]
    cohort = rng.choice(np.r_[np.arange(2008, 2016), [0] * 4], n_firms)[firm]
    member = ((cohort > 0) & (year >= cohort)).astype(np.float64)
    alpha = rng.normal(size=n_firms)[firm]
    gamma = rng.normal(size=n_years)[year - 2005]
    x1 = rng.normal(size=firm.size) + 0.3 * alpha
    y = 0.05 * member + 0.4 * x1 + alpha + gamma + rng.normal(size=firm.size)
    df = pd.DataFrame(
        {"firm": firm, "year": year, "industry": industry, "member": member, "x1": x1, "y": y}
    )
    keep = rng.uniform(size=len(df)) > drop_share
    return df.loc[keep].reset_index(drop=True)


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def timed(fn, repeat: int) -> tuple[object, float, float]:
    """Warm-up call, then the best of ``repeat`` timed calls.

    Returns (warm-up result, best seconds, peak MiB above the resident size before the call).
    """
    base = rss_mb()
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, min(times), peak - base
