"""Report table 7: heterogeneous effects of membership (SMEs vs large firms, high-tech vs
other sectors, founders vs later joiners), with a test of the difference.

Each subgroup's effect is Callaway-Sant'Anna on the subgroup's members against the
report's controls, "simple" aggregation (post-treatment cells weighted by cohort size).
The two subgroups share their controls, so their estimates are correlated; the SE of the
difference comes from the difference of the two influence functions, aligned by unit and
summed within clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from impact.inference.clusters import cluster_codes, cluster_sums
from impact.report.disclosure import SUPPRESSED, disclosure_note, suppress_rows
from impact.report.evaluation import Evaluation
from impact.report.few_clusters import (
    WILD_DRAWS,
    WILD_MIN_CLUSTERS,
    few_clusters,
    wild_subgroups,
)
from impact.report.frames import counts_frame
from impact.report.headline import primary_estimator
from impact.report.table import Table

__all__ = ["difference_se", "heterogeneity", "subgroups", "true_subgroup_effect"]


def subgroups(ev: Evaluation) -> dict[str, tuple[tuple[str, np.ndarray], tuple[str, np.ndarray]]]:
    """Row masks of the two member subgroups of each dimension the spec lists."""
    c, d = ev.spec.columns, ev.data
    member = ~np.isnan(d[ev.names.cohort].to_numpy())
    out: dict[str, tuple[tuple[str, np.ndarray], tuple[str, np.ndarray]]] = {}
    for dim in ev.spec.heterogeneity:
        if dim == "size" and c.size_class:
            known = d[c.size_class].notna().to_numpy()  # missing classes join neither group
            sme = d[c.size_class].astype(str).isin(ev.spec.sme_classes).to_numpy() & known
            out["size"] = (("SME", member & sme), ("not SME", member & known & ~sme))
        elif dim == "high_tech" and c.high_tech:
            ht = pd.to_numeric(d[c.high_tech], errors="coerce").to_numpy(dtype=float)
            out["high_tech"] = (("high-tech", member & (ht == 1)), ("other", member & (ht == 0)))
        elif dim == "founder":
            launch = pd.to_numeric(d[c.launch], errors="coerce").to_numpy(dtype=float)
            founder = d[ev.names.cohort].to_numpy() == launch
            out["founder"] = (("founder", member & founder), ("later joiner", member & ~founder))
    return out


def difference_se(a, b, unit_cluster: pd.Series) -> float:
    """SE of ``a.estimate - b.estimate`` for two aggregations of ``att_gt`` fits that may
    share units: influence functions scaled by each fit's unit count, aligned by unit,
    summed within clusters (``unit_cluster`` maps unit -> cluster)."""
    fa, fb = a[1], b[1]
    ia = pd.Series(a[0].influence / fa.n_units, index=fa.units)
    ib = pd.Series(b[0].influence / fb.n_units, index=fb.units)
    diff = ia.sub(ib, fill_value=0.0)
    codes, n_clusters = cluster_codes(unit_cluster.reindex(diff.index).to_numpy())
    sums = cluster_sums(diff.to_numpy(), codes, n_clusters)
    return float(np.sqrt((sums**2).sum()))


def true_subgroup_effect(ev: Evaluation, outcome: str, firms: pd.Index) -> float:
    """The generator's effect on a subgroup with the weights of CS's "simple" aggregation:
    each post-treatment cell (g, t) is the mean over the subgroup's cohort-g firms seen at
    g - 1 and t of the effect at t minus the effect at g - 1 (what DiD identifies), and
    cells are weighted by the cohort's size at g - 1 (DGP.md §0 rule 7)."""
    fy = ev.truth.get("firm_year")
    ref = {"total": "00", "direct": "0S"}.get(ev.spec.effect)
    if fy is None or ref is None or f"{outcome}_DS" not in fy.columns:
        return float("nan")
    fy = fy[fy["firm_id"].isin(firms) & fy["alive_DS"].astype(bool) & fy["join_year"].notna()]
    gap = (fy[f"{outcome}_DS"] - fy[f"{outcome}_{ref}"]).to_numpy()
    frame = pd.DataFrame(
        {"firm": fy["firm_id"].to_numpy(), "g": fy["join_year"].to_numpy(),
         "t": fy["year"].to_numpy(), "gap": gap}
    ).dropna(subset=["gap"])  # fmt: skip
    base = frame[frame["t"] == frame["g"] - 1][["firm", "gap"]].rename(columns={"gap": "b"})
    post = frame[frame["t"] >= frame["g"]].merge(base, on="firm", how="inner")
    if post.empty:
        return float("nan")
    cells = post.assign(d=post["gap"] - post["b"]).groupby(["g", "t"])["d"].mean()
    size = base.merge(frame[["firm", "g"]].drop_duplicates(), on="firm").groupby("g").size()
    w = size.reindex(cells.index.get_level_values("g")).to_numpy(dtype=float)
    return float(np.average(cells.to_numpy(), weights=w))


def _subgroup_sample(
    ev: Evaluation, mask: np.ndarray, member: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Rows of a subgroup's members and the controls, and the covariates to use.

    A covariate constant among the subgroup's members (high-tech status when splitting by
    it) separates them from controls with other values: those controls get zero
    propensity weight. They are dropped and the covariate with them, which is the same
    comparison without a separated logit.
    """
    keep = mask | ~member
    covs = []
    for cov in ev.spec.covariates:
        vals = np.unique(ev.data.loc[mask, cov].to_numpy(dtype=float))
        if len(vals) == 1:
            keep = keep & (mask | (ev.data[cov].to_numpy(dtype=float) == vals[0]))
        else:
            covs.append(cov)
    return keep, covs


def _has_treated_members(ev: Evaluation, mask: np.ndarray) -> bool:
    """Whether a subgroup holds a member firm that joins within the observed periods."""
    d = ev.data
    g = d.loc[mask, ev.names.cohort].to_numpy(dtype=float)
    last = float(d[ev.spec.columns.time].to_numpy(dtype=float).max())
    return bool((g <= last).any())  # NaN (never-members) compares False


def heterogeneity(ev: Evaluation, notes: list[str] | None = None) -> pd.DataFrame:
    """Table 7 as a tidy frame: per outcome, dimension and subgroup the effect, and the
    difference between the two subgroups with its SE and p-value; with few clusters (6 to
    29) also ``p_wild``, the wild bootstrap-t p-values of both effects and the difference
    from one set of draws (reasons for gaps go to ``notes``)."""
    n_cl = few_clusters(ev)
    wild = n_cl is not None and n_cl >= WILD_MIN_CLUSTERS
    notes = [] if notes is None else notes
    c, d = ev.spec.columns, ev.data
    unit_cluster = d.groupby(c.unit)[ev.spec.cluster].first()
    groups = subgroups(ev)
    member = ~np.isnan(d[ev.names.cohort].to_numpy())
    rows = []
    for fam in ev.spec.families:
        if primary_estimator(fam) != "cs":
            continue
        outcome = fam.outcomes[0]
        for dim, pair in groups.items():
            empty = [label for label, mask in pair if not _has_treated_members(ev, mask)]
            if empty:  # nothing to compare: say so instead of aborting the report
                notes.append(
                    f"the {dim} split is not estimated: no member of {empty[0]!r} joins "
                    "within the observed years"
                )
                continue
            fits, keeps = [], []
            for label, mask in pair:
                keep, covs = _subgroup_sample(ev, mask, member)
                keeps.append(keep)
                gt = ev.memo(
                    ("hetero", outcome, dim, label),
                    lambda keep=keep, covs=covs, y=outcome: ev.fit_att_gt(
                        d[keep], y, covariates=covs
                    ),
                )
                agg = gt.aggregate("simple")
                fits.append((agg, gt))
                firms = pd.Index(d.loc[mask, c.unit].unique())
                rows.append(
                    {
                        "outcome": outcome, "dimension": dim, "group": label,
                        "estimate": agg.estimate, "std_error": agg.std_error,
                        "members": len(firms),
                        "true_effect": true_subgroup_effect(ev, outcome, firms),
                    }
                )  # fmt: skip
            diff = fits[0][0].estimate - fits[1][0].estimate
            se = difference_se(fits[0], fits[1], unit_cluster)
            rows.append(
                {
                    "outcome": outcome, "dimension": dim,
                    "group": f"difference ({pair[0][0]} - {pair[1][0]})",
                    "estimate": diff, "std_error": se,
                    "p_value": float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else np.nan,
                    "true_effect": rows[-2]["true_effect"] - rows[-1]["true_effect"],
                }
            )  # fmt: skip
            if wild:
                gts = (fits[0][1], fits[1][1])
                ps = wild_subgroups(ev, gts, tuple(keeps), unit_cluster, notes)
                for row, p in zip(rows[-3:], ps, strict=True):
                    row["p_wild"] = p
    frame = counts_frame(rows, ("members",))
    if "p_wild" in frame.columns:  # after the normal p-value
        frame = frame[[col for col in frame.columns if col != "p_wild"] + ["p_wild"]]
    return frame


def table_heterogeneity(ev: Evaluation) -> Table:
    """Table 7: effects by subgroup with a test of the difference."""
    notes: list[str] = []
    frame, n_hidden = _disclose(heterogeneity(ev, notes), ev.spec.disclosure_min_firms)
    note = (
        "Callaway-Sant'Anna (doubly robust, the report's controls and covariates) on each "
        "subgroup's members, simple aggregation over post-treatment cells; a covariate "
        "constant among a subgroup's members restricts its controls to the same value. "
        f"SME: size class in {list(ev.spec.sme_classes)} (size before the cell's launch), "
        "'not SME' every other known class; members with a missing class or high-tech "
        "status join neither group; "
        "founders join in their cell's launch year. Difference: SE from the difference of "
        "the two influence functions (the subgroups share controls), clustered by "
        f"{ev.spec.cluster}; p-value two-sided normal."
    )
    if ev.truth:
        note += (
            f" Truth: the generator's {ev.spec.effect} effect on the subgroup's post-joining "
            "firm-years relative to its base year."
        )
    if "p_wild" in frame.columns:
        note += (
            f" Only {few_clusters(ev)} clusters ({ev.spec.cluster}): p_wild is the wild "
            f"cluster bootstrap-t p-value ({WILD_DRAWS} Webb draws, the same weight for a "
            "cluster in both subgroups) of each effect and of the difference, which holds "
            "with few clusters where the SE-based one does not."
        )
    if notes:  # wild-bootstrap gaps and splits left out
        note += " " + "; ".join(dict.fromkeys(notes)) + "."
    note += disclosure_note(n_hidden, ev.spec.disclosure_min_firms, "subgroup estimates")
    return Table("heterogeneity", "Table 7: heterogeneous effects", (), note, {}, frame=frame)


def _disclose(frame: pd.DataFrame, min_firms: int) -> tuple[pd.DataFrame, int]:
    """Subgroups of fewer than ``min_firms`` members suppressed, and with them the other
    subgroup and the difference of the same split (which would reveal them)."""
    out, n = suppress_rows(frame, "members", min_firms)
    if not n:
        return frame, 0
    block = out.groupby(["outcome", "dimension"], sort=False)[SUPPRESSED].transform("any")
    whole, _ = suppress_rows(
        frame.assign(_k=np.where(block.to_numpy(dtype=bool), 1, min_firms)), "_k", min_firms
    )
    return whole.drop(columns="_k"), int(block.sum())
