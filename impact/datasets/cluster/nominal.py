"""Delivered data: nominal values, deflator tables and the data dirt of DGP.md §4.3 and §4.8."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BASE_YEAR", "Delivered", "deflator_table", "deliver", "perpetual_inventory"]

#: Deflators are 100 in this year (real values are in its prices).
BASE_YEAR = 2010

#: Design columns delivered with the raw data, unchanged by cleaning.
DESIGN_COLUMNS = [
    "firm_id",
    "year",
    "region",
    "sector",
    "cell",
    "high_tech",
    "cluster_cell",
    "launch_year",
    "join_year",
    "size_class",
    "entry_year",
]


@dataclass(frozen=True)
class Delivered:
    """What a data provider hands over.

    Attributes
    ----------
    raw : DataFrame
        Nominal values (thousand euros, current prices) with the data dirt.
    deflators : DataFrame
        ``year``, ``sector``, ``output``, ``materials``, ``investment`` price indices
        (``BASE_YEAR`` = 100).
    id_changes : DataFrame
        ``old_id``, ``new_id``, ``year``: firms whose identifier changed from ``year`` on.
    dirt : DataFrame
        Truth-side flags per delivered row (never delivered to the analyst).
    """

    raw: pd.DataFrame
    deflators: pd.DataFrame
    id_changes: pd.DataFrame
    dirt: pd.DataFrame


def deflator_table(prices: pd.DataFrame) -> pd.DataFrame:
    """Price indices (base year = 100) from the simulated log price levels."""
    base = prices[prices["year"] == BASE_YEAR].set_index("sector")
    out = pd.DataFrame({"year": prices["year"], "sector": prices["sector"]})
    for col, name in (
        ("log_p_output", "output"),
        ("log_p_materials", "materials"),
        ("log_p_investment", "investment"),
    ):
        ref = prices["sector"].map(base[col])
        out[name] = 100.0 * np.exp(prices[col].to_numpy() - ref.to_numpy())
    return out.reset_index(drop=True)


def _nominal(frame: pd.DataFrame, deflators: pd.DataFrame, delta_k: float) -> pd.DataFrame:
    d = frame[["year", "sector"]].merge(deflators, on=["year", "sector"], how="left")
    p_out = d["output"].to_numpy() / 100
    p_mat = d["materials"].to_numpy() / 100
    p_inv = d["investment"].to_numpy() / 100
    raw = frame[DESIGN_COLUMNS].copy()
    raw["emp"] = frame["emp"].to_numpy()
    sales = frame["sales"].to_numpy() * p_out
    materials = np.exp(frame["log_materials"].to_numpy()) * p_mat
    raw["sales"] = sales
    raw["materials"] = materials
    raw["value_added"] = sales - materials
    raw["wage_bill"] = frame["emp"].to_numpy() * np.exp(frame["log_wage"].to_numpy()) * p_out
    inv_nom = frame["investment"].to_numpy() * p_inv
    raw["investment"] = inv_nom
    # book value at historical cost: valued at the investment price when the firm enters the
    # data, then depreciated and increased by nominal investment (perpetual inventory)
    raw["capital_book"] = perpetual_inventory(
        frame["firm_id"].to_numpy(), frame["capital"].to_numpy() * p_inv, inv_nom, delta_k
    )
    raw["export_value"] = frame["export_value"].to_numpy() * p_out
    raw["rd_expenditure"] = frame["rd_expenditure"].to_numpy() * p_out
    raw["patents"] = frame["patents"].to_numpy()
    raw["product_innovation"] = frame["product_innovation"].to_numpy()
    return raw


def perpetual_inventory(
    firm: np.ndarray, start: np.ndarray, flow: np.ndarray, delta: float
) -> np.ndarray:
    """Stock S_t = (1 - delta) S_{t-1} + flow_{t-1} from ``start`` at each firm's first row.

    Rows must be sorted by firm and year without gaps. Vectorised: S_t / (1 - delta)^s is
    the firm's start value plus a cumulative sum (s = years since the first row).
    """
    first = np.r_[True, firm[1:] != firm[:-1]]
    group = np.cumsum(first) - 1
    pos = np.arange(len(firm)) - np.flatnonzero(first)[group]
    keep = 1.0 - delta
    prev_flow = np.r_[0.0, flow[:-1]]
    prev_flow[first] = 0.0
    scaled = prev_flow / keep**pos
    csum = np.cumsum(scaled)
    base = csum[np.flatnonzero(first)][group] - scaled[np.flatnonzero(first)][group]
    return (start[np.flatnonzero(first)][group] + csum - base) * keep**pos


def _dirt(raw: pd.DataFrame, rng: np.random.Generator, shares: dict[str, float]):
    n = len(raw)
    raw = raw.copy()
    orig_id = raw["firm_id"].to_numpy().copy()
    # split panels: a few firms get a new identifier from a year in the middle of their spell
    years = raw.groupby("firm_id")["year"].agg(["min", "max", "size"])
    long = years[years["size"] >= 6].index.to_numpy()
    n_split = min(len(long), max(3, round(shares["split_ids"] * len(years))))
    split_firms = rng.choice(long, size=n_split, replace=False) if n_split else np.array([], int)
    split_firms = np.sort(np.asarray(split_firms, dtype=np.int64))
    year = raw["year"].to_numpy()
    new_id = np.full(n, np.nan)
    changes = []
    if len(split_firms):
        lo = years.loc[split_firms, "min"].to_numpy()
        hi = years.loc[split_firms, "max"].to_numpy()
        split_year = rng.integers(lo + 2, hi - 1)
        new_ids = int(raw["firm_id"].max()) + 1 + np.arange(len(split_firms))
        pos = np.clip(np.searchsorted(split_firms, orig_id), 0, len(split_firms) - 1)
        moved = (split_firms[pos] == orig_id) & (year >= split_year[pos])
        new_id[moved] = new_ids[pos[moved]]
        raw["firm_id"] = np.where(moved, new_ids[pos], orig_id).astype(np.int64)
        changes = [
            {"old_id": int(f), "new_id": int(i), "year": int(y)}
            for f, i, y in zip(split_firms, new_ids, split_year, strict=True)
        ]
    unit = rng.uniform(size=n) < shares["sales_unit_error"]
    raw.loc[unit, "sales"] = raw.loc[unit, "sales"] * 1000.0
    miss = rng.uniform(size=n) < shares["missing_materials"]
    raw.loc[miss, "materials"] = np.nan
    dup = rng.uniform(size=n) < shares["duplicated_rows"]
    flags = pd.DataFrame(
        {
            "firm_id": orig_id,
            "year": raw["year"].to_numpy(),
            "new_firm_id": new_id,
            "sales_unit_error": unit,
            "materials_missing": miss,
            "duplicated": dup,
        }
    )
    raw = pd.concat([raw, raw[dup]]).sort_values(["firm_id", "year"], kind="stable")
    id_changes = pd.DataFrame(changes, columns=["old_id", "new_id", "year"])
    return raw.reset_index(drop=True), flags, id_changes


def deliver(
    frame: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    delta_k: float,
    seed: int,
    dirt: bool = True,
    nominal: bool = True,
    shares: dict[str, float] | None = None,
) -> Delivered:
    """Turn the analysis frame into the delivered (raw) data with deflators and dirt.

    The dirt uses its own random stream (spawned from ``seed``) so that switching it off
    does not change the simulated economy.
    """
    shares = shares or {
        "sales_unit_error": 0.003,
        "missing_materials": 0.01,
        "duplicated_rows": 0.005,
        "split_ids": 0.005,
    }
    deflators = deflator_table(prices)
    empty = pd.DataFrame(columns=["old_id", "new_id", "year"])
    if not nominal:
        return Delivered(pd.DataFrame(), deflators, empty, pd.DataFrame())
    raw = _nominal(frame, deflators, delta_k)
    if not dirt:
        return Delivered(raw, deflators, empty, pd.DataFrame())
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed).spawn(1)[0]))
    raw, flags, changes = _dirt(raw, rng, shares)
    return Delivered(raw, deflators, changes, flags)
