"""Report table 1: pre-programme characteristics of members and potential controls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.descriptives import describe_pre_period
from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["table_descriptives"]


def table_descriptives(ev: Evaluation) -> Table:
    """Table 1: members vs potential controls before the first launch, standardised diffs."""
    frame, hidden = _disclose(describe_pre_period(ev.data, ev.spec), ev.spec.disclosure_min_firms)
    sizes = "; ".join(
        f"{g}: fewer than {ev.spec.disclosure_min_firms} firms"
        if g in hidden
        else f"{g}: {frame.attrs['firms'][g]:,} firms, {frame.attrs['firm_years'][g]:,} firm-years"
        for g in frame.attrs["firms"]
    )
    note = (
        f"Firm-years before the first cluster launch ({frame.attrs['before']}); {sizes}. "
        "Members: firms that join a "
        "cluster at any time; potential controls: non-members in cluster cells (exposed to "
        "spillovers later) and firms outside cluster cells. Standardised difference: "
        "(mean members - mean controls) / sqrt((var members + var controls) / 2); "
        "|d| > 0.1 is the usual imbalance flag."
    )
    if hidden:
        note += (
            f" Disclosure control: the statistics of {', '.join(hidden)} (fewer than "
            f"{ev.spec.disclosure_min_firms} firms) suppressed."
        )
    return Table(
        "descriptives", "Table 1: pre-programme characteristics", (), note, {}, frame=frame
    )


def _disclose(frame: pd.DataFrame, min_firms: int) -> tuple[pd.DataFrame, list[str]]:
    """Means, SDs and standardised differences of groups with 1 to ``min_firms - 1``
    firms removed (a difference involving the members goes with them)."""
    firms = frame.attrs.get("firms", {})
    small = [g for g, n in firms.items() if 1 <= n < min_firms]
    if not small:
        return frame, []
    out = frame.copy()
    for col in out.columns:
        name = str(col)
        own = any(name.endswith(f": {g}") or name.endswith(f"vs {g}") for g in small)
        if own or (name.startswith("std diff") and "members" in small):
            out[col] = np.nan
    return out, small
