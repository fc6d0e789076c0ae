"""Report table 1: pre-programme characteristics of members and potential controls."""

from __future__ import annotations

from impact.report.descriptives import describe_pre_period
from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["table_descriptives"]


def table_descriptives(ev: Evaluation) -> Table:
    """Table 1: members vs potential controls before the first launch, standardised diffs."""
    frame = describe_pre_period(ev.data, ev.spec)
    sizes = "; ".join(
        f"{g}: {frame.attrs['firms'][g]:,} firms, {frame.attrs['firm_years'][g]:,} firm-years"
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
    return Table(
        "descriptives", "Table 1: pre-programme characteristics", (), note, {}, frame=frame
    )
