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
    full_truth: bool = True,
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
        ``"S9"`` (12 of 96 cells launched), ``"S9b"`` (6 of 12 cells), ``"S10"`` (S2
        with members that leave; adds ``leave_year`` and the yearly ``member`` status) (see
        :data:`impact.datasets.cluster.params.SCENARIOS`).
    raw : bool
        Return the delivered panel instead of the analysis panel: nominal values in
        thousand euros with the data dirt of DGP.md §4.8 (clean it with
        :func:`clean_cluster_panel` and ``truth.deflators``, ``truth.id_changes``).
    full_truth : bool
        ``truth.firm_year`` covers every firm-year (default) or, with ``False``, only the
        firm-years in cluster cells (outside them the three paths equal the observed
        values); ``False`` also skips building the delivered raw panel unless ``raw``.
        Use it for very large panels (10^6 firms).
    **overrides
        Any field of :class:`ClusterPanelParams`, or ``acf_replica=True`` for the labour
        timing of the ACF Monte Carlo (:data:`impact.datasets.cluster.params.ACF_REPLICA`;
        scenario S7's estimator tests use it).

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
    progress = _progress(n_firms)
    sim, paths, prices = simulate(params, world, rng, n_firms=n_firms, progress=progress)
    if progress is not None:
        print(file=sys.stderr)
    if not full_truth:  # keep only what the truth needs, free the rest early
        in_cells = sim["launch"] > 0
        sim_truth = {k: v[in_cells] for k, v in sim.items()}
        frame = _frame(sim, params, consume=True)
        del sim
        sim = sim_truth
    else:
        frame = _frame(sim, params)
    if params.materials_error > 0:
        _add_materials_error(frame, params.materials_error, seed)
    delivered = deliver(frame, prices, delta_k=params.delta_k, seed=seed, nominal=raw or full_truth)
    truth = _truth(sim, paths, params, world, seed, delivered, full_truth)
    return (delivered.raw if raw else frame), truth


def _design(
    sim: dict[str, np.ndarray],
    params: ClusterPanelParams,
    rows: np.ndarray | None = None,
    consume: bool = False,
) -> pd.DataFrame:
    """Design columns of ``sim`` (optionally of the row positions ``rows``, in that order)."""

    def col(name: str) -> np.ndarray:
        values = sim.pop(name) if consume else sim[name]
        return values if rows is None else values[rows]

    launch, join, region, sector = col("launch"), col("join"), col("region"), col("sector")
    leave, year = col("leave"), col("year")
    frame = pd.DataFrame(
        {
            "firm_id": col("firm") + 1,
            "year": year,
            "region": region,
            "sector": sector,
            "cell": (region - 1) * params.n_sectors + sector,
            "high_tech": col("ht"),
            "cluster_cell": launch > 0,
            "launch_year": np.where(launch > 0, launch, np.nan),
            "join_year": np.where(join > 0, join, np.nan),
            "size_class": pd.Categorical(
                SIZE_LABELS[col("size_cls")], categories=list(SIZE_LABELS)
            ),
            "entry_year": col("entry"),
        }
    )
    if params.leave_hazard > 0:  # non-absorbing membership: the year of leaving, status
        frame["leave_year"] = np.where(leave > 0, leave, np.nan)
        member = (join > 0) & (join <= year) & ((leave == 0) | (year < leave))
        frame["member"] = member.astype(np.int8)
    return frame


def _frame(
    sim: dict[str, np.ndarray], params: ClusterPanelParams, *, consume: bool = False
) -> pd.DataFrame:
    """The observed analysis panel, sorted by firm and year (built column by column).

    With ``consume``, outcome columns are removed from ``sim`` as they are used (memory).
    """
    alive = np.flatnonzero(sim["alive_DS"])
    firm, year = sim["firm"][alive], sim["year"][alive]
    rows = alive[np.lexsort((year, firm))]

    def col(name: str) -> np.ndarray:
        values = sim.pop(name) if consume else sim[name]
        return values[rows]

    df = _design(sim, params, rows, consume)
    exporter = col("export_DS") > 0
    performer = col("rd_DS") > 0
    df["log_emp"] = col("l_DS")
    df["emp"] = np.exp(df["log_emp"].to_numpy())
    df["log_va"] = col("y_DS")
    df["va"] = np.exp(df["log_va"].to_numpy())
    df["sales"] = col("sales_DS")
    df["log_k"] = col("k_DS")
    df["capital"] = np.exp(df["log_k"].to_numpy())
    df["log_materials"] = col("m_DS")
    df["investment"] = col("inv_DS")
    df["log_wage"] = col("real_wage")
    df["export"] = exporter.astype(np.int8)
    df["export_value"] = col("xval_DS")
    df["export_intensity"] = np.where(exporter, col("xint_DS"), np.nan)
    df["rd_performer"] = performer.astype(np.int8)
    df["rd_expenditure"] = col("rdexp_DS")
    df["log_rd_intensity"] = np.where(performer, col("rdint_DS"), np.nan)
    df["patents"] = col("patents_DS").astype(np.int64)
    df["product_innovation"] = col("innov_DS").astype(np.int8)
    return df


def _add_materials_error(frame: pd.DataFrame, multiple: float, seed: int) -> None:
    """Classical measurement error in observed log materials (DGP.md §4.3, the ACF design).

    The error's sd is ``multiple`` times the pooled within-firm sd of log materials; it uses
    its own random stream so the simulated economy is unchanged.
    """
    m = frame["log_materials"]
    within = float((m - m.groupby(frame["firm_id"]).transform("mean")).std())
    stream = np.random.SeedSequence(seed).spawn(2)[1]
    noise = np.random.Generator(np.random.PCG64(stream)).normal(0.0, multiple * within, len(m))
    frame["log_materials"] = m.to_numpy() + noise


def _truth(
    sim: dict[str, np.ndarray],
    paths: dict[str, np.ndarray],
    params: ClusterPanelParams,
    world: World,
    seed: int,
    delivered: Delivered,
    full_truth: bool,
) -> ClusterTruth:
    cc = sim["launch"] > 0
    fy = _design(sim, params)

    def path_values(col: str, path: str) -> np.ndarray:
        ds = sim[f"{col}_DS"]
        if path == "DS":
            return ds
        out = ds.copy()
        out[cc] = paths[f"{col}_{path}"]
        return out

    for path in PATHS:
        fy[f"alive_{path}"] = path_values("alive", path)
    for out, stem in T.OUTCOMES.items():
        if stem is not None:
            for path in PATHS:
                fy[f"{out}_{path}"] = path_values(stem, path)
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
