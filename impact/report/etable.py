"""``etable``: side-by-side regression tables (DataFrame, Markdown, LaTeX, HTML)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import TableFormat
from impact.errors import InvalidOptionError
from impact.report.frames import latex_escape

__all__ = ["STARS", "etable"]

#: Significance thresholds and their marks (two-sided p-values).
STARS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.1, "*"))


def _stars(p: float, stars: Sequence[tuple[float, str]]) -> str:
    for cut, mark in stars:
        if p < cut:
            return mark
    return ""


def _fmt(x: float, digits: int) -> str:
    return "" if pd.isna(x) else f"{x:.{digits}f}"


def _table(
    models: Sequence[Any],
    digits: int,
    stars: Sequence[tuple[float, str]],
    labels: Mapping[str, str],
    keep: Sequence[str] | None,
) -> tuple[pd.DataFrame, int, int]:
    cols = [f"({j + 1})" for j in range(len(models))]
    terms: list[str] = []
    for m in models:
        for t in m.coef.index:
            if t not in terms and (keep is None or t in keep):
                terms.append(t)
    rows: dict[str, list[str]] = {"Dependent variable": [m.depvar for m in models]}
    index = ["Dependent variable"]
    for t in terms:
        est_row, se_row = [], []
        for m in models:
            if t in m.coef.index:
                p = float(m.pvalue[t])
                est_row.append(_fmt(float(m.coef[t]), digits) + _stars(p, stars))
                se_row.append(f"({_fmt(float(m.se[t]), digits)})")
            else:
                est_row.append("")
                se_row.append("")
        name = labels.get(t, t)
        rows[name] = est_row
        rows[name + " "] = se_row
        index += [name, name + " "]
    n_coef_rows = len(index)
    fes: list[str] = []
    for m in models:
        for f in m.fixef_names:
            if f not in fes:
                fes.append(f)
    for f in fes:
        key = f"FE: {labels.get(f, f)}"
        rows[key] = ["Yes" if f in m.fixef_names else "No" for m in models]
        index.append(key)
    rows["Observations"] = [f"{m.nobs:,}" for m in models]
    index.append("Observations")

    def _has(attr: str) -> bool:
        return any(np.isfinite(getattr(m, attr, float("nan"))) for m in models)

    if _has("r2"):
        rows["R2"] = [_fmt(getattr(m, "r2", float("nan")), digits) for m in models]
        index.append("R2")
    if fes and _has("r2_within"):
        rows["Within R2"] = [_fmt(getattr(m, "r2_within", float("nan")), digits) for m in models]
        index.append("Within R2")
    if _has("pseudo_r2"):
        rows["Pseudo R2"] = [_fmt(getattr(m, "pseudo_r2", float("nan")), digits) for m in models]
        index.append("Pseudo R2")
    rows["Std. errors"] = [m.vcov_label for m in models]
    rows["Clusters"] = [
        ", ".join(f"{k}: {v:,}" for k, v in m.n_clusters.items()) if m.n_clusters else ""
        for m in models
    ]
    rows["SSC"] = [m.ssc.name if m.ssc is not None else "" for m in models]
    index += ["Std. errors", "Clusters", "SSC"]
    df = pd.DataFrame([rows[i] for i in index], index=index, columns=cols)
    return df, n_coef_rows, len(index)


def _note(stars: Sequence[tuple[float, str]]) -> str:
    marks = "; ".join(f"{m} p<{c:g}" for c, m in stars)
    return f"Standard errors in parentheses. {marks}."


def _markdown(df: pd.DataFrame, note: str) -> str:
    head = "| | " + " | ".join(df.columns) + " |"
    sep = "|---|" + "|".join(":---:" for _ in df.columns) + "|"
    body = [
        "| " + (str(i).strip() if not str(i).endswith(" ") else "") + " | " + " | ".join(r) + " |"
        for i, r in zip(df.index, df.to_numpy().tolist(), strict=True)
    ]
    return "\n".join([head, sep, *body, "", note]) + "\n"


def _latex(df: pd.DataFrame, n_coef: int, note: str) -> str:
    ncol = len(df.columns)
    lines = [
        r"\begin{tabular}{l" + "c" * ncol + "}",
        r"\toprule",
        " & " + " & ".join(df.columns) + r" \\",
        r"\midrule",
    ]
    for j, (i, r) in enumerate(zip(df.index, df.to_numpy().tolist(), strict=True)):
        label = "" if str(i).endswith(" ") else latex_escape(str(i))
        cells = [
            latex_escape(c).replace("***", "$^{***}$") if "*" in c else latex_escape(c) for c in r
        ]
        cells = [c.replace("**", "$^{**}$") if "$" not in c else c for c in cells]
        cells = [c.replace("*", "$^{*}$") if "$" not in c else c for c in cells]
        lines.append(label + " & " + " & ".join(cells) + r" \\")
        if j in (0, n_coef - 1):
            lines.append(r"\midrule")
    lines += [
        r"\bottomrule",
        r"\multicolumn{" + str(ncol + 1) + "}{l}{\\footnotesize " + latex_escape(note) + "}",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def _html(df: pd.DataFrame, n_coef: int, note: str) -> str:
    out = ['<table class="etable">', "<thead><tr><th></th>"]
    out += [f"<th>{html.escape(c)}</th>" for c in df.columns]
    out.append("</tr></thead><tbody>")
    for j, (i, r) in enumerate(zip(df.index, df.to_numpy().tolist(), strict=True)):
        label = "" if str(i).endswith(" ") else html.escape(str(i))
        style = ' style="border-top:1px solid"' if j in (1, n_coef) else ""
        out.append(
            f"<tr{style}><td>{label}</td>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in r)
            + "</tr>"
        )
    span = len(df.columns) + 1
    out.append(f'</tbody><tfoot><tr><td colspan="{span}">{html.escape(note)}</td></tr></tfoot>')
    out.append("</table>")
    return "\n".join(out) + "\n"


def etable(
    models: Any,
    *,
    format: TableFormat = "dataframe",
    digits: int = 3,
    stars: Sequence[tuple[float, str]] = STARS,
    labels: Mapping[str, str] | None = None,
    keep: Sequence[str] | None = None,
) -> pd.DataFrame | str:
    """Regression table of one or more results.

    Parameters
    ----------
    models : result or sequence of results
        Any result with ``coef``, ``se``, ``pvalue``, ``nobs``, ``depvar``,
        ``fixef_names``, ``vcov_label``, ``n_clusters`` and ``ssc``.
    format : {"dataframe", "markdown", "latex", "html"}
    digits : int
        Decimals of estimates and standard errors.
    stars : sequence of (threshold, mark)
        Significance marks by two-sided p-value, tightest first.
    labels : dict, optional
        Display names of terms and fixed effects.
    keep : sequence of str, optional
        Only these terms (in model order).

    Returns
    -------
    DataFrame (``format="dataframe"``) or str
        Rows: estimates with stars, standard errors in parentheses (second row of each
        term), fixed-effect indicators, observations, R², the vcov type, clusters and
        the small-sample preset.
    """
    if not isinstance(models, (list, tuple)):
        models = [models]
    if not models:
        raise InvalidOptionError("etable needs at least one model.")
    df, n_coef, _ = _table(models, digits, stars, labels or {}, keep)
    note = _note(stars)
    if format == "dataframe":
        return df
    if format == "markdown":
        return _markdown(df, note)
    if format == "latex":
        return _latex(df, n_coef, note)
    if format == "html":
        return _html(df, n_coef, note)
    raise InvalidOptionError(
        f"format={format!r} is not known; use 'dataframe', 'markdown', 'latex' or 'html'."
    )
