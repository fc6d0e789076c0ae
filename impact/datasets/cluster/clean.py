"""``clean_cluster_panel``: from the delivered (raw) panel to the analysis panel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.datasets.cluster.nominal import DESIGN_COLUMNS, perpetual_inventory
from impact.errors import DuplicateRowsError

__all__ = ["UNIT_ERROR_RATIO", "CleaningReport", "clean_cluster_panel"]

#: Sales above this multiple of value added are read as reported in euros instead of
#: thousand euros (gross output is ~2.2 times value added in this panel).
UNIT_ERROR_RATIO = 100.0
#: Depreciation rate stated in the data documentation, used by the perpetual inventory.
DEPRECIATION = 0.08


@dataclass(frozen=True)
class CleaningReport:
    """What the cleaning step did: drops (a SampleLog) and in-place fixes (counts)."""

    sample_log: SampleLog
    fixes: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [str(self.sample_log)]
        lines += [f"  fixed {n}: {what}" for what, n in self.fixes.items()]
        return "\n".join(lines)


def clean_cluster_panel(
    raw: pd.DataFrame,
    *,
    deflators: pd.DataFrame,
    id_changes: pd.DataFrame | None = None,
    depreciation: float = DEPRECIATION,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Clean the delivered panel the way a careful analyst would.

    Steps: drop exact duplicate rows; re-link split firm identifiers with the
    provider's correspondence table; fix sales reported in euros instead of thousand
    euros (sales > 100 x value added); double-deflate value added (output and materials
    deflators); deflate sales, exports and R&D with the output deflator, investment with
    the investment deflator; rebuild real capital by perpetual inventory from the first
    book value; derive logs, export and R&D status and intensities. Missing materials
    stay missing (value added and materials are then NaN), counted in the report.

    Parameters
    ----------
    raw : DataFrame
        As delivered (nominal, thousand euros). Never modified.
    deflators : DataFrame
        ``year``, ``sector``, ``output``, ``materials``, ``investment`` (base = 100).
    id_changes : DataFrame, optional
        ``old_id``, ``new_id``, ``year``.
    depreciation : float
        Depreciation rate of the perpetual inventory.

    Returns
    -------
    frame : DataFrame
        The analysis panel (real values in base-year prices).
    report : CleaningReport

    Raises
    ------
    DuplicateRowsError
        Conflicting rows for one firm-year remain after the exact duplicates are dropped.
    """
    log = SampleLog(n_initial=len(raw))
    df = raw.drop_duplicates()
    log = log.with_drop("duplicates", "exact duplicate rows", len(raw) - len(df))
    fixes: dict[str, int] = {}
    if id_changes is not None and len(id_changes):
        mapping = dict(zip(id_changes["new_id"], id_changes["old_id"], strict=True))
        relinked = df["firm_id"].isin(list(mapping))
        fixes["split firm identifiers re-linked (rows)"] = int(relinked.sum())
        df = df.assign(firm_id=df["firm_id"].replace(mapping))
    dup = df.duplicated(["firm_id", "year"], keep=False)
    if dup.any():
        first = df.loc[dup, ["firm_id", "year"]].iloc[0].tolist()
        raise DuplicateRowsError(
            f"{int(dup.sum())} rows share a (firm_id, year) with different values, e.g. {first}; "
            "resolve them before cleaning."
        )
    df = df.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True)
    unit = (df["sales"] > UNIT_ERROR_RATIO * df["value_added"]).to_numpy()
    fixes["sales reported in euros, divided by 1000"] = int(unit.sum())
    sales_nom = np.where(unit, df["sales"].to_numpy() / 1000.0, df["sales"].to_numpy())
    d = df[["year", "sector"]].merge(deflators, on=["year", "sector"], how="left", validate="m:1")
    if d[["output", "materials", "investment"]].isna().any().any():
        raise ValueError("deflators are missing for some (year, sector) of the panel.")
    p_out = d["output"].to_numpy() / 100
    p_mat = d["materials"].to_numpy() / 100
    p_inv = d["investment"].to_numpy() / 100
    out = df[DESIGN_COLUMNS].copy()
    emp = df["emp"].to_numpy(dtype=float)
    sales = sales_nom / p_out
    materials = df["materials"].to_numpy() / p_mat
    va = sales - materials
    fixes["materials missing (value added left missing)"] = int(np.isnan(materials).sum())
    inv = df["investment"].to_numpy() / p_inv
    capital = perpetual_inventory(
        df["firm_id"].to_numpy(), df["capital_book"].to_numpy() / p_inv, inv, depreciation
    )
    exports = df["export_value"].to_numpy() / p_out
    rd = df["rd_expenditure"].to_numpy() / p_out
    with np.errstate(divide="ignore", invalid="ignore"):
        out["log_emp"] = np.log(emp)
        out["emp"] = emp
        out["log_va"] = np.log(va)
        out["va"] = va
        out["sales"] = sales
        out["log_k"] = np.log(capital)
        out["capital"] = capital
        out["log_materials"] = np.log(materials)
        out["investment"] = inv
        out["log_wage"] = np.log(df["wage_bill"].to_numpy() / emp / p_out)
        out["export"] = (exports > 0).astype(np.int8)
        out["export_value"] = exports
        out["export_intensity"] = np.where(exports > 0, exports / sales, np.nan)
        out["rd_performer"] = (rd > 0).astype(np.int8)
        out["rd_expenditure"] = rd
        out["log_rd_intensity"] = np.where(rd > 0, np.log(rd / sales), np.nan)
    out["patents"] = df["patents"].to_numpy()
    out["product_innovation"] = df["product_innovation"].to_numpy()
    return out, CleaningReport(sample_log=log, fixes=fixes)
