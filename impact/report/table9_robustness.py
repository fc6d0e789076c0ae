"""Report table 9: robustness of the headline estimates.

For the first outcome of every family whose headline estimator is Callaway-Sant'Anna:
the baseline (the report's controls), other control groups, one year of anticipation, a
balanced panel, a placebo launch three years early on pre-treatment data only, and, for
the first family, leave-one-cluster-out. Every variant is one :func:`impact.att_gt` call
with one setting changed; the estimate is the average of event times 0 .. window end
(placebo: of the placebo event times before the true joining year).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.disclosure import disclosure_note, suppress_rows
from impact.report.evaluation import Evaluation
from impact.report.frames import counts_frame
from impact.report.headline import cs_pretrend_p, primary_estimator
from impact.report.table import Table

__all__ = ["PLACEBO_SHIFT", "leave_one_cluster_out", "robustness"]

#: Placebo: cohorts moved this many years earlier, estimated on pre-treatment rows only.
PLACEBO_SHIFT = 3


def _variants(ev: Evaluation) -> list[tuple[str, str, dict, bool]]:
    """(label, effect, att_gt options, truth applies)."""
    spec = ev.spec
    other = (
        ("all never-members as controls", "mixed (in-cell controls are exposed)", None)
        if spec.control == "out_of_cell"
        else ("never-members outside cluster cells only", "total", ev.names.outside)
    )
    return [
        ("baseline", spec.effect, {}, True),
        ("not-yet-treated controls", "mixed (not-yet-treated joiners are exposed)",
         {"control": "notyet"}, False),
        (other[0], other[1], {"control_pool": other[2]}, other[1] == spec.effect),
        ("anticipation of one year", spec.effect, {"anticipation": 1}, True),
        ("balanced panel", spec.effect, {"panel": "balanced"}, True),
    ]  # fmt: skip


def _summary(gt, last: int, first: int) -> tuple[float, float, float]:
    """The average of event times 0..last and the pre-trend p-value of times first..-1."""
    a = gt.aggregate("dynamic", min_e=0, max_e=last)
    return a.estimate, a.std_error, cs_pretrend_p(gt, (first, last))


def _placebo(ev: Evaluation, outcome: str) -> tuple[float, float, float, int]:
    """Cohorts moved PLACEBO_SHIFT years earlier; members' rows after the true joining
    year dropped, so every placebo effect is zero by construction of the data."""
    d = ev.data
    g = d[ev.names.cohort].to_numpy()
    t = d[ev.spec.columns.time].to_numpy(dtype=float)
    keep = np.isnan(g) | (t < g)
    sample = d[keep].assign(**{ev.names.placebo: (g - PLACEBO_SHIFT)[keep]})
    gt = ev.fit_att_gt(sample, outcome, cohort=ev.names.placebo)
    est, se, _ = _summary(gt, PLACEBO_SHIFT - 1, ev.spec.window[0])
    # the placebo is itself the pre-trend test: its own pre-periods lie further back, on
    # cohort cells of few firms, where a Wald test over-rejects (docs/diagnostics.md)
    return est, se, float("nan"), int(gt.n_units)


def leave_one_cluster_out(ev: Evaluation, outcome: str) -> pd.DataFrame:
    """The baseline estimate without each cluster's cell in turn (its members and
    non-members), one row per cluster."""
    c, d = ev.spec.columns, ev.data
    launched = pd.to_numeric(d[c.launch], errors="coerce").notna().to_numpy()
    cells = pd.unique(d.loc[launched, c.cell])
    rows = []
    for cell in sorted(cells, key=str):
        gt = ev.fit_att_gt(d[(d[c.cell] != cell).to_numpy()], outcome)
        est, se, _ = _summary(gt, ev.spec.window[1], ev.spec.window[0])
        rows.append({"cell": cell, "estimate": est, "std_error": se})
    return pd.DataFrame(rows)


def robustness(ev: Evaluation) -> pd.DataFrame:
    """Table 9 as a tidy frame: outcome, variant, effect, estimate, SE, pre-trend p,
    firms, truth."""
    spec, c = ev.spec, ev.spec.columns
    d = ev.data.assign(**{ev.names.outside: ~ev.data[c.cluster_cell].astype(bool)})
    ev_out = Evaluation(d, spec, ev.names, ev.truth)
    rows = []
    first = True
    for fam in spec.families:
        if primary_estimator(fam) != "cs":
            continue
        outcome = fam.outcomes[0]
        truth = ev.true_post_average(outcome)
        for label, effect, kw, has_truth in _variants(ev):
            gt = (
                ev.att_gt(outcome, **kw)
                if kw.get("control_pool", ev.names.pool) == ev.names.pool
                else ev_out.fit_att_gt(d, outcome, **kw)
            )
            est, se, p = _summary(gt, spec.window[1], spec.window[0])
            rows.append(
                {
                    "outcome": outcome, "variant": label, "effect": effect, "estimate": est,
                    "std_error": se, "pretrend_p": p, "firms": int(gt.n_units),
                    "true_effect": truth if has_truth else np.nan,
                }
            )  # fmt: skip
        est, se, p, n = _placebo(ev, outcome)
        rows.append(
            {
                "outcome": outcome, "effect": "none (placebo)", "estimate": est,
                "variant": f"placebo: joining {PLACEBO_SHIFT} years early, pre-period rows",
                "std_error": se, "pretrend_p": p, "firms": n,
                "true_effect": 0.0 if ev.truth else np.nan,
            }
        )  # fmt: skip
        if first:
            loco = leave_one_cluster_out(ev, outcome)
            for stat, idx in (
                ("min", loco["estimate"].idxmin()),
                ("max", loco["estimate"].idxmax()),
            ):
                r = loco.loc[idx]
                cell = r["cell"]
                if isinstance(cell, float) and cell.is_integer():
                    cell = int(cell)  # an id read through a float column
                rows.append(
                    {
                        "outcome": outcome, "effect": spec.effect,
                        "variant": f"leave one cluster out: {stat} (without cell {cell})",
                        "estimate": r["estimate"], "std_error": r["std_error"],
                        "pretrend_p": np.nan, "firms": np.nan, "true_effect": np.nan,
                    }
                )  # fmt: skip
            first = False
    return counts_frame(rows, ("firms",))


def table_robustness(ev: Evaluation) -> Table:
    """Table 9: robustness of the headline estimates."""
    k = ev.spec.disclosure_min_firms
    frame, n_hidden = suppress_rows(robustness(ev), "firms", k)
    note = (
        "Callaway-Sant'Anna (doubly robust, the report's covariates), average of event times "
        f"0-{ev.spec.window[1]}, one setting changed per row. Placebo: cohorts moved "
        f"{PLACEBO_SHIFT} years earlier on members' rows before their true joining year "
        f"(average of placebo event times 0-{PLACEBO_SHIFT - 1}; the true effect is zero). "
        "Leave one cluster out: the smallest and largest estimate when one cluster's cell "
        "(members and non-members) is dropped. Rows marked mixed compare with exposed firms "
        "and target neither the direct nor the total effect"
        + (
            " (no truth shown); the truth of the balanced-panel and anticipation rows is "
            "the baseline's"
            if ev.truth
            else ""
        )
        + f". SEs clustered by {ev.spec.cluster}."
        + disclosure_note(n_hidden, k, "estimates")
    )
    return Table("robustness", "Table 9: robustness", (), note, {}, frame=frame)
