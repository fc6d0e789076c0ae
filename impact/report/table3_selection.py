"""Report table 3: selection into membership (logit on baseline characteristics)."""

from __future__ import annotations

import pandas as pd

from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["table_selection"]


def table_selection(ev: Evaluation) -> Table:
    """Table 3: logit of membership on baseline characteristics, all firms and within
    cluster cells, with average marginal effects."""
    firms = ev.baseline_firms()
    frames, sizes = [], []
    for label, in_cell in (("all firms", False), ("firms in cluster cells", True)):
        tab = ev.selection_logit(in_cell_only=in_cell).copy()
        tab.insert(0, "sample", label)
        frames.append(tab)
        sizes.append(
            f"{label}: {tab.attrs['n_firms']:,} firms, {tab.attrs['n_members']:,} members, "
            f"pseudo R2 {tab.attrs['pseudo_r2']:.3f}"
        )
    frame = pd.concat(frames, ignore_index=True)
    note = (
        "Logit of membership (the firm ever joins) on its characteristics in "
        f"{firms.year}, the year before the first launch (one calendar year for "
        f"all firms; firms entering later are not in it); {'; '.join(sizes)}. AME: average "
        "marginal effect on the membership probability (0/1 regressors: average discrete "
        "change; delta-method SE). SEs clustered by cell, so a characteristic constant "
        "within cells (high-tech status) is identified across few clusters in the "
        "second sample. Members can only come from cluster cells, so the first sample "
        "mixes the selection of cells with that of firms; the second isolates which firms "
        "join within a cell."
    )
    return Table("selection", "Table 3: selection into membership", (), note, {}, frame=frame)
