"""Which function builds each report table and figure, by spec name: the one place that
lists them, imported explicitly. Table N of the report is built in ``tableN_*.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from impact.report import (
    report_figures,
    table1_descriptives,
    table2_rollout,
    table3_selection,
    table4_balance,
    table5_main,
    table6_dynamic,
    table7_heterogeneity,
    table8_spillovers,
    table9_robustness,
    table10_production,
    table11_diagnostics,
    table12_sensitivity,
    table13_multiplicity,
)
from impact.report.evaluation import Evaluation

__all__ = ["FIGURE_BUILDERS", "TABLE_BUILDERS"]

#: Table builders: ``(Evaluation) -> Table``, in the report's order.
TABLE_BUILDERS: dict[str, Callable[[Evaluation], Any]] = {
    "descriptives": table1_descriptives.table_descriptives,
    "rollout": table2_rollout.table_rollout,
    "selection": table3_selection.table_selection,
    "balance": table4_balance.table_balance,
    "main": table5_main.table_main,
    "dynamic": table6_dynamic.table_dynamic,
    "heterogeneity": table7_heterogeneity.table_heterogeneity,
    "spillovers": table8_spillovers.table_spillovers,
    "robustness": table9_robustness.table_robustness,
    "production": table10_production.table_production_function,
    "diagnostics": table11_diagnostics.table_diagnostics,
    "sensitivity": table12_sensitivity.table_sensitivity,
    "multiplicity": table13_multiplicity.table_multiplicity,
}

#: Figure builders: ``(Evaluation) -> dict[str, Figure]``.
FIGURE_BUILDERS: dict[str, Callable[[Evaluation], dict[str, Any]]] = {
    "event_study": report_figures.figure_event_studies,
    "trajectories": report_figures.figure_trajectories,
    "att_gt_heatmap": report_figures.figure_att_gt,
    "pscore_overlap": table4_balance.figure_pscore_overlap,
    "rollout": report_figures.figure_rollout,
    "bacon": table11_diagnostics.figure_bacon,
    "sensitivity": table12_sensitivity.figure_sensitivity,
}
