"""The fixed structure of the synthetic economy: cells, cluster cells, launch years."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact.datasets.cluster.params import ClusterPanelParams

__all__ = ["World", "draw_world"]


@dataclass(frozen=True)
class World:
    """Regions x sectors cells and the cluster programme.

    Attributes
    ----------
    cell_region, cell_sector : ndarray (n_cells,)
        1-based region and sector of each cell.
    cell_prob : ndarray (n_cells,)
        Share of firms located in each cell.
    location_quotient : ndarray (n_cells,)
    launch_year : ndarray (n_cells,)
        Cluster launch year of the cell; 0 for cells without a cluster.
    region_wage : ndarray (n_regions,)
        Regional log-wage level.
    high_tech : ndarray of bool (n_sectors + 1,)
        Indexed by 1-based sector.
    """

    cell_region: np.ndarray
    cell_sector: np.ndarray
    cell_prob: np.ndarray
    location_quotient: np.ndarray
    launch_year: np.ndarray
    region_wage: np.ndarray
    high_tech: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.cell_region)

    @property
    def cluster_cells(self) -> np.ndarray:
        """Indices of the cells that host a cluster."""
        return np.flatnonzero(self.launch_year > 0)


def draw_world(p: ClusterPanelParams, rng: np.random.Generator) -> World:
    """Draw cell sizes, pick cluster cells ∝ LQ² (1 + high-tech) and assign launch waves."""
    R, S = p.n_regions, p.n_sectors
    w_r = np.exp(rng.normal(0.0, p.region_weight_sd, R))
    w_s = np.exp(rng.normal(0.0, p.sector_weight_sd, S))
    eta = rng.normal(0.0, p.cell_size_sd, (R, S))
    size = w_r[:, None] * w_s[None, :] * np.exp(eta)
    prob = size / size.sum()
    lq = (prob / prob.sum(axis=1, keepdims=True)) / prob.sum(axis=0, keepdims=True)
    high_tech = np.zeros(S + 1, dtype=bool)
    high_tech[list(p.high_tech_sectors)] = True
    cell_region = np.repeat(np.arange(1, R + 1), S)
    cell_sector = np.tile(np.arange(1, S + 1), R)
    pick = lq.ravel() ** 2 * (1.0 + high_tech[cell_sector])
    n_clusters = sum(n for _, n in p.launch_waves)
    chosen = rng.choice(R * S, size=n_clusters, replace=False, p=pick / pick.sum())
    launch = np.zeros(R * S, dtype=np.int64)
    years = np.concatenate([[year] * n for year, n in p.launch_waves])
    launch[chosen] = rng.permutation(years)
    return World(
        cell_region=cell_region,
        cell_sector=cell_sector,
        cell_prob=prob.ravel(),
        location_quotient=lq.ravel(),
        launch_year=launch,
        region_wage=rng.normal(0.0, p.region_wage_sd, R),
        high_tech=high_tech,
    )
