"""True estimands of the synthetic panel, computed from the three potential paths (DGP.md §4.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "OUTCOMES",
    "RATIO_OUTCOMES",
    "att_event",
    "att_gt",
    "att_overall",
    "cell_itt",
    "hetero",
    "spillover_event",
    "switch_event",
]

#: Outcomes with potential values on every path: name -> column stem in the simulation
#: (``None``: derived in :mod:`impact.datasets.cluster.generate`).
OUTCOMES = {
    "log_tfp": "omega",
    "log_emp": "l",
    "log_va": "y",
    "log_k": "k",
    "rd_performer": "rd",
    "export": "export",
    "export_value": "xval",
    "rd_expenditure": "rdexp",
    "patents": "patents",
    "patent_mu": "patmu",
    "product_innovation": "innov",
    "emp": None,
    "va": None,
    "sales": "sales",
}
#: Non-negative level or count outcomes: ratio effects sum Y(D,S) / sum Y(.) - 1 are
#: reported for them (for ``patent_mu`` the ratio of expected counts, DGP.md §0 rule 7,
#: which Poisson estimators target).
RATIO_OUTCOMES = ("emp", "va", "sales", "export_value", "rd_expenditure", "patents", "patent_mu")


def _cohort_sample(fy: pd.DataFrame) -> pd.DataFrame:
    """Member firm-years whose firm is also observed in its base year g - 1 (rule 7)."""
    members = fy[fy["join_year"].notna() & fy["alive_DS"]]
    base = members.loc[members["year"] == members["join_year"] - 1, ["firm_id"]]
    return members[members["firm_id"].isin(base["firm_id"])]


def att_gt(fy: pd.DataFrame) -> pd.DataFrame:
    """ATT(g, t) per outcome, cohort and year, direct and total.

    ``att_direct``/``att_total``: mean over cohort-g firms observed at g-1 and t of
    Y(D,S) - Y(0,S) and Y(D,S) - Y(0,0) in year t. ``*_base`` versions subtract the same
    firms' difference in g-1: what a DiD with base period g-1 identifies (they differ
    from the level versions only when the base year is already exposed to spillovers).
    Level outcomes add ``ratio_direct``/``ratio_total`` = sum Y(D,S) / sum Y(.) - 1.
    """
    s = _cohort_sample(fy)
    base = s[s["year"] == s["join_year"] - 1].set_index("firm_id")
    firms = s["firm_id"]
    means, sums = {}, {}
    for out in OUTCOMES:  # one group-by of every outcome's columns at once
        ds, s0, s00 = (s[f"{out}_{p}"].to_numpy() for p in ("DS", "0S", "00"))
        b_ds = base[f"{out}_DS"]
        means[(out, "att_direct")] = ds - s0
        means[(out, "att_total")] = ds - s00
        means[(out, "b_direct")] = (b_ds - base[f"{out}_0S"]).reindex(firms).to_numpy()
        means[(out, "b_total")] = (b_ds - base[f"{out}_00"]).reindex(firms).to_numpy()
        sums[(out, "sds")], sums[(out, "ss0")], sums[(out, "ss00")] = ds, s0, s00
    keys = [s["join_year"].astype(int).to_numpy(), s["year"].to_numpy()]
    by_cell = pd.DataFrame(means).groupby(keys)
    g_mean, n = by_cell.mean(), by_cell.size()
    g_sum = pd.DataFrame(sums).groupby(keys).sum()
    cells = g_mean.index.to_frame(index=False, name=["cohort", "year"])
    rows = []
    for out in OUTCOMES:
        m, t = g_mean[out], g_sum[out]
        agg = cells.assign(
            n=n.to_numpy(),
            att_direct=m["att_direct"].to_numpy(),
            att_total=m["att_total"].to_numpy(),
            att_direct_base=(m["att_direct"] - m["b_direct"]).to_numpy(),
            att_total_base=(m["att_total"] - m["b_total"]).to_numpy(),
        )
        if out in RATIO_OUTCOMES:
            agg["ratio_direct"] = (t["sds"] / t["ss0"] - 1).to_numpy()
            agg["ratio_total"] = (t["sds"] / t["ss00"] - 1).to_numpy()
        else:
            agg["ratio_direct"] = np.nan
            agg["ratio_total"] = np.nan
        agg.insert(0, "outcome", out)
        rows.append(agg)
    return pd.concat(rows, ignore_index=True)


def cohort_sizes(gt: pd.DataFrame) -> pd.Series:
    """Cohort size: firms of cohort g observed in the base year g - 1."""
    one = gt[gt["outcome"] == gt["outcome"].iloc[0]]
    base = one[one["year"] == one["cohort"] - 1]
    return base.set_index("cohort")["n"]


_EFFECTS = ["att_direct", "att_total", "att_direct_base", "att_total_base"]


def att_event(gt: pd.DataFrame, event_times: range = range(-5, 11)) -> pd.DataFrame:
    """ATT(e) with Callaway–Sant'Anna dynamic weights (cohort sizes among cohorts observed at e)."""
    size = cohort_sizes(gt)
    d = gt.assign(event_time=gt["year"] - gt["cohort"], w=gt["cohort"].map(size))
    d = d[d["event_time"].isin(list(event_times))]
    keys = ["outcome", "event_time"]
    w = d["w"] / d.groupby(keys)["w"].transform("sum")
    out = d[_EFFECTS].mul(w, axis=0).assign(**{k: d[k] for k in keys}).groupby(keys).sum()
    counts = d.groupby(keys).agg(n_cohorts=("n", "size"), n=("n", "sum"))
    out = counts.join(out).reset_index()
    return out.astype({"event_time": int, "n": int})[[*keys, "n_cohorts", "n", *_EFFECTS]]


def att_overall(gt: pd.DataFrame) -> pd.DataFrame:
    """CS "simple" (cohort-size weights over post cells) and "group" aggregations."""
    size = cohort_sizes(gt)
    post = gt[gt["year"] >= gt["cohort"]].assign(w=lambda x: x["cohort"].map(size))
    w = post["w"] / post.groupby("outcome")["w"].transform("sum")
    simple = post[_EFFECTS].mul(w, axis=0).groupby(post["outcome"]).sum()
    by_g = post.groupby(["outcome", "cohort"])[_EFFECTS].mean()
    wg = size.reindex(by_g.index.get_level_values("cohort")).to_numpy()
    wg = pd.Series(wg, index=by_g.index)
    wg = wg / wg.groupby(level="outcome").transform("sum")
    group = by_g.mul(wg, axis=0).groupby(level="outcome").sum()
    both = pd.concat([simple.assign(aggregation="simple"), group.assign(aggregation="group")])
    both = both.reset_index().sort_values("outcome", kind="stable")  # simple, then group
    return both.reset_index(drop=True)[["outcome", "aggregation", *_EFFECTS]]


def spillover_event(fy: pd.DataFrame) -> pd.DataFrame:
    """Mean Y(observed) - Y(0,0) over exposed non-members, by exposure time t - launch.

    ``effect``: all exposed non-members (later joiners count before they join);
    ``effect_never_joiners``: firms that never join.
    """
    exp = fy[fy["launch_year"].notna() & (fy["year"] >= fy["launch_year"]) & fy["alive_DS"]]
    nonmem = exp[~(exp["join_year"] <= exp["year"])]
    e = (nonmem["year"] - nonmem["launch_year"]).astype(int)
    never = nonmem["join_year"].isna()
    rows = []
    for out in OUTCOMES:
        diff = nonmem[f"{out}_DS"] - nonmem[f"{out}_00"]
        a = diff.groupby(e).agg(["mean", "size"])
        b = diff[never].groupby(e[never]).mean()
        for et in a.index:
            rows.append(
                {
                    "outcome": out,
                    "exposure_time": int(et),
                    "effect": float(a.loc[et, "mean"]),
                    "n": int(a.loc[et, "size"]),
                    "effect_never_joiners": float(b.get(et, np.nan)),
                }
            )
    return pd.DataFrame(rows)


def hetero(fy: pd.DataFrame) -> pd.DataFrame:
    """Post-treatment ATT (firm-year mean over t >= g, base-year sample) by subgroup."""
    s = _cohort_sample(fy)
    s = s[s["year"] >= s["join_year"]]
    founder = (s["join_year"] == s["launch_year"]).to_numpy()
    groups = {
        "size_class": (s["size_class"].cat.codes.to_numpy(), list(s["size_class"].cat.categories)),
        "high_tech": (np.where(s["high_tech"].to_numpy(), 0, 1), ["high-tech", "other"]),
        "founder": (np.where(founder, 0, 1), ["founder", "later joiner"]),
    }
    rows = []
    for out in OUTCOMES:
        ds = s[f"{out}_DS"].to_numpy()
        direct = ds - s[f"{out}_0S"].to_numpy()
        total = ds - s[f"{out}_00"].to_numpy()
        for dim, (codes, labels) in groups.items():
            n = np.bincount(codes, minlength=len(labels))
            sd = np.bincount(codes, weights=direct, minlength=len(labels))
            st = np.bincount(codes, weights=total, minlength=len(labels))
            for j in np.flatnonzero(n):
                rows.append(
                    {
                        "outcome": out,
                        "dimension": dim,
                        "group": labels[j],
                        "n": int(n[j]),
                        "att_direct": float(sd[j] / n[j]),
                        "att_total": float(st[j] / n[j]),
                    }
                )
    return pd.DataFrame(rows)


def switch_event(fy: pd.DataFrame, effects: range = range(1, 7)) -> pd.DataFrame:
    """The estimand of ``did_multiplegt``'s effect ``l`` where members may leave (scenario
    S10): the mean, over firms that joined in ``F`` and are observed in ``F - 1`` and
    ``F - 1 + l``, of ``Y(D,S) - Y(0,0)`` in ``F - 1 + l`` less the same difference in
    ``F - 1`` (zero without anticipation), on the path each firm took (a firm that left
    keeps what membership built).

    ``effect_stayers`` and ``effect_leavers`` split the firms by their membership in
    ``F - 1 + l``; ``share_left`` is the leavers' share.
    """
    s = fy[fy["join_year"].notna() & fy["alive_DS"]]
    left = fy["leave_year"] if "leave_year" in fy else pd.Series(np.nan, index=fy.index)
    s = s.assign(left=(left.reindex(s.index) <= s["year"]).to_numpy())
    base = s[s["year"] == s["join_year"] - 1].set_index("firm_id")
    rows = []
    for out in OUTCOMES:
        gap = s[f"{out}_DS"] - s[f"{out}_00"]
        gap0 = (base[f"{out}_DS"] - base[f"{out}_00"]).reindex(s["firm_id"]).to_numpy()
        eff = (gap - gap0).to_numpy()
        for h in effects:
            at = (s["year"] == s["join_year"] - 1 + h).to_numpy() & np.isfinite(gap0)
            stay = at & ~s["left"].to_numpy()
            gone = at & s["left"].to_numpy()
            if not at.any():
                continue
            rows.append(
                {
                    "outcome": out,
                    "effect": h,
                    "n": int(at.sum()),
                    "effect_mean": float(eff[at].mean()),
                    "effect_stayers": float(eff[stay].mean()) if stay.any() else np.nan,
                    "effect_leavers": float(eff[gone].mean()) if gone.any() else np.nan,
                    "share_left": float(gone.sum() / at.sum()),
                }
            )
    return pd.DataFrame(rows)


def cell_itt(fy: pd.DataFrame) -> pd.DataFrame:
    """The launch's intention-to-treat effect on the mean firm of each cluster cell, by
    year, and its exact split into members and non-members (DGP.md §4.9 "cell-level ITT").

    Per outcome, cluster cell and year (firms alive on the observed path):
    ``itt`` = mean of ``Y(D,S) - Y(0,0)`` over the cell's firms; ``member_share`` = share
    of those firms that are members in that year; ``member_effect`` and ``spillover`` =
    the same mean over members and over non-members, so that
    ``itt = member_share * member_effect + (1 - member_share) * spillover``. A cell-level
    DiD of cell means with base year ``launch - 1`` identifies ``itt`` less its value in
    the base year (zero: nothing happens before a launch); ``exposure_time`` = year -
    launch. With entry and exit, what a DiD of the observed cell means identifies is
    ``itt_means``: the cell's mean outcome on the observed path (firms alive there) less
    its mean on the no-policy path (firms alive there), which adds the launch's effect on
    the cell's composition.
    """
    s = fy[fy["launch_year"].notna() & fy["alive_DS"]]
    member = (s["join_year"] <= s["year"]).to_numpy()
    keys = ["cell", "year"]
    rows = []
    for out in OUTCOMES:
        gap = (s[f"{out}_DS"] - s[f"{out}_00"]).to_numpy()
        frame = pd.DataFrame({
            "cell": s["cell"].to_numpy(), "year": s["year"].to_numpy(),
            "launch_year": s["launch_year"].to_numpy(), "gap": gap, "member": member,
            "gap_m": np.where(member, gap, 0.0), "gap_n": np.where(member, 0.0, gap),
        })  # fmt: skip
        g = frame.groupby(keys, sort=True).agg(
            launch_year=("launch_year", "first"), n_firms=("gap", "size"),
            itt=("gap", "mean"), members=("member", "sum"), sum_m=("gap_m", "sum"),
            sum_n=("gap_n", "sum"),
        )  # fmt: skip
        g["member_share"] = g["members"] / g["n_firms"]
        g["member_effect"] = g["sum_m"] / g["members"].where(g["members"] > 0)
        nonm = g["n_firms"] - g["members"]
        g["spillover"] = g["sum_n"] / nonm.where(nonm > 0)
        g["itt_means"] = _path_means(fy, out, "DS") - _path_means(fy, out, "00")
        g = g.reset_index()
        g.insert(0, "outcome", out)
        g["exposure_time"] = (g["year"] - g["launch_year"]).astype(int)
        rows.append(g.drop(columns=["members", "sum_m", "sum_n"]))
    return pd.concat(rows, ignore_index=True)


def _path_means(fy: pd.DataFrame, out: str, path: str) -> pd.Series:
    """Mean of ``out`` on ``path`` over the cluster-cell firms alive on that path."""
    s = fy[fy["launch_year"].notna() & fy[f"alive_{path}"]]
    return s.groupby(["cell", "year"], sort=True)[f"{out}_{path}"].mean()
