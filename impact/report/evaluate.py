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
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from impact.errors import InvalidOptionError, close_matches_hint
from impact.report import (
    descriptive_tables,
    heterogeneity,
    main_tables,
    productivity_table,
    report_figures,
    robustness,
    selection_tables,
    spillovers,
)
from impact.report.evaluation import FIGURE_BUILDERS, TABLE_BUILDERS, Evaluation
from impact.report.html import report_html
from impact.report.provenance import data_sha256, git_commit, write_json
from impact.report.spec import Spec
from impact.report.table import Table

__all__ = ["EvaluationReport", "evaluate"]

_BUILDER_MODULES = (
    descriptive_tables,
    heterogeneity,
    main_tables,
    productivity_table,
    report_figures,
    robustness,
    selection_tables,
    spillovers,
)

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
        self.figures[name].savefig(buf, format=format, dpi=100, metadata=meta)
        return buf.getvalue()

    def write(
        self, directory: str | Path, figure_formats: tuple[str, ...] = ("png", "pdf")
    ) -> list[Path]:
        """Write ``tables/``, ``figures/``, ``report.md``, ``report.html`` and
        ``provenance.json`` into ``directory``; return the written paths."""
        out = Path(directory)
        (out / "tables").mkdir(parents=True, exist_ok=True)
        (out / "figures").mkdir(exist_ok=True)
        written: list[Path] = []
        md = [f"# {self.title}", ""]
        for name, tab in self.tables.items():
            files = tab.render()
            for ext, text in files.items():
                p = out / "tables" / f"{name}{ext}"
                p.write_text(text, encoding="utf-8")
                written.append(p)
            md += [files[".md"], ""]
        pngs = {}
        for name in self.figures:
            for fmt in figure_formats:
                blob = self.figure_bytes(name, fmt)
                p = out / "figures" / f"{name}.{fmt}"
                p.write_bytes(blob)
                written.append(p)
                if fmt == "png":
                    pngs[name] = blob
            md += [f"![{name}](figures/{name}.png)", ""]
        if "png" not in figure_formats:
            pngs = {n: self.figure_bytes(n, "png") for n in self.figures}
        files = {
            "report.md": "\n".join(md),
            "report.html": report_html(
                self.title, list(self.tables.values()), pngs, self.provenance
            ),
        }
        for fname, text in files.items():
            (out / fname).write_text(text, encoding="utf-8")
            written.append(out / fname)
        write_json(out / "provenance.json", self.provenance)
        written.append(out / "provenance.json")
        return written


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

    Returns
    -------
    EvaluationReport

    Raises
    ------
    ColumnNotFoundError
        The spec names a column the data lack (before any estimation).
    InvalidOptionError
        Unknown table or figure names.
    """
    spec = spec if spec is not None else Spec()
    _check_names(spec.tables, TABLE_BUILDERS, "tables")
    _check_names(spec.figures, FIGURE_BUILDERS, "figures")
    if "production" in spec.tables and spec.production is None:
        raise InvalidOptionError("table 'production' needs the spec's [production] block.")
    ev = Evaluation.build(data, spec, truth)
    caught: dict[str, list[str]] = {}
    steps = [("table", n, TABLE_BUILDERS[n]) for n in spec.tables]
    steps += [("figure", n, FIGURE_BUILDERS[n]) for n in spec.figures]
    tables: dict[str, Table] = {}
    figures: dict[str, Any] = {}
    for k, (kind, name, build) in enumerate(steps, 1):
        start = time.perf_counter()
        style = report_figures.figure_style() if kind == "figure" else contextlib.nullcontext()
        with warnings.catch_warnings(record=True) as rec, style:
            warnings.simplefilter("always")
            made = build(ev)
        msgs = sorted({f"{w.category.__name__}: {w.message}" for w in rec})
        if msgs:
            caught[f"{kind} {name}"] = msgs
        if kind == "table":
            tables[name] = made
        else:
            figures.update(made)
        if progress:
            print(
                f"[{k}/{len(steps)}] {kind} {name}: {time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    import impact

    prov = {
        "impact_version": impact.__version__,
        "git_commit": git_commit(),
        "seed": spec.seed,
        "data_sha256": data_sha256(data),
        "spec": spec.to_dict(),
        "warnings": caught,
        "versions": _versions(),
    }
    return EvaluationReport(title, tables, figures, spec, prov)


def _versions() -> dict[str, str]:
    import matplotlib
    import numpy
    import scipy

    return {
        "matplotlib": matplotlib.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "python": sys.version.split()[0],
        "scipy": scipy.__version__,
    }
