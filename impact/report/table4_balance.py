"""Report table 4: balance of members and controls before and after reweighting, and the
propensity-score overlap figure that goes with it."""

from __future__ import annotations

from typing import Any

import numpy as np

from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["figure_pscore_overlap", "table_balance"]


def table_balance(ev: Evaluation) -> Table:
    """Table 4: baseline balance of members and controls before and after IPW, overlap."""
    frame, scores = ev.ipw_balance()
    ps = scores.groupby("group")["pscore"]
    lo, hi = ps.min(), ps.max()
    members = scores[scores["group"] == "members"]["pscore"]
    outside = int(((members > hi["controls"]) | (members < lo["controls"])).sum())
    wc = scores.loc[scores["group"] == "controls", "weight"].to_numpy()
    ess = wc.sum() ** 2 / (wc**2).sum()
    note = (
        "Members against the report's controls in the baseline year (as table 3). Weighted "
        "controls: inverse-probability (ATT) weights p/(1-p) from a logit on the listed "
        "characteristics. Standardised differences use the unweighted pooled sd; |d| < 0.1 "
        f"is the usual balance target. Overlap: propensity scores of members range "
        f"{lo['members']:.3f}-{hi['members']:.3f}, of controls {lo['controls']:.3f}-"
        f"{hi['controls']:.3f}; {outside} members lie outside the controls' range. "
        f"Effective number of weighted controls: {ess:,.0f} of {len(wc):,}. Balance on "
        "observables does not remove selection on unobservables (docs/report.md)."
    )
    return Table(
        "balance", "Table 4: balance before and after reweighting", (), note, {}, frame=frame
    )


def figure_pscore_overlap(ev: Evaluation) -> dict[str, Any]:
    """Propensity-score densities of members and controls (overlap), black and white."""
    from impact.report.report_figures import subplots

    _, scores = ev.ipw_balance()
    fig, ax = subplots(figsize=(7, 4))
    bins = np.linspace(0, float(scores["pscore"].max()), 31)
    for group, style in (("members", {"color": "0.2"}), ("controls", {"color": "0.6"})):
        x = scores.loc[scores["group"] == group, "pscore"]
        ax.hist(x, bins=bins, density=True, histtype="step", linewidth=1.8,
                label=f"{group} ({len(x):,})", **style)  # fmt: skip
    ax.set_xlabel("propensity score (baseline characteristics)")
    ax.set_ylabel("density")
    ax.set_title("Overlap: propensity scores of members and controls")
    ax.legend(frameon=False)
    fig.tight_layout()
    return {"pscore_overlap": fig}
