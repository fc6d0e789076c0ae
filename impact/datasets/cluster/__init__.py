"""The synthetic cluster-firm panel (DGP.md): generator, scenarios and truth."""

from impact.datasets.cluster.clean import CleaningReport, clean_cluster_panel
from impact.datasets.cluster.generate import ClusterTruth, cluster_panel
from impact.datasets.cluster.params import (
    FEW_CELLS,
    FEW_TREATED_CELLS,
    PRODUCTION_COLUMNS,
    SCENARIOS,
    ClusterPanelParams,
    scenario_params,
)

__all__ = [
    "FEW_CELLS",
    "FEW_TREATED_CELLS",
    "PRODUCTION_COLUMNS",
    "SCENARIOS",
    "CleaningReport",
    "ClusterPanelParams",
    "ClusterTruth",
    "clean_cluster_panel",
    "cluster_panel",
    "scenario_params",
]
