"""The launch of a cluster as a cell-level treatment: its intention-to-treat effect on the
mean firm of the cell (members and exposed non-members together), estimated on cell means
with the cells as units, and its truth.

Who joins does not enter the comparison (cluster cells against cells without a cluster),
so selection into membership cannot bias it; the price is a different estimand (the
launch's effect on the cell, a mix of the members' effect and the non-members'
spillover, ``truth.cell_itt``) and far fewer units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.design.checks import unit_constant
from impact.errors import MissingIdError
from impact.estimators.att_gt import att_gt
from impact.estimators.cell_itt import cell_itt
from impact.estimators.synthdid import synthdid
from impact.report.evaluation import Evaluation

__all__ = [
    "cell_itt_fit",
    "cell_means",
    "cell_sdid_fit",
    "cell_split_fit",
    "true_cell_itt",
    "true_cell_sdid",
    "true_cell_split",
]

#: Placebo replications of the cell-level synthetic DiD when some launch wave has a
#: single cluster cell (the jackknife needs two per wave).
SDID_PLACEBO = 100


def _check_cell_constant(frame: pd.DataFrame, names: dict) -> None:
    """The launch period and the sector describe the cell: a value that varies within a
    cell would be silently replaced by its first one in the cell means."""
    codes, labels = pd.factorize(frame["cell"])
    if (codes < 0).any():
        raise MissingIdError(f"cell column is missing on {int((codes < 0).sum())} rows.")
    for key, col in names.items():
        if key in frame:
            unit_constant(frame[key], codes, col, key, pd.Index(labels, name="cell"))


def cell_means(ev: Evaluation, outcome: str) -> tuple[pd.DataFrame, list[str]]:
    """Cell x period means of ``outcome`` with the launch period as cohort (NaN outside
    cluster cells) and sector indicators (cells lie in one sector, and sectors trend
    differently); returns the frame and the indicator names."""
    c, d = ev.spec.columns, ev.data
    launch = pd.to_numeric(d[c.launch], errors="coerce")
    launch = launch.where(d[c.cluster_cell].astype(bool))
    cols = {"y": d[outcome].to_numpy(dtype=float), "launch": launch.to_numpy(dtype=float)}
    if c.sector:
        cols["sector"] = d[c.sector].to_numpy()
    frame = pd.DataFrame({"cell": d[c.cell].to_numpy(), "time": d[c.time].to_numpy(), **cols})
    _check_cell_constant(frame, {"launch": c.launch, "sector": c.sector})
    frame = frame[np.isfinite(frame["y"])]
    agg = {"y": ("y", "mean"), "launch": ("launch", "first"), "firms": ("y", "size")}
    if c.sector:
        agg["sector"] = ("sector", "first")
    cells = frame.groupby(["cell", "time"], as_index=False, sort=True).agg(**agg)
    names: list[str] = []
    if c.sector:
        dummies = pd.get_dummies(cells["sector"], prefix="sector", drop_first=True, dtype=float)
        names = [f"cell_{n}" for n in dummies.columns]
        cells = pd.concat([cells, dummies.set_axis(names, axis=1)], axis=1)
    return cells, names


def cell_itt_fit(ev: Evaluation, outcome: str):
    """Callaway-Sant'Anna on cell means (outcome regression on the sector indicators,
    universal base period), cells as units (memoised)."""

    def make():
        cells, names = cell_means(ev, outcome)
        return att_gt(
            cells, y="y", unit="cell", time="time", cohort="launch", covariates=names,
            method="reg", base_period="universal",
        )  # fmt: skip

    return ev.memo(("cell_itt", outcome), make)


def cell_sdid_fit(ev: Evaluation, outcome: str, window: int) -> tuple[Any, int]:
    """Synthetic DiD on cell means, launches as the treatment, event times 0 .. ``window``,
    sector-by-period indicators projected out on the donor cells; jackknife SEs (placebo
    when a launch wave has one cell). Memoised.

    Returns
    -------
    fit : SynthDidResult or None
        None when the design cannot be estimated: fewer than two complete donor cells, no
        complete cluster cell, or (placebo) no more donor than cluster cells.
    incomplete : int
        Cells left out because they lack firms in some period (synthetic weights need
        every cell in every period).
    """

    def make():
        cells, _ = cell_means(ev, outcome)
        complete = cells.groupby("cell")["time"].transform("size") == cells["time"].nunique()
        incomplete = int(cells.loc[~complete.to_numpy(), "cell"].nunique())
        cells = cells[complete.to_numpy()]
        cells = cells.assign(d=(cells["time"] >= cells["launch"]).astype(int))
        names: list[str] = []
        if "sector" in cells:
            periods = sorted(cells["time"].unique())[1:]
            sectors = sorted(cells["sector"].unique(), key=str)[1:]
            extra = {
                f"cell_sy_{i}_{j}": ((cells["sector"] == s) & (cells["time"] == t)).astype(float)
                for i, s in enumerate(sectors) for j, t in enumerate(periods)
            }  # fmt: skip
            names = list(extra)
            cells = pd.concat([cells, pd.DataFrame(extra, index=cells.index)], axis=1)
        sizes = cells.dropna(subset=["launch"]).groupby("launch")["cell"].nunique()
        vcov = "jackknife" if len(sizes) and (sizes >= 2).all() else "placebo"
        donors = cells.loc[cells.groupby("cell")["d"].transform("max") == 0, "cell"].nunique()
        treated = cells["cell"].nunique() - donors
        if donors < 2 or treated == 0 or (vcov == "placebo" and donors <= treated):
            return None, incomplete
        fit = synthdid(
            cells, y="y", unit="cell", time="time", treatment="d", covariates=names,
            window=window, vcov=vcov, replications=SDID_PLACEBO, seed=ev.spec.seed,
        )  # fmt: skip
        return fit, incomplete

    return ev.memo(("cell_sdid", outcome, window), make)


def true_cell_sdid(ev: Evaluation, outcome: str, fit) -> float:
    """The cell-level ITT averaged as ``fit`` averages it: per launch wave over its cells
    and its post-launch periods, waves weighted by treated cell-periods (NaN without a
    truth)."""
    tab = _truth_cells(ev, outcome)
    if tab is None:
        return float("nan")
    tab = tab[(tab["outcome"] == outcome) & tab["cell"].isin(fit.treated_units)]
    waves = fit.table
    total = 0.0
    for wave, w, n_post in zip(waves["cohort"], waves["weight"], waves["n_post"], strict=True):
        sel = (tab["launch_year"] == wave) & tab["exposure_time"].between(0, n_post - 1)
        total += w * float(tab.loc[sel, "itt_means"].mean())
    return total


def true_cell_itt(ev: Evaluation, outcome: str) -> pd.Series | None:
    """The generator's cell-level ITT by exposure time (mean over cluster cells of the
    observed-path cell mean less the no-policy cell mean); None without a truth."""
    tab = _truth_cells(ev, outcome)
    if tab is None:
        return None
    return tab[tab["outcome"] == outcome].groupby("exposure_time")["itt_means"].mean()


def _truth_cells(ev: Evaluation, outcome: str) -> pd.DataFrame | None:
    """The generator's ``truth.cell_itt`` table, computed once per evaluation (None when
    the data carry no truth for ``outcome``)."""
    fy = ev.truth.get("firm_year")
    if fy is None or f"{outcome}_DS" not in fy.columns:
        return None
    from impact.datasets.cluster.truth import cell_itt

    return ev.memo(("truth_cell_itt",), lambda: cell_itt(fy))


def cell_split_fit(ev: Evaluation, outcome: str, window: int):
    """The launch's ITT on cluster-cell firms split into members and non-members
    (:func:`impact.cell_itt`: firm and sector-by-year effects fitted on never-exposed
    firm-years, exposure times 0 .. ``window``, clustered by cell). None when some
    member firm-year is not exposed (membership before the launch or outside a cluster
    cell: the split's design does not apply). Memoised."""
    c, n = ev.spec.columns, ev.names

    def make():
        d = ev.data
        launch = pd.to_numeric(d[c.launch], errors="coerce").where(d[c.cluster_cell].astype(bool))
        exposed = d[c.time].to_numpy(dtype=float) >= launch.to_numpy(dtype=float)
        if ((d[n.member].to_numpy() == 1) & ~exposed).any():
            return None
        return cell_itt(
            d.assign(**{n.exposure: launch}), y=outcome, unit=c.unit, time=c.time, cell=c.cell,
            launch=n.exposure, member=n.member,
            fixed_effects=f"{c.sector}^{c.time}" if c.sector else None, max_e=window,
        )  # fmt: skip

    return ev.memo(("cell_split", outcome, window), make)


def true_cell_split(ev: Evaluation, outcome: str, fit) -> np.ndarray | None:
    """Each of ``fit``'s estimands on the generator's effects ``Y(D,S) - Y(0,0)`` of the
    same firm-years with the same weights (None without a truth)."""
    fy = ev.truth.get("firm_year")
    if fy is None or f"{outcome}_DS" not in fy.columns:
        return None
    c = ev.spec.columns
    rows = ev.data.iloc[fit.rows]
    keys = pd.MultiIndex.from_arrays([rows[c.unit].to_numpy(), rows[c.time].to_numpy()])
    gap = (fy[f"{outcome}_DS"] - fy[f"{outcome}_00"]).to_numpy()
    tau = pd.Series(gap, index=pd.MultiIndex.from_arrays([fy["firm_id"], fy["year"]]))
    return tau.reindex(keys).to_numpy() @ fit.weights
