"""Report table 8: spillovers of a cluster on the non-member firms of its cell.

The existing staggered estimator, not a second design: non-member firms in cluster cells
are "treated" from their cell's launch year (the exposure cohort) and compared with firms
outside cluster cells (``control_pool``), by exposure time. Members are left out, and so
are firms that join later (they are exposed before they join but also select into
membership), so the estimand is the spillover on firms that never join, which is what
the truth's ``effect_never_joiners`` measures (DGP.md §4.9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.cell_level import (
    cell_itt_fit,
    cell_means,
    cell_sdid_fit,
    cell_split_fit,
    true_cell_itt,
    true_cell_sdid,
    true_cell_split,
)
from impact.report.disclosure import SUPPRESSED, disclosure_note, suppress_rows
from impact.report.evaluation import Evaluation
from impact.report.frames import counts_frame
from impact.report.headline import cs_pretrend_p, primary_estimator
from impact.report.labels import REFERENCE_CELL
from impact.report.table import Table

__all__ = ["spillovers"]


def _sample(ev: Evaluation) -> pd.DataFrame:
    """Never-members only: in cluster cells with the launch year as cohort, outside
    cluster cells as the control pool."""
    c, d, n = ev.spec.columns, ev.data, ev.names
    never = np.isnan(d[n.cohort].to_numpy())
    in_cell = d[c.cluster_cell].astype(bool).to_numpy()
    launch = pd.to_numeric(d[c.launch], errors="coerce").to_numpy(dtype=float)
    sample = d[never].assign(
        **{n.exposure: np.where(in_cell, launch, np.nan)[never], n.outside: ~in_cell[never]}
    )
    return sample


#: The two designs of the table: the firm-level spillover on never-joiners and the
#: launch's intention-to-treat effect on the cluster cell's mean firm.
FIRM, CELL = "never-joiners vs firms outside (firm level)", "launch ITT on the cell (cell means)"
SDID = "launch ITT on the cell, synthetic DiD"
#: The split of the launch's ITT on cluster-cell firms (``impact.cell_itt``), by component.
SPLIT = {
    "itt": "launch ITT on cell firms, imputation",
    "members": "members' direct effect, imputation",
    "non_members": "non-members' spillover, imputation",
}


def _rows(design, outcome, agg, truth, last, **average) -> list[dict]:
    """One row per exposure time and the average over 0 .. ``last`` (with ``average``'s
    extra columns); the truth is 0 before the launch and ``truth[e]`` after."""
    rows = []
    for r in agg.table.itertuples():
        e = int(r.rel_time)
        true = np.nan if truth is None else (0.0 if e < 0 else float(truth.get(e, np.nan)))
        rows.append({
            "design": design, "outcome": outcome, "exposure_time": e,
            "estimate": r.estimate, "std_error": r.std_error, "true_effect": true,
        })  # fmt: skip
    post = [r["true_effect"] for r in rows if 0 <= r["exposure_time"] <= last]
    rows.append({"design": design, "outcome": outcome, "exposure_time": pd.NA,
                 "estimate": agg.estimate, "std_error": agg.std_error,
                 "true_effect": float(np.mean(post)) if post else np.nan, **average})  # fmt: skip
    return rows


def _treated_cells(ev: Evaluation, outcome: str) -> int:
    cells = cell_means(ev, outcome)[0]
    return int(cells.loc[cells["launch"].notna(), "cell"].nunique())


def _split_rows(ev: Evaluation, outcome: str, last: int) -> list[dict]:
    """The overall ITT on cluster-cell firms and its two parts, each with its weight."""
    fit = cell_split_fit(ev, outcome, last)
    if fit is None:
        return []
    truth = true_cell_split(ev, outcome, fit) if ev.truth else None
    tab = fit.table
    return [
        {"design": SPLIT[r.component], "outcome": outcome, "exposure_time": pd.NA,
         "estimate": r.estimate, "std_error": r.std_error,
         "true_effect": np.nan if truth is None else float(truth[i]),
         "units": int(r.n_cells), "weight": float(r.weight)}
        for i, r in enumerate(tab.itertuples()) if pd.isna(r.rel_time)
    ]  # fmt: skip


def spillovers(ev: Evaluation) -> pd.DataFrame:
    """Table 8 as a tidy frame: per design and outcome, the effect by exposure time and
    its average over exposure times 0 .. window end, with the truth when known."""
    c, spec = ev.spec.columns, ev.spec
    sample = _sample(ev)
    lo, hi = spec.window
    truth = ev.truth.get("spillover_event")
    rows = []
    for fam in spec.families:
        if primary_estimator(fam) != "cs":
            continue
        for outcome in fam.outcomes:
            gt = ev.memo(
                ("spill", outcome),
                lambda y=outcome: ev.fit_att_gt(
                    sample, y, cohort=ev.names.exposure, control_pool=ev.names.outside,
                    base_period="universal",
                ),
            )  # fmt: skip
            t = None
            if truth is not None and outcome in set(truth["outcome"]):
                tt = truth[truth["outcome"] == outcome].set_index("exposure_time")
                t = tt["effect_never_joiners"]
            exposed = sample.loc[sample[ev.names.exposure].notna(), c.unit].nunique()
            rows += _rows(
                FIRM, outcome, gt.aggregate("dynamic", min_e=lo, max_e=hi), t, hi,
                units=int(exposed), pretrend_p=cs_pretrend_p(gt, ev.spec.window),
            )  # fmt: skip
        if c.cell and c.launch:
            for outcome in fam.outcomes:
                cg = cell_itt_fit(ev, outcome)
                rows += _rows(
                    CELL, outcome, cg.aggregate("dynamic", min_e=lo, max_e=hi),
                    true_cell_itt(ev, outcome), hi,
                    units=_treated_cells(ev, outcome),
                    pretrend_p=cs_pretrend_p(cg, ev.spec.window),
                )  # fmt: skip
                rows += _split_rows(ev, outcome, hi)
                sd, incomplete = cell_sdid_fit(ev, outcome, hi)
                if sd is None:
                    continue
                rows.append({
                    "design": SDID, "outcome": outcome, "exposure_time": pd.NA,
                    "estimate": sd.estimate, "std_error": sd.std_error,
                    "true_effect": true_cell_sdid(ev, outcome, sd) if ev.truth else np.nan,
                    "units": int(sd.n_units - sd.n_control),
                    "incomplete_cells": incomplete,
                })  # fmt: skip
    return counts_frame(rows, ("exposure_time", "units", "incomplete_cells"))


#: Row labels of the designs in the displayed table.
_LABELS = {
    FIRM: "never-joiners vs outside firms", CELL: "cell ITT (cell means)",
    SPLIT["itt"]: "ITT on cell firms", SPLIT["members"]: "of which members' direct effect",
    SPLIT["non_members"]: "of which non-members' spillover", SDID: "cell ITT (synthetic DiD)",
}  # fmt: skip


def _cell(
    k: str, e: float, s: float, w: float, event_rows: bool, split: bool, hidden: bool = False
) -> str:
    if k == "-1" and event_rows:
        return REFERENCE_CELL
    if hidden:
        return SUPPRESSED
    if pd.isna(e):
        return ""
    return f"{e:.3f} ({s:.3f})" + (f", weight {w:.2f}" if split else "")


def _display(frame: pd.DataFrame, last: int) -> pd.DataFrame:
    """One block of rows per design (exposure times, then the average); per outcome a
    column of "estimate (SE)" (with the component's weight for the split) and the truth."""
    keys = frame["exposure_time"].astype("string").fillna(f"average 0..{last}")
    blocks = []
    for design in frame["design"].drop_duplicates():
        d_sel = (frame["design"] == design).to_numpy()
        times = keys[d_sel].drop_duplicates().to_list()
        event_rows = frame.loc[d_sel, "exposure_time"].notna().any()
        block = pd.DataFrame({"design": _LABELS[design], "exposure time": times})
        split = design in (SPLIT["members"], SPLIT["non_members"])
        for o in frame["outcome"].drop_duplicates():
            sel = d_sel & (frame["outcome"] == o).to_numpy()
            f = frame[sel].set_index(keys[sel].to_numpy()).reindex(times)
            w = f["weight"] if "weight" in f else pd.Series(np.nan, index=f.index)
            hid = f[SUPPRESSED].fillna(False) if SUPPRESSED in f else pd.Series(False, f.index)
            block[o] = [_cell(k, e, s, ww, event_rows, split, bool(h)) for k, e, s, ww, h in
                        zip(times, f["estimate"], f["std_error"], w, hid, strict=True)]  # fmt: skip
            if (
                "true_effect" in frame
                and frame.loc[frame["outcome"] == o, "true_effect"].notna().any()
            ):
                block[f"{o} truth"] = f["true_effect"].to_numpy()
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def table_spillovers(ev: Evaluation) -> Table:
    """Table 8: spillovers on non-member firms in cluster cells, by exposure time, and the
    launch's effect on the whole cell."""
    k = ev.spec.disclosure_min_firms
    frame, n_hidden = _disclose(spillovers(ev), k)
    display = _display(frame, ev.spec.window[1]) if not frame.empty else None
    note = (
        "Firm level: non-member firms in cluster cells that never join, treated from their "
        "cell's launch year, against firms outside cluster cells (Callaway-Sant'Anna, "
        "doubly robust with the report's covariates, universal base period e = -1), by "
        "exposure time; estimate "
        f"(SE), SEs clustered by {ev.spec.cluster}. The average covers exposure times 0-"
        f"{ev.spec.window[1]}. "
        + (
            "Truth: the generator's mean of Y(observed) - Y(no policy) over exposed never-joiners. "
            if ev.truth
            else ""
        )
        + "Assumption: never-joiners and out-of-cell firms would "
        "have trended alike without the cluster; whether a firm joins depends on its path "
        "after the launch, so under selection on that path (the realistic default) "
        "never-joiners are a selected group and the estimate can be biased (docs/report.md). "
        "A positive spillover means in-cell comparisons understate the total effect of "
        "membership (DGP.md §0 rule 8). Cell ITT: the launch's effect on the mean firm of a "
        "cluster cell (members and non-members), cluster cells against cells without a "
        "cluster on cell means (Callaway-Sant'Anna with sector indicators, cells as units): "
        "who joins does not enter, so selection into membership cannot bias it. Cell ITT "
        "(SDID): synthetic DiD on the same cell means, event times 0 to the window end, "
        "sector-by-year indicators projected out on the cells without a cluster, launch "
        "waves weighted by treated cell-years, jackknife SE (cells observed in every year; "
        "omitted when fewer than two complete cells without a cluster remain)"
        + (
            "; truth: the generator's cell mean on the observed path less the cell mean "
            "without the policy, averaged over cluster cells"
            if ev.truth
            else ""
        )
        + ". ITT on cell firms = weight x members + weight x non-members (imputation: firm "
        "and sector-by-year effects fitted on firm-years not exposed to a launch, cells "
        "weighted equally, SEs clustered by cell, BJS 2024 Theorem 3): the ITT is "
        "selection-free like the cell ITT; its split assumes members and non-members would "
        "have trended alike within the cell, so under selection into membership the "
        "members' part is biased up and the non-members' down (docs/report.md)"
        + (
            "; truth: Y(observed) - Y(no policy) of the same firm-years, same weights"
            if ev.truth
            else ""
        )
        + "."
        + disclosure_note(n_hidden, k, "estimates")
    )
    return Table(
        "spillovers", "Table 8: spillovers on non-member firms in cluster cells", (), note, {},
        frame=frame, display=display,
    )  # fmt: skip


def _disclose(frame: pd.DataFrame, min_firms: int) -> tuple[pd.DataFrame, int]:
    """The firm-level design's rows (every exposure time and the average) suppressed when
    they rest on fewer than ``min_firms`` exposed firms (the cell-level designs' units are
    cluster cells, each holding many firms)."""
    if frame.empty:
        return frame, 0
    firms = pd.to_numeric(frame["units"].where(frame["design"] == FIRM), errors="coerce")
    # the exposure-time rows rest on the same exposed firms as their average row
    firms = firms.groupby([frame["design"], frame["outcome"]]).transform("max")
    out, n = suppress_rows(frame.assign(_firms=firms), "_firms", min_firms)
    return out.drop(columns="_firms"), n
