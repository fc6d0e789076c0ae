"""Report table 2: the programme's roll-out (clusters, joiners, members, exposed firms)."""

from __future__ import annotations

from impact.report.descriptives import rollout
from impact.report.evaluation import Evaluation
from impact.report.table import Table

__all__ = ["table_rollout"]


def table_rollout(ev: Evaluation) -> Table:
    """Table 2: clusters launched, firms joining (founders), members, exposed, outside."""
    frame = rollout(ev.data, ev.spec)
    note = (
        "Clusters: cells hosting a cluster, by launch year. Firms joining: join cohort; "
        "founders join in their cell's launch year. Members, exposed non-members (in "
        "launched cluster cells, not joined) and firms outside cluster cells are counted "
        "among firms observed that year."
    )
    return Table("rollout", "Table 2: programme roll-out", (), note, {}, frame=frame)
