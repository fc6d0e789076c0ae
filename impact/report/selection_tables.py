"""Report tables 3 (selection into membership) and 4 (balance after reweighting), and the
propensity-score overlap figure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.report.evaluation import POOL, Evaluation
from impact.report.selection import baseline_firms, ipw_balance, selection_logit
from impact.report.table import Table

__all__ = ["table_balance", "table_selection"]


def _firms(ev: Evaluation) -> pd.DataFrame:
    return ev.memo("baseline", lambda: baseline_firms(ev.data, ev.spec, list(ev.spec.selection)))


def table_selection(ev: Evaluation) -> Table:
    """Table 3: logit of membership on baseline characteristics, all firms and within
    cluster cells, with average marginal effects."""
    firms = _firms(ev)
    frames, sizes = [], []
    for label, sample in (
        ("all firms", firms),
        ("firms in cluster cells", firms[firms["in_cell"]]),
    ):
        tab = selection_logit(sample, list(ev.spec.selection))
        tab.insert(0, "sample", label)
        frames.append(tab)
        sizes.append(
            f"{label}: {tab.attrs['n_firms']:,} firms, {tab.attrs['n_members']:,} members, "
            f"pseudo R2 {tab.attrs['pseudo_r2']:.3f}"
        )
    frame = pd.concat(frames, ignore_index=True)
    note = (
        "Logit of membership (the firm ever joins) on its characteristics in "
        f"{firms.attrs['year']}, the year before the first launch (one calendar year for "
        f"all firms; firms entering later are not in it); {'; '.join(sizes)}. AME: average "
        "marginal effect on the membership probability (0/1 regressors: average discrete "
        "change; delta-method SE). SEs clustered by cell, so a characteristic constant "
        "within cells (high-tech status) is identified across few clusters in the "
        "second sample. Members can only come from cluster cells, so the first sample "
        "mixes the selection of cells with that of firms; the second isolates which firms "
        "join within a cell."
    )
    return Table("selection", "Table 3: selection into membership", (), note, {}, frame=frame)


def _balance(ev: Evaluation) -> tuple[pd.DataFrame, pd.DataFrame]:
    def make() -> tuple[pd.DataFrame, pd.DataFrame]:
        firms = _firms(ev)
        pool = ev.data.groupby(ev.spec.columns.unit)[POOL].first()
        control = ~firms["member"].to_numpy() & pool.reindex(firms["unit"]).to_numpy(bool)
        return ipw_balance(firms, list(ev.spec.selection), control)

    return ev.memo("balance", make)


def table_balance(ev: Evaluation) -> Table:
    """Table 4: baseline balance of members and controls before and after IPW, overlap."""
    frame, scores = _balance(ev)
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

    _, scores = _balance(ev)
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
