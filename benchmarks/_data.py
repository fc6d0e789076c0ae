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


#: Unused columns of the ``<model>-wide`` variants (a register's other variables): an
#: estimator should touch only the columns it needs.
WIDE_EXTRA = 20


def widen(df: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """``df`` with :data:`WIDE_EXTRA` unused numeric columns."""
    rng = np.random.default_rng(seed)
    return df.assign(**{f"unused_{i}": rng.normal(size=len(df)) for i in range(WIDE_EXTRA)})


def split_model(model: str) -> tuple[str, bool]:
    """``"x-wide"`` -> ``("x", True)``; ``"x"`` -> ``("x", False)``."""
    return model.removesuffix("-wide"), model.endswith("-wide")


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _reset_peak() -> bool:
    """Reset the kernel's peak resident size of this process (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    """Peak resident size (MiB) since the last reset (``VmHWM``), else since start."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeat: int) -> tuple[object, float, float]:
    """Warm-up call, then the best of ``repeat`` timed calls.

    Returns (warm-up result, best seconds, peak MiB of the timed calls above the resident
    size once the data are built, before the warm-up). The peak is the kernel's
    high-water mark reset after the warm-up, so one-off costs of a first call (a JIT
    compiler's) do not count, while memory the warm-up left behind (its result, caches)
    does; without a resettable mark (not Linux), the process's peak.
    """
    base = rss_mb()
    result = fn()
    if not _reset_peak():
        base = 0.0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return result, min(times), max(_peak_mb() - base, 0.0)
