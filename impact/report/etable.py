"""``etable``: side-by-side regression tables (DataFrame, Markdown, LaTeX, HTML)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from impact._typing import TableFormat
from impact.errors import InvalidOptionError
from impact.report.escape import html_escape, latex_escape, markdown_escape, markdown_paragraph
from impact.results.protocol import ModelInfo, ResultProtocol

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


def _coefficients(m: Any) -> tuple[dict[str, tuple[float, float, float]], ModelInfo]:
    """Estimate, SE and p-value by term, and the model information, of one result."""
    if not isinstance(m, ResultProtocol):
        raise InvalidOptionError(
            f"etable takes impact results (feols, fepois, att_gt and its aggregations, "
            f"event_study, etwfe, prodest, tfp_did), got {type(m).__name__}."
        )
    t = m.tidy()
    coefs = {
        str(term): (float(e), float(s), float(p))
        for term, e, s, p in zip(
            t["term"], t["estimate"], t["std_error"], t["p_value"], strict=True
        )
    }
    return coefs, m.model_info()


def _table(
    models: Sequence[Any],
    digits: int,
    stars: Sequence[tuple[float, str]],
    labels: Mapping[str, str],
    keep: Sequence[str] | None,
) -> tuple[pd.DataFrame, int, int]:
    cols = [f"({j + 1})" for j in range(len(models))]
    fits = [_coefficients(m) for m in models]
    terms: list[str] = []
    for coefs, _ in fits:
        for t in coefs:
            if t not in terms and (keep is None or t in keep):
                terms.append(t)
    shown = [labels.get(t, t) for t in terms]
    twice = sorted({n for n in shown if shown.count(n) > 1})
    if twice:
        raise InvalidOptionError(
            f"labels show two terms as {twice[0]!r}; give each term its own label."
        )
    index = ["Dependent variable"]
    rows: list[list[str]] = [[info.depvar for _, info in fits]]
    for t, name in zip(terms, shown, strict=True):
        est_row, se_row = [], []
        for coefs, _ in fits:
            if t in coefs:
                est, se, p = coefs[t]
                est_row.append(_fmt(est, digits) + _stars(p, stars))
                se_row.append(f"({_fmt(se, digits)})")
            else:
                est_row.append("")
                se_row.append("")
        index += [name, name + " "]
        rows += [est_row, se_row]
    n_coef_rows = len(index)
    fes: list[str] = []
    for _, info in fits:
        for f in info.fixef:
            if f not in fes:
                fes.append(f)
    for f in fes:
        index.append(f"FE: {labels.get(f, f)}")
        rows.append(["Yes" if f in info.fixef else "No" for _, info in fits])
    index.append("Observations")
    rows.append([f"{info.nobs:,}" for _, info in fits])
    stats = [("R2", "r2", True), ("Within R2", "r2_within", bool(fes))]
    stats.append(("Pseudo R2", "pseudo_r2", True))
    for label, key, show in stats:
        if show and any(key in info.stats for _, info in fits):
            index.append(label)
            rows.append([_fmt(info.stats.get(key, float("nan")), digits) for _, info in fits])
    index += ["Std. errors", "Clusters", "SSC"]
    rows.append([info.vcov_label for _, info in fits])
    rows.append([", ".join(f"{k}: {v:,}" for k, v in info.clusters.items()) for _, info in fits])
    rows.append([info.ssc for _, info in fits])
    df = pd.DataFrame(rows, index=index, columns=cols)
    return df, n_coef_rows, len(index)


def _is_se_row(j: int, n_coef: int) -> bool:
    """Standard-error rows follow each estimate row (positions 2, 4, … of the term block)."""
    return 0 < j < n_coef and j % 2 == 0


def _note(stars: Sequence[tuple[float, str]]) -> str:
    marks = "; ".join(f"{m} p<{c:g}" for c, m in stars)
    return f"Standard errors in parentheses. {marks}."


def _markdown(df: pd.DataFrame, n_coef: int, note: str) -> str:
    head = "| | " + " | ".join(markdown_escape(c) for c in df.columns) + " |"
    sep = "|---|" + "|".join(":---:" for _ in df.columns) + "|"
    body = [
        "| "
        + ("" if _is_se_row(j, n_coef) else markdown_escape(str(i)))
        + " | "
        + " | ".join(markdown_escape(c) for c in r)
        + " |"
        for j, (i, r) in enumerate(zip(df.index, df.to_numpy().tolist(), strict=True))
    ]
    return "\n".join([head, sep, *body, "", markdown_paragraph(note)]) + "\n"


#: An estimate cell: a formatted number followed by its significance marks.
_MARKED = re.compile(r"^(-?[0-9][0-9.,]*)(\*{1,3})$")


def _latex_cell(cell: str) -> str:
    """Escape a cell; significance marks after a number become superscripts."""
    m = _MARKED.match(cell)
    if m is None:
        return latex_escape(cell)
    return m.group(1) + "$^{" + m.group(2) + "}$"


def _latex(df: pd.DataFrame, n_coef: int, note: str) -> str:
    ncol = len(df.columns)
    lines = [
        r"\begin{tabular}{l" + "c" * ncol + "}",
        r"\toprule",
        " & " + " & ".join(latex_escape(c) for c in df.columns) + r" \\",
        r"\midrule",
    ]
    for j, (i, r) in enumerate(zip(df.index, df.to_numpy().tolist(), strict=True)):
        label = "" if _is_se_row(j, n_coef) else latex_escape(str(i))
        cells = [_latex_cell(c) for c in r]
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
    out += [f"<th>{html_escape(c)}</th>" for c in df.columns]
    out.append("</tr></thead><tbody>")
    for j, (i, r) in enumerate(zip(df.index, df.to_numpy().tolist(), strict=True)):
        label = "" if _is_se_row(j, n_coef) else html_escape(str(i))
        style = ' style="border-top:1px solid"' if j in (1, n_coef) else ""
        out.append(
            f"<tr{style}><td>{label}</td>"
            + "".join(f"<td>{html_escape(c)}</td>" for c in r)
            + "</tr>"
        )
    span = len(df.columns) + 1
    out.append(f'</tbody><tfoot><tr><td colspan="{span}">{html_escape(note)}</td></tr></tfoot>')
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
        Any impact result (the result protocol: ``tidy()`` and ``model_info()``): feols,
        fepois, att_gt and its aggregations, event_study, etwfe and its aggregations,
        prodest, tfp_did. DiD effects line up with regressions by term name: ``ATT``
        for an overall effect, ``rel_time::k`` for event time ``k``.
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

    Examples
    --------
    Wooldridge's Example 14.1 with the usual and firm-clustered standard errors: column (1) is the
    book's -0.252 (0.151) and -0.422 (0.210); column (2) is pyfixest's clustered fit.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["lscrap"])
    >>> formula = "lscrap ~ d88 + d89 + grant + grant_1 | fcode"
    >>> fits = [impact.feols(formula, jtrain),
    ...         impact.feols(formula, jtrain, vcov={"cluster": "fcode"})]
    >>> table = impact.etable(fits, keep=["grant", "grant_1"])
    >>> print(table.iloc[1:5].to_string())
                  (1)      (2)
    grant     -0.252*  -0.252*
    grant     (0.151)  (0.143)
    grant_1  -0.422**   -0.422
    grant_1   (0.210)  (0.282)
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
        return _markdown(df, n_coef, note)
    if format == "latex":
        return _latex(df, n_coef, note)
    if format == "html":
        return _html(df, n_coef, note)
    raise InvalidOptionError(
        f"format={format!r} is not known; use 'dataframe', 'markdown', 'latex' or 'html'."
    )
