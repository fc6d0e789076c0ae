"""Report table 2: the programme's roll-out (clusters, joiners, members, exposed firms)."""

from __future__ import annotations

from impact.report.descriptives import rollout
from impact.report.disclosure import disclosure_note, suppress_counts
from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["FIRM_COUNTS", "table_rollout"]

#: Columns counting firms (disclosure control applies; clusters are not firms).
FIRM_COUNTS = (
    "firms joining", "of which founders", "members", "exposed non-members",
    "outside cluster cells",
)  # fmt: skip


def table_rollout(ev: Evaluation) -> Table:
    """Table 2: clusters launched, firms joining (founders), members, exposed, outside."""
    k = ev.spec.disclosure_min_firms
    frame, display, n = suppress_counts(rollout(ev.data, ev.spec), FIRM_COUNTS, k)
    note = (
        "Clusters: cells hosting a cluster, by launch year. Firms joining: join cohort; "
        "founders join in their cell's launch year. Members, exposed non-members (in "
        "launched cluster cells, not joined) and firms outside cluster cells are counted "
        "among firms observed that year."
    ) + disclosure_note(n, k, "counts")
    return Table(
        "rollout", "Table 2: programme roll-out", (), note, {}, frame=frame, display=display
    )
