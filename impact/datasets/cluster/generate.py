"""``cluster_panel``: the synthetic cluster-firm panel with its exact truth."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.datasets.cluster import truth as T
from impact.datasets.cluster.nominal import Delivered, deliver
from impact.datasets.cluster.params import ClusterPanelParams, scenario_params
from impact.datasets.cluster.simulate import PATHS, simulate
from impact.datasets.cluster.world import World, draw_world

__all__ = ["DEFAULT_SEED", "GENERATOR_VERSION", "ClusterTruth", "cluster_panel"]

GENERATOR_VERSION = "1.0"
DEFAULT_SEED = 20040101
SIZE_LABELS = np.array(["small", "medium", "large"])


@dataclass(frozen=True, eq=False)
class ClusterTruth:
    """The truth behind a synthetic panel (never merged into the observed frame).

    Attributes
    ----------
    params : ClusterPanelParams
    seed : int
    cells : DataFrame
        One row per cell: region, sector, location quotient, launch year.
    firm_year : DataFrame
        ``firm_id``, ``year`` and, for every outcome, its value on the three paths
        ``<outcome>_00`` (no policy), ``<outcome>_0S`` (exposure, no membership) and
        ``<outcome>_DS`` (observed). Direct effect = DS - 0S, spillover = 0S - 00.
    att_gt, att_event, att_overall, spillover_event, hetero : DataFrame
        See :mod:`impact.datasets.cluster.truth`.
    deflators, id_changes : DataFrame
        Delivered with the raw panel (price indices; split-identifier correspondence).
    dirt : DataFrame
        Flags of the injected data dirt per delivered row (DGP.md §4.8).
    """

    params: ClusterPanelParams
    seed: int
    cells: pd.DataFrame
    firm_year: pd.DataFrame
    att_gt: pd.DataFrame
    att_event: pd.DataFrame
    att_overall: pd.DataFrame
    spillover_event: pd.DataFrame
    hetero: pd.DataFrame
    deflators: pd.DataFrame
    id_changes: pd.DataFrame
    dirt: pd.DataFrame

    def params_dict(self) -> dict[str, Any]:
        """Parameters, seed and generator version as a JSON-ready dict."""
        d = dataclasses.asdict(self.params)
        return {"generator_version": GENERATOR_VERSION, "seed": self.seed, **d}


def _progress(n_firms: int):
    if n_firms < 100_000:
        return None
    start = time.perf_counter()

    def report(year: int) -> None:
        print(
            f"\rcluster_panel: simulated {year} ({time.perf_counter() - start:.0f}s)",
            end="",
            file=sys.stderr,
        )

    return report


def _cells(world: World) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell": np.arange(1, world.n_cells + 1),
            "region": world.cell_region,
            "sector": world.cell_sector,
            "high_tech": world.high_tech[world.cell_sector],
            "location_quotient": world.location_quotient,
            "launch_year": np.where(world.launch_year > 0, world.launch_year, np.nan),
        }
    )


def cluster_panel(
    n_firms: int = 2000,
    seed: int = DEFAULT_SEED,
    scenario: str = "default",
    *,
    raw: bool = False,
    **overrides: Any,
) -> tuple[pd.DataFrame, ClusterTruth]:
    """Simulate the synthetic cluster-firm panel of DGP.md.

    Parameters
    ----------
    n_firms : int
        Incumbent firms alive in the first observed year (approximately).
    seed : int
        Seed of ``numpy.random.Generator(PCG64(seed))``; same seed, same tables.
    scenario : str
        ``"default"`` (realistic selection, dynamic heterogeneous effects, spillovers),
        ``"S0"`` (null), ``"S1"`` (constant TFP shift), ``"S2"`` (dynamic effects,
        random selection within cells), ``"S3a"``, ``"S3b"``, ``"S4"``, ``"S5"``,
        ``"S9"`` (see :data:`impact.datasets.cluster.params.SCENARIOS`).
    raw : bool
        Return the delivered panel instead of the analysis panel: nominal values in
        thousand euros with the data dirt of DGP.md §4.8 (clean it with
        :func:`clean_cluster_panel` and ``truth.deflators``, ``truth.id_changes``).
    **overrides
        Any field of :class:`ClusterPanelParams`.

    Returns
    -------
    frame : DataFrame
        One row per firm-year: ``firm_id``, ``year``, ``region``, ``sector``, ``cell``,
        ``high_tech``, ``cluster_cell``, ``launch_year`` (NaN outside cluster cells),
        ``join_year`` (NaN for never-members), ``size_class`` (employment class in the
        year before the cell's launch, or before the first launch wave outside cluster
        cells, or at entry if later), ``entry_year`` and the outcomes ``log_emp``,
        ``emp``, ``log_va``, ``va``, ``sales`` (real gross output), ``log_k``,
        ``capital``, ``log_materials``, ``investment``, ``log_wage``, ``export``,
        ``export_value`` (0 for non-exporters), ``export_intensity`` (NaN for
        non-exporters), ``rd_performer``, ``rd_expenditure``, ``log_rd_intensity`` (NaN
        for non-performers), ``patents``, ``product_innovation``. Real values.
    truth : ClusterTruth
    """
    params = scenario_params(scenario, **overrides)
    rng = np.random.Generator(np.random.PCG64(seed))
    world = draw_world(params, rng)
    sim, prices = simulate(params, world, rng, n_firms=n_firms, progress=_progress(n_firms))
    frame = _frame(sim, params)
    delivered = deliver(frame, prices, delta_k=params.delta_k, seed=seed)
    truth = _truth(sim, params, world, seed, delivered)
    return (delivered.raw if raw else frame), truth


def _design(sim: pd.DataFrame, params: ClusterPanelParams) -> pd.DataFrame:
    launch = sim["launch"].to_numpy()
    join = sim["join"].to_numpy()
    return pd.DataFrame(
        {
            "firm_id": sim["firm"].to_numpy() + 1,
            "year": sim["year"].to_numpy(),
            "region": sim["region"].to_numpy(),
            "sector": sim["sector"].to_numpy(),
            "cell": (sim["region"].to_numpy() - 1) * params.n_sectors + sim["sector"].to_numpy(),
            "high_tech": sim["ht"].to_numpy(),
            "cluster_cell": launch > 0,
            "launch_year": np.where(launch > 0, launch, np.nan),
            "join_year": np.where(join > 0, join, np.nan),
            "size_class": pd.Categorical(
                SIZE_LABELS[sim["size_cls"].to_numpy()], categories=list(SIZE_LABELS)
            ),
            "entry_year": sim["entry"].to_numpy(),
        }
    )


def _frame(sim: pd.DataFrame, params: ClusterPanelParams) -> pd.DataFrame:
    sim = sim[sim["alive_DS"].to_numpy()]
    df = _design(sim, params)
    exporter = sim["export_DS"].to_numpy() > 0
    performer = sim["rd_DS"].to_numpy() > 0
    df["log_emp"] = sim["l_DS"].to_numpy()
    df["emp"] = np.exp(df["log_emp"])
    df["log_va"] = sim["y_DS"].to_numpy()
    df["va"] = np.exp(df["log_va"])
    df["sales"] = sim["sales_DS"].to_numpy()
    df["log_k"] = sim["k_DS"].to_numpy()
    df["capital"] = np.exp(df["log_k"])
    df["log_materials"] = sim["m_DS"].to_numpy()
    df["investment"] = sim["inv_DS"].to_numpy()
    df["log_wage"] = sim["real_wage"].to_numpy()
    df["export"] = exporter.astype(np.int8)
    df["export_value"] = sim["xval_DS"].to_numpy()
    df["export_intensity"] = np.where(exporter, sim["xint_DS"].to_numpy(), np.nan)
    df["rd_performer"] = performer.astype(np.int8)
    df["rd_expenditure"] = sim["rdexp_DS"].to_numpy()
    df["log_rd_intensity"] = np.where(performer, sim["rdint_DS"].to_numpy(), np.nan)
    df["patents"] = sim["patents_DS"].to_numpy().astype(np.int64)
    df["product_innovation"] = sim["innov_DS"].to_numpy().astype(np.int8)
    return df.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True)


def _truth(
    sim: pd.DataFrame, params: ClusterPanelParams, world: World, seed: int, delivered: Delivered
) -> ClusterTruth:
    fy = _design(sim, params)
    for path in PATHS:
        fy[f"alive_{path}"] = sim[f"alive_{path}"].to_numpy()
    for out, stem in T.OUTCOMES.items():
        for path in PATHS:
            if stem is not None:
                fy[f"{out}_{path}"] = sim[f"{stem}_{path}"].to_numpy()
    for path in PATHS:
        fy[f"emp_{path}"] = np.exp(fy[f"log_emp_{path}"])
        fy[f"va_{path}"] = np.exp(fy[f"log_va_{path}"])
    fy = fy.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True)
    gt = T.att_gt(fy)
    return ClusterTruth(
        params=params,
        seed=seed,
        cells=_cells(world),
        firm_year=fy,
        att_gt=gt,
        att_event=T.att_event(gt),
        att_overall=T.att_overall(gt),
        spillover_event=T.spillover_event(fy),
        hetero=T.hetero(fy),
        deflators=delivered.deflators,
        id_changes=delivered.id_changes,
        dirt=delivered.dirt,
    )
