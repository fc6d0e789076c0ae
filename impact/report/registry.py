"""Which function builds each report table and figure, by spec name (table N of the report
in the comments): the one place that lists them, imported explicitly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from impact.report import (
    descriptive_tables,
    heterogeneity,
    main_tables,
    productivity_table,
    report_figures,
    robustness,
    selection_tables,
    spillovers,
)
from impact.report.evaluation import Evaluation

__all__ = ["FIGURE_BUILDERS", "TABLE_BUILDERS"]

#: Table builders: ``(Evaluation) -> Table``, in the report's order.
TABLE_BUILDERS: dict[str, Callable[[Evaluation], Any]] = {
    "descriptives": descriptive_tables.table_descriptives,  # table 1
    "rollout": descriptive_tables.table_rollout,  # table 2
    "selection": selection_tables.table_selection,  # table 3
    "balance": selection_tables.table_balance,  # table 4
    "main": main_tables.table_main,  # table 5
    "dynamic": main_tables.table_dynamic,  # table 6
    "heterogeneity": heterogeneity.table_heterogeneity,  # table 7
    "spillovers": spillovers.table_spillovers,  # table 8
    "robustness": robustness.table_robustness,  # table 9
    "production": productivity_table.table_production_function,  # table 10
}

#: Figure builders: ``(Evaluation) -> dict[str, Figure]``.
FIGURE_BUILDERS: dict[str, Callable[[Evaluation], dict[str, Any]]] = {
    "event_study": report_figures.figure_event_studies,
    "trajectories": report_figures.figure_trajectories,
    "att_gt_heatmap": report_figures.figure_att_gt,
    "pscore_overlap": selection_tables.figure_pscore_overlap,
    "rollout": report_figures.figure_rollout,
}
