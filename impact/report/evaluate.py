"""``impact.evaluate``: a cluster-policy evaluation report from a firm panel and a spec.

The spec names the columns, the outcome families and their estimators, the controls and
the tables and figures; :func:`evaluate` validates it against the data before any
estimation, fits every estimator once (tables and figures share fits) and returns an
:class:`EvaluationReport`, whose :meth:`~EvaluationReport.write` writes tables (LaTeX,
Markdown, HTML, CSV), figures (PNG, PDF), a self-contained ``report.html`` and a
provenance sidecar. Same data, spec and seed: same bytes.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from impact._version import __version__
from impact.errors import InvalidOptionError, OutputPathError, SpecError, close_matches_hint
from impact.report.escape import markdown_escape
from impact.report.evaluation import Evaluation
from impact.report.html import report_html
from impact.report.labels import figure_caption
from impact.report.outputs import OutputFolder, file_stem
from impact.report.progress import Progress, StepEvent
from impact.report.provenance import data_sha256, git_commit, json_text
from impact.report.publish import publish, staging_folder
from impact.report.registry import FIGURE_BUILDERS, TABLE_BUILDERS
from impact.report.report_figures import figure_style
from impact.report.spec import Spec
from impact.report.spec_check import check_data
from impact.report.table import Table

__all__ = ["OFFLOAD", "EvaluationReport", "evaluate"]

#: Resolution of the report's PNG figures (print quality).
FIGURE_DPI = 200


#: Tables that share no fits with the others and cost most: built in a second process
#: when ``workers > 1``.
OFFLOAD = ("production",)

#: Metadata cleared from saved figures so the same figure gives the same bytes.
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


@dataclass(frozen=True, eq=False)
class EvaluationReport:
    """Every table (tidy DataFrames) and figure of an evaluation, with its provenance.

    Attributes
    ----------
    title : str
    tables : dict of str to Table
        In the spec's order; ``report.table(name)`` gives the tidy frame.
    figures : dict of str to matplotlib Figure
    spec : Spec
    provenance : dict
        Package version, git commit, input data SHA-256, seed, spec, warnings raised by
        the estimators (with the table or figure they came from).

    Examples
    --------
    The main table of R did's minimum-wage county panel: its Callaway-Sant'Anna row is the R did
    vignette's dynamic aggregation, -0.0772. ``write`` saves every output (here in a temporary
    folder).

    >>> import tempfile, impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> spec = impact.Spec.from_dict({
    ...     "columns": {"unit": "countyreal", "time": "year", "cohort": "first.treat"},
    ...     "families": {"jobs": {"outcomes": ["lemp"], "scale": "log", "estimators": ["cs"]}},
    ...     "control": "never", "window": [-4, 3], "tables": ["main"], "figures": []})
    >>> report = impact.evaluate(mpdta, spec)
    >>> list(report.tables), f"{report.table('main').loc[0, 'estimate']:.4f}"
    (['main'], '-0.0772')
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sorted(path.name for path in report.write(folder))
    ['main.csv', 'main.html', 'main.md', 'main.tex', 'provenance.json', 'report.html', 'report.md']
    """

    title: str
    tables: dict[str, Table]
    figures: dict[str, Any]
    spec: Spec
    provenance: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        """The tidy frame of one table (e.g. ``"main"``)."""
        if name not in self.tables:
            raise InvalidOptionError(
                f"no table {name!r}; built: {list(self.tables)}."
                + close_matches_hint(name, self.tables)
            )
        return self.tables[name].frame

    def figure_bytes(self, name: str, format: str = "png") -> bytes:
        """A figure rendered to PNG or PDF, without time stamps or software metadata."""
        buf = io.BytesIO()
        meta = PNG_METADATA if format == "png" else PDF_METADATA
        self.figures[name].savefig(buf, format=format, dpi=FIGURE_DPI, metadata=meta)
        return buf.getvalue()

    def write(
        self, directory: str | Path, figure_formats: tuple[str, ...] = ("png", "pdf")
    ) -> list[Path]:
        """Write ``tables/``, ``figures/``, ``report.md``, ``report.html`` and
        ``provenance.json`` into ``directory``; return the written paths.

        File names come from :func:`~impact.report.outputs.file_stem` of the table and
        figure names. The report is written whole into a staging folder beside
        ``directory`` and then published file by file under a manifest
        (:mod:`impact.report.publish`): files of the previous run that this run does not
        write are removed, the user's own files are kept, and an interrupted run never
        leaves two runs mixed without a manifest saying so. ``provenance.json`` adds the
        SHA-256 of every other file written (``outputs``).

        Raises
        ------
        OutputPathError
            A file would land outside ``directory`` (a symbolic link inside it that
            points elsewhere), ``directory`` is a file, or two names share a file name.
        """
        final = OutputFolder.create(directory)
        folder = staging_folder(final)
        try:
            self._write_into(folder, figure_formats)
            published = publish(folder, final)
        finally:
            shutil.rmtree(folder.root, ignore_errors=True)
        return [Path(directory) / p.relative_to(final.root) for p in published]

    def _write_into(self, folder: OutputFolder, figure_formats: tuple[str, ...]) -> None:
        md = [f"# {markdown_escape(self.title)}", ""]
        notes = self.provenance.get("notes") or []
        if notes:  # settings switched off and tables skipped for this data
            md += ["## Notes on this data", "", *(f"- {markdown_escape(n)}" for n in notes), ""]
        stems = _stems(self.tables) | _stems(self.figures)
        for name, tab in self.tables.items():
            files = tab.render()
            for ext, text in files.items():
                folder.write("tables", stems[name] + ext, data=text)
            md += [files[".md"], ""]
        pngs = {}
        for number, name in enumerate(self.figures, start=1):
            for fmt in figure_formats:
                blob = self.figure_bytes(name, fmt)
                folder.write("figures", f"{stems[name]}.{fmt}", data=blob)
                if fmt == "png":
                    pngs[name] = blob
            caption = markdown_escape(figure_caption(name, number))
            md += [f"![{caption}](figures/{stems[name]}.png)", "", f"*{caption}*", ""]
        if "png" not in figure_formats:
            pngs = {n: self.figure_bytes(n, "png") for n in self.figures}
        folder.write("report.md", data="\n".join(md))
        html = report_html(self.title, list(self.tables.values()), pngs, self.provenance)
        folder.write("report.html", data=html)
        record = {**self.provenance, "outputs": dict(folder.written)}
        folder.write("provenance.json", data=json_text(record))


def _stems(items: Mapping[str, Any]) -> dict[str, str]:
    """File-name stems of table or figure names; two names with one stem (up to case, as
    on macOS and Windows file systems) are an error."""
    stems = {name: file_stem(name) for name in items}
    seen: dict[str, str] = {}
    for name, stem in stems.items():
        if stem.casefold() in seen:
            raise OutputPathError(
                f"{seen[stem.casefold()]!r} and {name!r} would both be written as {stem!r}; "
                "rename one."
            )
        seen[stem.casefold()] = name
    return stems


def _check_names(names: tuple[str, ...], known: Mapping[str, Any], what: str) -> None:
    bad = [n for n in names if n not in known]
    if bad:
        raise InvalidOptionError(
            f"unknown {what} {bad}; known: {sorted(known)}." + close_matches_hint(bad[0], known)
        )


def evaluate(
    data: pd.DataFrame,
    spec: Spec | None = None,
    *,
    truth: Any = None,
    title: str = "Cluster policy evaluation",
    progress: bool = False,
    workers: int = 1,
) -> EvaluationReport:
    """Build the evaluation report of ``spec`` on ``data``.

    Parameters
    ----------
    data : DataFrame
        Firm-year panel in the documented schema (column names mapped by
        ``spec.columns``); never modified.
    spec : Spec, optional
        Default ``Spec()``: the shipped report (``replication/config.toml``).
    truth : ClusterTruth or mapping, optional
        The generator's truth (:func:`impact.datasets.load_truth` or the second value of
        :func:`impact.datasets.cluster_panel`): shown beside the estimates.
    title : str
    progress : bool
        Print one line per table and figure group to stderr.
    workers : int
        Processes: 1 (default) builds everything here.
        With 2 or more (and the production table among several steps), two fresh
        single-threaded processes build the report: one the
        costliest independent tables (:data:`OFFLOAD`: the production-function
        bootstraps), the other the rest: about 48 s instead of 55 s for the shipped
        report on two cores. The numbers equal ``workers=1``'s up to the summation order
        of multithreaded BLAS (tested); runs with the same ``workers`` give the same
        bytes, and single-threaded children make them independent of the core count.
        Scripts that pass ``workers > 1`` need the ``if __name__ == "__main__":``
        guard (the processes are started with multiprocessing's "spawn").

    Returns
    -------
    EvaluationReport

    Raises
    ------
    SpecError
        The spec names columns the data lack, or tables and figures whose column roles
        are absent: every problem at once, before any estimation. Settings left at their
        defaults whose columns are absent are switched off instead, and tables that need
        them skipped, each with a line in ``provenance["notes"]`` and the report
        (:func:`impact.report.spec_fit.fit_spec`). The data checks of ``impact spec
        check`` run too (:func:`impact.report.spec_check.check_data`: identifiers,
        duplicates, the time column, cohorts, outcomes against their scale).
    InvalidOptionError
        Unknown table or figure names.

    Examples
    --------
    The report on R did's minimum-wage county panel: its Callaway-Sant'Anna row is the R did
    vignette's dynamic aggregation, -0.0772. Default settings whose columns the data lack (the
    cluster-cell geography, the production function) are switched off with a note.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> spec = impact.Spec.from_dict({
    ...     "columns": {"unit": "countyreal", "time": "year", "cohort": "first.treat"},
    ...     "families": {"jobs": {"outcomes": ["lemp"], "scale": "log", "estimators": ["cs"]}},
    ...     "control": "never", "window": [-4, 3], "tables": ["main"], "figures": []})
    >>> report = impact.evaluate(mpdta, spec, title="Minimum wages and teen employment")
    >>> main = report.table("main")
    >>> main.loc[0, "estimator"], main.loc[0, "effect"], f"{main.loc[0, 'estimate']:.4f}"
    ("Callaway-Sant'Anna", 'ATT', '-0.0772')
    >>> len(report.provenance["notes"]) > 0
    True
    """
    spec = spec if spec is not None else Spec()
    _check_names(spec.tables, TABLE_BUILDERS, "tables")
    _check_names(spec.figures, FIGURE_BUILDERS, "figures")
    problems, fitted = check_data(spec, data)  # every problem at once, before estimation
    if problems or fitted is None:
        raise SpecError(problems)
    spec, notes = fitted.spec, list(fitted.notes)
    if not isinstance(workers, int) or workers < 1:
        raise InvalidOptionError(f"workers must be a positive integer, got {workers!r}.")
    if workers > 1 and multiprocessing.current_process().daemon:
        workers = 1  # a daemonic worker cannot start processes of its own
    steps = [("table", n) for n in spec.tables] + [("figure", n) for n in spec.figures]
    offloaded = any(k == "table" and n in OFFLOAD for k, n in steps)
    if not (offloaded and len(steps) > 1):
        workers = 1  # nothing to build beside the rest
    if workers > 1:
        built = _build_in_processes(data, spec, truth, steps, progress)
    else:
        shown = Progress(len(steps)).show if progress else None
        built = _build_steps(data, spec, truth, steps, steps, shown)
    caught = {
        f"{kind} {name}": built[kind, name][1] for kind, name in steps if built[kind, name][1]
    }
    tables: dict[str, Table] = {n: built["table", n][0] for n in spec.tables}
    figures: dict[str, Any] = {}
    for n in spec.figures:
        figures.update(built["figure", n][0])
    prov = {
        "impact_version": __version__,
        "git_commit": git_commit(),
        "seed": spec.seed,
        "data_sha256": data_sha256(data),
        "spec": spec.to_dict(),
        "warnings": caught,
        "notes": notes,
        "workers": workers,
        "versions": _versions(),
    }
    return EvaluationReport(title, tables, figures, spec, prov)


def _build_step(ev: Evaluation, kind: str, name: str) -> tuple[Any, list[str], float]:
    """Run one builder: (result, warnings raised, seconds)."""
    start = time.perf_counter()
    build = TABLE_BUILDERS[name] if kind == "table" else FIGURE_BUILDERS[name]
    style = figure_style() if kind == "figure" else contextlib.nullcontext()
    with warnings.catch_warnings(record=True) as rec, style:
        warnings.simplefilter("always")
        made = build(ev)
    if isinstance(made, Table) and not ev.truth:  # no truth columns for real data
        made = made.without_truth()
    msgs = sorted({f"{w.category.__name__}: {w.message}" for w in rec})
    return made, msgs, time.perf_counter() - start


def _emit_draws(
    emit: Any, index: int, kind: str, name: str, what: str, done: int, total: int
) -> None:
    """Send a step's bootstrap progress (``what``: which bootstrap) to the display."""
    emit(StepEvent(index, kind, name, draws=what, done=done, total=total))


def _build_steps(
    data: pd.DataFrame,
    spec: Spec,
    truth: Any,
    todo: list[tuple[str, str]],
    steps: list[tuple[str, str]],
    emit: Any,
) -> dict[tuple[str, str], tuple[Any, list[str], float]]:
    """Validate, prepare and run the steps ``todo`` (of all ``steps``, for numbering);
    fits are shared among them. ``emit`` (None, or a callable / a queue's ``put``)
    receives a :class:`StepEvent` when each step starts and ends."""
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


def _build_in_processes(
    data: pd.DataFrame,
    spec: Spec,
    truth: Any,
    steps: list[tuple[str, str]],
    progress: bool,
) -> dict[tuple[str, str], tuple[Any, list[str], float]]:
    """Two fresh single-threaded processes: one builds the :data:`OFFLOAD` tables, the
    other everything else (sharing its fits). Validation runs here first, so a bad spec
    still fails before any estimation."""
    Evaluation.build(data, spec, truth)
    first = [s for s in steps if s[0] == "table" and s[1] in OFFLOAD]
    groups = [first, [s for s in steps if s not in first]]
    ctx = multiprocessing.get_context("spawn")
    built: dict[tuple[str, str], tuple[Any, list[str], float]] = {}
    manager = ctx.Manager() if progress else contextlib.nullcontext()
    with manager as mgr, ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        events = mgr.Queue() if progress else None
        emit = events.put if progress else None
        with _single_threaded_blas():  # the children start at submit and read it then
            futures = [pool.submit(_build_steps, data, spec, truth, g, steps, emit) for g in groups]
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


#: The installed distributions whose versions the provenance records.
DEPENDENCIES = ("linearmodels", "matplotlib", "numpy", "pandas", "scipy", "seaborn",
                "statsmodels")  # fmt: skip


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in DEPENDENCIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
