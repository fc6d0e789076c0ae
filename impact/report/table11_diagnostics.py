"""Report table 11: what static TWFE averages — Goodman-Bacon shares by comparison type,
the gap to Callaway-Sant'Anna, and de Chaisemartin-D'Haultfœuille negative weights.

For the first outcome of every family. Both diagnostics decompose
``outcome ~ member | firm + year`` on members and the report's controls (the static TWFE
of table 5 without its sector-by-year effects, which the decompositions do not allow);
the Bacon decomposition needs a balanced panel and uses the firms observed in every year.
Every number is one call through the evaluation context.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.diagnostics.bacon_weights import TYPES
from impact.errors import ImpactError
from impact.report.evaluation import Evaluation
from impact.report.frames import counts_frame
from impact.report.report_figures import panel_grid
from impact.report.table import Table
from impact.results.diagnostic_plots import plot_bacon

__all__ = ["diagnostics", "figure_bacon", "table_diagnostics"]


def _row(ev: Evaluation, family: str, outcome: str) -> dict:
    row: dict[str, object] = {"family": family, "outcome": outcome}
    weights = ev.twfe_weights(outcome)
    s = weights.summary_of_weights
    simple = ev.att_gt(outcome).aggregate("simple")
    row.update(
        {
            "twfe": weights.beta, "cs_simple": simple.estimate,
            "twfe_minus_cs": weights.beta - simple.estimate,
            "treated_obs": len(weights.cells), "negative_weights": s.n_negative,
            "sum_negative_weights": s.sum_negative, "sigma_fe": weights.sigma_fe,
            "sigma_sign_change": weights.sigma_sign_change,
        }
    )  # fmt: skip
    try:
        dec = ev.bacon(outcome)
    except ImpactError as exc:  # e.g. no firm observed in every year
        row["bacon_note"] = str(exc)
        return row
    by = dec.by_type.set_index("type")
    row.update({"bacon_firms": dec.n_units, "bacon_twfe": dec.twfe, "bacon_note": ""})
    for kind in TYPES:
        ok = kind in by.index
        row[f"weight: {kind}"] = float(by.loc[kind, "weight"]) if ok else 0.0
        row[f"estimate: {kind}"] = float(by.loc[kind, "estimate"]) if ok else np.nan
    return row


def diagnostics(ev: Evaluation) -> pd.DataFrame:
    """Table 11 as a tidy frame: one row per family's first outcome."""
    rows = [_row(ev, fam.name, fam.outcomes[0]) for fam in ev.spec.families if fam.outcomes]
    return counts_frame(rows, ("treated_obs", "negative_weights", "bacon_firms"))


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Measures down, one column per outcome."""
    shown = {
        "twfe": "TWFE (firm + year)", "cs_simple": "Callaway-Sant'Anna (simple)",
        "twfe_minus_cs": "TWFE - CS", "negative_weights": "negative weights (count)",
        "sum_negative_weights": "negative weights (sum)", "sigma_fe": "sigma_fe",
        "sigma_sign_change": "sigma for a sign change", "bacon_firms": "Bacon: balanced firms",
        "bacon_twfe": "Bacon: TWFE on them",
        **{f"weight: {k}": f"Bacon weight: {k}" for k in TYPES},
        **{f"estimate: {k}": f"Bacon estimate: {k}" for k in TYPES},
    }  # fmt: skip
    cols = [c for c in shown if c in frame.columns]
    out = pd.DataFrame({"measure": [shown[c] for c in cols]})
    for _, r in frame.iterrows():
        out[r["outcome"]] = [_cell(r[c]) for c in cols]
    return out


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):.4f}"


def table_diagnostics(ev: Evaluation) -> Table:
    """Table 11: Bacon decomposition, the TWFE-CS gap and negative weights of static TWFE."""
    frame = diagnostics(ev)
    notes = "; ".join(
        f"{o}: {n}"
        for o, n in zip(frame["outcome"], frame.get("bacon_note", []), strict=False)
        if n
    )
    note = (
        "Static TWFE of the outcome on membership with firm and year effects, on members and "
        "the report's controls (table 5's static TWFE also absorbs sector-by-year effects, "
        "which the decompositions do not allow). Callaway-Sant'Anna: the simple aggregation "
        "(table 5's CS row averages event times instead). Negative weights: de Chaisemartin "
        "& D'Haultfœuille (2020) weights of TWFE on treated firm-years; sigma_fe is the "
        "smallest dispersion of firm-year effects under which the average effect could be "
        "zero, the sign-change sigma the smallest under which every effect could have the "
        "other sign (empty without negative weights). Bacon: Goodman-Bacon (2021) shares "
        "and estimates of the 2x2 comparisons on the firms observed in every year "
        "(the decomposition needs a balanced panel); 'later vs earlier treated' compares "
        "joiners with firms that joined before, whose own effects may still change. "
        "docs/diagnostics.md explains how to read them."
        + (f" Not computed: {notes}." if notes else "")
    )
    return Table(
        "diagnostics", "Table 11: what static TWFE averages", (), note, {},
        frame=frame, display=_display(frame) if not frame.empty else None,
    )  # fmt: skip


def figure_bacon(ev: Evaluation) -> dict[str, Any]:
    """Goodman-Bacon scatter (2x2 estimate against weight, by type) of each family's first
    outcome, on the firms observed in every year (as table 11)."""
    decs = []
    for fam in ev.spec.families:
        if not fam.outcomes:
            continue
        try:
            decs.append((fam.outcomes[0], ev.bacon(fam.outcomes[0])))
        except ImpactError:  # table 11's note says why
            continue
    if not decs:
        return {}
    fig, axes = panel_grid(len(decs), 3, 4.3, 3.5)
    for ax, (outcome, dec) in zip(axes, decs, strict=True):
        plot_bacon(dec.pairs, dec.twfe, ax=ax)
        ax.set_title(outcome)
    fig.tight_layout()
    return {"bacon": fig}
