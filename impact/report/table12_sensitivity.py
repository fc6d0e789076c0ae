"""Report table 12 and its figure: how large a violation of parallel trends would overturn
each family's headline effect (HonestDiD, Rambachan & Roth 2023).

For the first outcome of every family with an event-study headline estimator, the target
is the average effect over event times 0 .. the window's end (table 5's event-study
rows). Relative magnitudes (``Mbar``: post-period changes of the violation at most
``Mbar`` times the largest pre-period change, ARP hybrid sets) give the breakdown value
and the sets at ``Mbar`` = 0.5, 1, 2; smoothness at ``M = 0`` (the pre-trend continues
linearly, FLCI) gives a second reading. Every number is one call through the evaluation
context.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.errors import ImpactError
from impact.report.evaluation import LABELS, Evaluation
from impact.report.headline import EVENT_ESTIMATORS, primary_estimator
from impact.report.report_figures import panel_grid
from impact.report.table import Table

__all__ = ["figure_sensitivity", "sensitivity", "table_sensitivity"]

#: Relative-magnitude bounds shown in the table (the figure shows all of them).
TABLE_MBAR = (0.5, 1.0, 2.0)


def _headlines(ev: Evaluation) -> list[tuple[str, str, str]]:
    """(family, outcome, estimator) of every family with an event-study headline."""
    out = []
    for fam in ev.spec.families:
        key = primary_estimator(fam)
        if fam.outcomes and key is not None:
            out.append((fam.name, fam.outcomes[0], EVENT_ESTIMATORS[key]))
    return out


def _label(estimator: str) -> str:
    """The event-study estimator's label (TWFE here is the event study, not static)."""
    return LABELS["event_twfe"] if estimator == "twfe" else LABELS.get(estimator, estimator)


def _row(ev: Evaluation, family: str, outcome: str, estimator: str) -> dict:
    row: dict[str, object] = {"family": family, "outcome": outcome, "estimator": estimator}
    try:
        rm = ev.honest_did(outcome, estimator, "relative_magnitude")
        sd = ev.honest_did(outcome, estimator, "smoothness")
    except ImpactError as exc:  # e.g. no pre-period or a singular covariance
        row["note"] = str(exc)
        return row
    original = rm.table.iloc[0]
    row.update(
        {
            "estimate": original["estimate"], "lower": original["lower"],
            "upper": original["upper"], "breakdown_mbar": rm.breakdown,
            "breakdown_mbar_reading": _short(rm.breakdown_reading), "note": "",
        }
    )  # fmt: skip
    robust = rm.table[rm.table["Mbar"].notna()].set_index("Mbar")
    for mbar in TABLE_MBAR:
        row[f"mbar_{mbar:g}_lower"] = float(robust.loc[mbar, "lower"])
        row[f"mbar_{mbar:g}_upper"] = float(robust.loc[mbar, "upper"])
    flci = sd.table[sd.table["M"].notna()].iloc[0]
    row.update(
        {
            "m0_lower": flci["lower"], "m0_upper": flci["upper"], "breakdown_m": sd.breakdown,
            "breakdown_m_reading": _short(sd.breakdown_reading),
        }
    )  # fmt: skip
    return row


def sensitivity(ev: Evaluation) -> pd.DataFrame:
    """Table 12 as a tidy frame: one row per family's headline outcome."""
    return pd.DataFrame([_row(ev, *h) for h in _headlines(ev)])


def _interval(lo: float, hi: float) -> str:
    """An interval, or 'empty' (the data reject the restriction itself)."""
    return "empty" if np.isnan(lo) else f"[{lo:.4f}, {hi:.4f}]"


def _short(reading: str) -> str:
    """The breakdown's reading without the resolution (the note states it)."""
    return reading.split(" (resolution")[0]


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Measures down, one column per outcome."""
    measures = ["estimator", "average effect, event times 0+", "original 95% CI",
                "breakdown Mbar (relative magnitudes)",
                *[f"95% set, Mbar = {m:g}" for m in TABLE_MBAR],
                "95% FLCI, M = 0 (linear pre-trend continues)",
                "breakdown M (smoothness)"]  # fmt: skip
    out = pd.DataFrame({"measure": measures})
    for _, r in frame.iterrows():
        if r.get("note"):
            out[r["outcome"]] = [_label(r["estimator"])] + [""] * (len(measures) - 1)
            continue
        out[r["outcome"]] = [
            _label(r["estimator"]), f"{r['estimate']:.4f}",
            _interval(r["lower"], r["upper"]), r["breakdown_mbar_reading"],
            *[_interval(r[f"mbar_{m:g}_lower"], r[f"mbar_{m:g}_upper"]) for m in TABLE_MBAR],
            _interval(r["m0_lower"], r["m0_upper"]), r["breakdown_m_reading"],
        ]  # fmt: skip
    return out


def table_sensitivity(ev: Evaluation) -> Table:
    """Table 12: HonestDiD sensitivity of each family's headline event-study effect."""
    frame = sensitivity(ev)
    notes = "; ".join(
        f"{o}: {n.rstrip('.')}" for o, n in zip(frame.get("outcome", []), frame.get("note", []),
                                                strict=False) if n
    )  # fmt: skip
    covered = {f for f, _, _ in _headlines(ev)}
    skipped = [f.name for f in ev.spec.families if f.name not in covered]
    twfe = "twfe" in set(frame.get("estimator", []))
    note = (
        "Rambachan & Roth (2023) sensitivity of the average effect over event times 0 to the "
        "window's end of each family's headline event study (first outcome). Relative "
        "magnitudes: no post-period change of the parallel-trends violation exceeds Mbar "
        "times the largest pre-period change (Mbar = 1: as large as the worst pre-period "
        "change); 95% sets by the ARP conditional-least-favourable hybrid test; the "
        "breakdown Mbar is the largest at which the set excludes 0 (resolution 1%). "
        "Smoothness: the violation's slope changes by at most M per period; at M = 0 the "
        "pre-trend continues linearly (optimal FLCI). 'none' says why there is no breakdown "
        "value. docs/diagnostics.md explains how to "
        "read them."
        + (
            " The TWFE event study pools the event times beyond the window into its end "
            "points, so its first pre-period change and last post-period effect are not single "
            "periods: read its row with care."
            if twfe
            else ""
        )
        + (f" Not computed: {notes}." if notes else "")
        + (f" No event-study estimator, so no row: {', '.join(skipped)}." if skipped else "")
    )
    return Table(
        "sensitivity", "Table 12: how large a violation of parallel trends overturns the "
        "headline effect", (), note, {}, frame=frame,
        display=_display(frame) if not frame.empty else None,
    )  # fmt: skip


def figure_sensitivity(ev: Evaluation) -> dict[str, Any]:
    """HonestDiD figure: relative-magnitude sets against Mbar for each family's headline
    outcome (as table 12), the original interval at the left."""
    results = []
    for _family, outcome, estimator in _headlines(ev):
        try:
            results.append((outcome, ev.honest_did(outcome, estimator, "relative_magnitude")))
        except ImpactError:  # table 12's note says why
            continue
    if not results:
        return {}
    fig, axes = panel_grid(len(results), 2, 5.0, 3.6)
    for ax, (outcome, res) in zip(axes, results, strict=True):
        res.plot(ax=ax)
        ax.set_title(outcome)
    fig.tight_layout()
    return {"sensitivity": fig}
