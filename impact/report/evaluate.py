"""``impact.evaluate``: a cluster-policy evaluation report from a firm panel and a spec.

The spec names the columns, the outcome families and their estimators, the controls and
the tables and figures; :func:`evaluate` validates it against the data before any
estimation, fits every estimator once (tables and figures share fits) and returns an
:class:`EvaluationReport`, whose :meth:`~EvaluationReport.write` writes tables (LaTeX,
Markdown, HTML, CSV), figures (PNG, PDF), a self-contained ``report.html`` and a
provenance sidecar. Same data, spec and seed: same bytes.
"""

from __future__ import annotations

import io
import multiprocessing
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from impact.engine.base import Engine
from impact.engine.choose import choose_engine
from impact.errors import InvalidOptionError, OutputPathError, SpecError, close_matches_hint
from impact.report.build import OFFLOAD, build_in_processes, build_steps
from impact.report.engine_check import check_source
from impact.report.engine_input import engine_input, engine_note
from impact.report.escape import markdown_escape
from impact.report.html import report_html
from impact.report.labels import figure_caption
from impact.report.outputs import OutputFolder, file_stem
from impact.report.progress import Progress
from impact.report.provenance import json_text, report_provenance, source_sha256
from impact.report.publish import publish, staging_folder
from impact.report.registry import FIGURE_BUILDERS, TABLE_BUILDERS
from impact.report.spec import Spec
from impact.report.spec_check import check_data
from impact.report.table import Table

__all__ = ["FIGURE_DPI", "OFFLOAD", "EvaluationReport", "evaluate"]

#: Resolution of the report's PNG figures (print quality).
FIGURE_DPI = 200


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
    data: Any,
    spec: Spec | None = None,
    *,
    truth: Any = None,
    title: str = "Cluster policy evaluation",
    progress: bool = False,
    workers: int = 1,
    engine: str | Engine | None = None,
) -> EvaluationReport:
    """Build the evaluation report of ``spec`` on ``data``.

    Parameters
    ----------
    data : DataFrame, Parquet path or glob, DuckDB relation, pyarrow or polars frame
        Firm-year panel in the documented schema (column names mapped by
        ``spec.columns``); never modified. Anything but a pandas frame is held by a query
        engine (see ``engine``).
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
    engine : {None, "numpy", "duckdb"} or Engine
        Where the panel is held (:func:`impact.engine.choose_engine`): ``None`` keeps a
        frame in memory and runs anything else in DuckDB. On an engine the checks, the
        counts of tables 5 and 6, ATT(g,t), static TWFE and the event studies that have an
        engine path (all without sector-by-year effects) run in the engine; the tables
        whose estimators have none read the spec's columns into memory once, and
        ``provenance["notes"]`` says which (docs/engines.md). ``workers`` is then 1.

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
    if not isinstance(workers, int) or workers < 1:
        raise InvalidOptionError(f"workers must be a positive integer, got {workers!r}.")
    chosen = choose_engine(data, engine)
    if chosen is not None:  # the views and tables it makes are dropped when it returns
        with chosen.scope():
            return _evaluate_on_engine(chosen, data, spec, truth, title, progress)
    problems, fitted = check_data(spec, data)  # every problem at once, before estimation
    if problems or fitted is None:
        raise SpecError(problems)
    spec, notes = fitted.spec, list(fitted.notes)
    if workers > 1 and multiprocessing.current_process().daemon:
        workers = 1  # a daemonic worker cannot start processes of its own
    steps = [("table", n) for n in spec.tables] + [("figure", n) for n in spec.figures]
    offloaded = any(k == "table" and n in OFFLOAD for k, n in steps)
    if not (offloaded and len(steps) > 1):
        workers = 1  # nothing to build beside the rest
    if workers > 1:
        built = build_in_processes(data, spec, truth, steps, progress)
    else:
        shown = Progress(len(steps)).show if progress else None
        built = build_steps(data, spec, truth, steps, steps, shown)
    return _report(title, spec, built, report_provenance(data, spec, built, steps, notes, workers))


def _evaluate_on_engine(
    engine: Engine, data: Any, spec: Spec, truth: Any, title: str, progress: bool
) -> EvaluationReport:
    """:func:`evaluate` on a panel held by a query engine (one process: the engine has
    its own threads)."""
    problems, fitted = check_source(engine, engine.source(data), spec)  # all at once
    if problems or fitted is None:
        raise SpecError(problems)
    spec = fitted.spec
    source = engine_input(engine, data, spec)
    steps = [("table", n) for n in spec.tables] + [("figure", n) for n in spec.figures]
    shown = Progress(len(steps)).show if progress else None
    built = build_steps(source, spec, truth, steps, steps, shown)
    read = [f"{k} {n}" for k, n in steps if built[k, n][3]]
    notes = [*fitted.notes, engine_note(source, read)]
    prov = report_provenance(source.raw, spec, built, steps, notes, 1)
    prov["data_sha256"] = source_sha256(source.raw)
    return _report(title, spec, built, prov)


def _report(title: str, spec: Spec, built: dict, prov: dict[str, Any]) -> EvaluationReport:
    tables: dict[str, Table] = {n: built["table", n][0] for n in spec.tables}
    figures: dict[str, Any] = {}
    for n in spec.figures:
        figures.update(built["figure", n][0])
    return EvaluationReport(title, tables, figures, spec, prov)
