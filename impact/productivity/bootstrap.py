"""Firm-block bootstrap of production-function estimates.

A firm-block resample draws firms with replacement and keeps each drawn firm's whole
history. Repeating a firm ``c`` times is the same as giving its rows weight ``c`` in every
least-squares and GMM step used here, so a draw is a vector of firm counts, never a
copied frame. Draw ``b`` uses its own random stream spawned from the seed
(``numpy.random.SeedSequence(seed).spawn``), so results do not depend on the order in
which draws are computed (parallel-safe).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from impact._typing import FloatArray, IntArray
from impact.errors import ConvergenceError, ImpactError, ImpactWarning
from impact.results.block_bootstrap import BlockBootstrap

__all__ = ["BlockBootstrap", "DrawCallback", "draw_progress", "firm_block_bootstrap", "firm_counts"]

#: Share of failed draws above which the bootstrap is refused rather than reported.
MAX_FAILED_SHARE = 0.1


def firm_counts(rng: np.random.Generator, n_units: int) -> FloatArray:
    """How often each of ``n_units`` firms is drawn in one resample of ``n_units`` firms."""
    return np.bincount(rng.integers(0, n_units, n_units), minlength=n_units).astype(float)


#: A progress callback: called with (draws done, draws in all).
DrawCallback = Callable[[int, int], None]


def draw_progress(
    n: int, progress: bool | DrawCallback, label: str = "bootstrap"
) -> Callable[[int], None]:
    """The per-draw reporter of a bootstrap of ``n`` draws: nothing (``False``), a line
    on stderr redrawn about 20 times (``True``), or ``progress(done, n)`` at every draw
    (a callable: the report's live display)."""
    start = time.monotonic()

    def report(done: int) -> None:
        if callable(progress):
            progress(done, n)
            return
        if not progress or (done % max(n // 20, 1) and done != n):
            return
        secs = time.monotonic() - start
        print(f"\r{label} {done}/{n} draws, {secs:.0f} s", end="", file=sys.stderr)
        if done == n:
            print(file=sys.stderr)

    return report


def firm_block_bootstrap(
    estimate: Callable[[FloatArray], FloatArray],
    unit: IntArray,
    n_units: int,
    *,
    n_boot: int,
    seed: int,
    progress: bool | DrawCallback = False,
) -> BlockBootstrap:
    """Re-estimate on ``n_boot`` firm-block resamples.

    Parameters
    ----------
    estimate : callable
        Row weights ``(n,)`` -> coefficient vector. It may raise :class:`ImpactError`
        (counted as a failed draw).
    unit : ndarray (n,)
        Firm code of every row, ``0..n_units-1``.
    progress : bool or callable
        Print a progress line to stderr, or call ``progress(done, n_boot)`` after each
        draw (:func:`draw_progress`).

    Raises
    ------
    ConvergenceError
        More than :data:`MAX_FAILED_SHARE` of the draws failed.
    """
    streams = np.random.SeedSequence(seed).spawn(n_boot)
    report = draw_progress(n_boot, progress)
    draws, failed = [], 0
    for b, stream in enumerate(streams):
        counts = firm_counts(np.random.Generator(np.random.PCG64(stream)), n_units)
        try:
            draws.append(estimate(counts[unit]))
        except (ImpactError, np.linalg.LinAlgError):
            failed += 1
        report(b + 1)
    if failed > MAX_FAILED_SHARE * n_boot:
        raise ConvergenceError(
            f"{failed} of {n_boot} bootstrap draws failed to estimate; the bootstrap "
            "standard errors would describe a selected set of resamples."
        )
    if failed:
        warnings.warn(
            f"{failed} of {n_boot} bootstrap draws failed and were left out.",
            ImpactWarning,
            stacklevel=3,
        )
    return BlockBootstrap(draws=np.asarray(draws), n_failed=failed, seed=seed)
