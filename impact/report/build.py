"""Running the report's steps: each table and figure builder on one shared
:class:`~impact.report.evaluation.Evaluation` (fits are shared), in this process or in two
single-threaded processes, with the warnings each step raised and its time."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import warnings
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from functools import partial
from typing import Any

import pandas as pd

from impact.report.engine_input import EngineInput
from impact.report.evaluation import Evaluation
from impact.report.progress import Progress, StepEvent
from impact.report.registry import FIGURE_BUILDERS, TABLE_BUILDERS
from impact.report.report_figures import figure_style
from impact.report.spec import Spec
from impact.report.table import Table

__all__ = ["OFFLOAD", "Built", "build_in_processes", "build_steps"]

#: Tables that share no fits with the others and cost most: built in a second process
#: when ``workers > 1``.
OFFLOAD = ("production",)

#: What a step gives: its table or figures, the warnings raised, seconds, and whether it
#: used the in-memory copy of a panel held by an engine.
Built = tuple[Any, list[str], float, bool]


def _build_step(ev: Evaluation, kind: str, name: str) -> tuple[Any, list[str], float, bool]:
    """Run one builder: (result, warnings raised, seconds, whether it read a panel held by
    an engine into memory)."""
    start = time.perf_counter()
    uses = ev.engine.uses if ev.engine is not None else 0
    build = TABLE_BUILDERS[name] if kind == "table" else FIGURE_BUILDERS[name]
    style = figure_style() if kind == "figure" else contextlib.nullcontext()
    with warnings.catch_warnings(record=True) as rec, style:
        warnings.simplefilter("always")
        made = build(ev)
    if isinstance(made, Table) and not ev.truth:  # no truth columns for real data
        made = made.without_truth()
    collects = ev.engine is not None and ev.engine.uses > uses  # used the in-memory copy
    msgs = sorted({f"{w.category.__name__}: {w.message}" for w in rec})
    return made, msgs, time.perf_counter() - start, collects


def _emit_draws(
    emit: Any, index: int, kind: str, name: str, what: str, done: int, total: int
) -> None:
    """Send a step's bootstrap progress (``what``: which bootstrap) to the display."""
    emit(StepEvent(index, kind, name, draws=what, done=done, total=total))


def build_steps(
    data: pd.DataFrame,
    spec: Spec,
    truth: Any,
    todo: list[tuple[str, str]],
    steps: list[tuple[str, str]],
    emit: Any,
) -> dict[tuple[str, str], Built]:
    """Validate, prepare and run the steps ``todo`` (of all ``steps``, for numbering);
    fits are shared among them. ``emit`` (None, or a callable / a queue's ``put``)
    receives a :class:`StepEvent` when each step starts and ends."""
    if isinstance(data, EngineInput):
        ev = Evaluation.on_engine(data, truth)
    else:
        ev = Evaluation.build(data, spec, truth)
    out = {}
    for kind, name in todo:
        k = steps.index((kind, name)) + 1
        if emit is not None:
            emit(StepEvent(k, kind, name))
            object.__setattr__(ev, "on_draws", partial(_emit_draws, emit, k, kind, name))
        out[kind, name] = _build_step(ev, kind, name)
        if emit is not None:
            emit(StepEvent(k, kind, name, out[kind, name][2]))
    return out


def build_in_processes(
    data: pd.DataFrame,
    spec: Spec,
    truth: Any,
    steps: list[tuple[str, str]],
    progress: bool,
) -> dict[tuple[str, str], Built]:
    """Two fresh single-threaded processes: one builds the :data:`OFFLOAD` tables, the
    other everything else (sharing its fits). Validation runs here first, so a bad spec
    still fails before any estimation."""
    Evaluation.build(data, spec, truth)
    first = [s for s in steps if s[0] == "table" and s[1] in OFFLOAD]
    groups = [first, [s for s in steps if s not in first]]
    ctx = multiprocessing.get_context("spawn")
    built: dict[tuple[str, str], Built] = {}
    manager = ctx.Manager() if progress else contextlib.nullcontext()
    with manager as mgr, ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        events = mgr.Queue() if progress else None
        emit = events.put if progress else None
        with _single_threaded_blas():  # the children start at submit and read it then
            futures = [pool.submit(build_steps, data, spec, truth, g, steps, emit) for g in groups]
        if progress:
            Progress(len(steps)).drain(events, until=lambda: _settled(futures))
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:  # report the first error now, not after the other process finishes
            pool.shutdown(wait=False, cancel_futures=True)
            raise failed[0].exception()
        for f in futures:
            built.update(f.result())
    return built


@contextlib.contextmanager
def _single_threaded_blas() -> Any:
    """Environment of a child process: one BLAS/OpenMP thread, so two processes on two
    cores do not oversubscribe them (measured: 2.5x slower otherwise)."""
    import os

    keys = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _settled(futures: list) -> bool:
    """All done, or one failed (its error is raised at once)."""
    return all(f.done() for f in futures) or any(
        f.done() and f.exception() is not None for f in futures
    )
