"""Report table 5: the effect of membership by outcome family and estimator.

Every number is one public estimator call on the evaluation's data (see
:class:`~impact.report.evaluation.Evaluation`); every row states which effect of
membership it targets (DGP.md §0 rule 8) and, on synthetic data, the true value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.inference.intervals import interval
from impact.report.disclosure import SUPPRESSED, disclosure_note, suppress_rows
from impact.report.evaluation import LABELS, Evaluation
from impact.report.few_clusters import WILD_DRAWS, WILD_MIN_CLUSTERS, few_clusters, wild_p
from impact.report.headline import EVENT_ESTIMATORS, cs_pretrend_p
from impact.report.spec import OutcomeFamily
from impact.report.table import Table

__all__ = ["main_results", "table_main"]

_CONTROLS = {
    "out_of_cell": "never-members outside cluster cells",
    "in_cell": "never-members in cluster cells",
    "never": "all never-members",
}


def _last_event(ev: Evaluation) -> int:
    """The latest event time any member reaches in the data."""
    if ev.engine is not None:  # from the member counts by cohort and period
        cells = ev.engine.member_cells()
        e = (cells["time"] - cells["cohort"]).to_numpy(dtype=float)
        return int(e.max()) if e.size else ev.spec.window[1]
    g = ev.data[ev.names.cohort].to_numpy(dtype=float)
    t = ev.data[ev.spec.columns.time].to_numpy(dtype=float)
    e = (t - g)[~np.isnan(g)]
    return int(e.max()) if e.size else ev.spec.window[1]


def _row(ev: Evaluation, family: OutcomeFamily, outcome: str, estimator: str) -> dict:
    spec = ev.spec
    last = spec.window[1]
    post = f"average of e = 0..{min(last, _last_event(ev))}"  # as far as the data reach
    effect, agg, pre_p = spec.effect, post, float("nan")
    truth = ev.true_post_average(outcome)
    if estimator == "twfe":
        fit = ev.static_twfe(outcome)
        member = ev.names.member
        est, se = float(fit.coef[member]), float(fit.se[member])
        obs, firms = fit.nobs, int(fit.fixef_sizes[spec.columns.unit])
        agg, truth = "all post, regression weights", ev.true_simple(outcome)
    elif estimator in ("cs", "cs_notyet"):
        gt = ev.att_gt(outcome, control="notyet" if estimator == "cs_notyet" else "never")
        a = gt.aggregate("dynamic", min_e=0, max_e=last)
        est, se = a.estimate, a.std_error
        pre_p = cs_pretrend_p(gt, spec.window)
        obs, firms = int(gt.sample_log.n_final), int(gt.n_units)
        if estimator == "cs_notyet" and spec.control != "in_cell" and spec.columns.cluster_cell:
            # later joiners in cluster cells are exposed before they join: comparing
            # with them mixes the direct effect and the spillover (DGP.md §4.10, S4)
            effect, truth = "mixed (not-yet-treated joiners are exposed)", float("nan")
    elif estimator == "etwfe_poisson":
        res = ev.etwfe_poisson(outcome)
        a = res.aggregate("simple").table.iloc[0]
        est, se = float(a["ratio"]), float(a["ratio_se"])
        obs, firms = int(res.n_obs), int(res.n_units)
        agg, truth = "proportional, all post", ev.true_ratio(outcome)
    else:
        es = ev.event_study(outcome, EVENT_ESTIMATORS[estimator])
        est, se = es.att, es.att_se
        pre_p = es.pretrend_test()["p_value"]
        obs, firms = int(es.n_obs), int(es.n_units)
    return {
        "family": family.name,
        "outcome": outcome,
        "estimator": LABELS[estimator],
        "effect": effect,
        "aggregation": agg,
        "estimate": float(est),
        "std_error": float(se),
        "conf_low": float(interval(est, se)[0]),
        "conf_high": float(interval(est, se)[1]),
        "pretrend_p": float(pre_p),
        "obs": obs,
        "firms": firms,
        "true_effect": float(truth),
    }


def _tfp_row(ev: Evaluation) -> dict:
    """Log TFP: ACF productivity, then CS, with the two-stage firm-block bootstrap."""
    spec = ev.spec
    res = ev.tfp_did()
    row = res.table.set_index("parameter").loc["dynamic"]
    est, se = float(row["estimate"]), float(row["std_error"])
    return {
        "family": "productivity",
        "outcome": "log TFP (ACF omega)",
        "estimator": "Callaway-Sant'Anna, two-stage bootstrap",
        "effect": spec.effect,
        "aggregation": f"average of e = 0..{spec.window[1]}",
        "estimate": est,
        "std_error": se,
        "conf_low": float(interval(est, se)[0]),
        "conf_high": float(interval(est, se)[1]),
        "pretrend_p": cs_pretrend_p(res.att_gt, spec.window),
        "obs": int(res.productivity.notna().sum()),
        "firms": int(res.att_gt.n_units),
        "true_effect": ev.true_post_average("log_tfp"),
    }


def main_results(ev: Evaluation) -> pd.DataFrame:
    """Table 5 as a tidy frame: one row per outcome x estimator."""
    rows = []
    prod = ev.spec.production
    for fam in ev.spec.families:
        for outcome in fam.outcomes:
            rows += [_row(ev, fam, outcome, e) for e in fam.estimators]
    if prod is not None and prod.tfp_did:
        # after the family holding the production function's output, else at the end
        fams = [r["family"] for r in rows]
        home = next((f.name for f in ev.spec.families if prod.output in f.outcomes), None)
        home = home or next((f.name for f in ev.spec.families if f.name == "productivity"), None)
        at = len(fams) - fams[::-1].index(home) if home in fams else len(rows)
        rows.insert(at, {**_tfp_row(ev), "family": home or "productivity"})
    return pd.DataFrame(rows)


def _counts(ev: Evaluation) -> str:
    c = ev.spec.columns
    if ev.engine is not None:  # counted in the engine
        units = ev.engine.member_units()
        text = f"{int(units['firms'].sum()):,} member firms in {len(units)} join cohorts"
        if not (c.launch and c.cell):
            return text
        return f"{text}, {ev.engine.distinct(c.cell, present=c.launch)} clusters"
    d = ev.data
    cohort = pd.to_numeric(d[c.cohort], errors="coerce")
    treated = d.loc[cohort.notna(), c.unit].nunique()
    text = f"{treated:,} member firms in {cohort.dropna().nunique()} join cohorts"
    if not (c.launch and c.cell):
        return text
    clusters = d.loc[pd.to_numeric(d[c.launch], errors="coerce").notna(), c.cell].nunique()
    return f"{text}, {clusters} clusters"


def _few_cluster_inference(ev: Evaluation, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """With fewer than 30 clusters: the wild bootstrap p-value of every row that has one,
    and the sentence saying so."""
    n = few_clusters(ev)
    if n is None:
        return frame, ""
    cl = ev.spec.cluster
    if n < WILD_MIN_CLUSTERS:
        return frame, (
            f" Only {n} clusters ({cl}): too few for any cluster-robust inference, the wild "
            "bootstrap's included; read the SEs with care."
        )
    notes: list[str] = []
    keys = {v: k for k, v in LABELS.items()}
    p = [
        wild_p(ev, o, keys.get(e, ""), notes)
        for o, e in zip(frame["outcome"], frame["estimator"], strict=True)
    ]
    text = (
        f" Only {n} clusters ({cl}): 'wild p' is the wild cluster bootstrap p-value "
        f"({WILD_DRAWS} Webb draws; bootstrap-t of the effect for CS, Sun-Abraham, "
        "imputation and did2s, restricted wild cluster bootstrap for static TWFE), which "
        "holds with few clusters where the SE-based inference does not."
    )
    if notes:
        text += " " + "; ".join(notes) + "."
    return frame.assign(p_wild=p), text


def table_main(ev: Evaluation) -> Table:
    """Table 5: the effect of membership by outcome family and estimator."""
    frame, few = _few_cluster_inference(ev, main_results(ev))
    spec = ev.spec
    frame, n_hidden = suppress_rows(frame, "firms", spec.disclosure_min_firms)
    shown = ["family", "outcome", "estimator", "effect", "aggregation", "estimate",
             "std_error", "pretrend_p", "firms", "obs", "true_effect"]  # fmt: skip
    if "p_wild" in frame.columns:
        shown.insert(7, "p_wild")
    if SUPPRESSED in frame.columns:
        shown.append(SUPPRESSED)
    display = frame[shown].rename(
        columns={"std_error": "SE", "pretrend_p": "pre-trend p", "true_effect": "truth",
                 "p_wild": "wild p"}
    )  # fmt: skip
    fe = "sector-by-year effects" if ev.sector_fe else "period effects"
    geography = bool(spec.columns.cluster_cell)
    controls = (
        f"{_CONTROLS[spec.control]} (the {spec.effect} effect of membership, DGP.md §0 rule 8)"
        if geography
        else "never-treated units"
    )
    notyet = (
        "its not-yet-treated variant also compares with later joiners, who are exposed to "
        "their cluster before they join, so it mixes the direct and spillover effects"
        if geography
        else "its not-yet-treated variant also compares with later-treated units before "
        "they are treated"
    )
    tfp = spec.production is not None and spec.production.tfp_did
    note = (
        f"{_counts(ev)}. Controls: {controls}. Static TWFE, Sun-Abraham and imputation absorb "
        f"unit and {fe}; Callaway-Sant'Anna is doubly robust with covariates "
        f"{list(spec.covariates) or 'none'} at the base period; {notyet}. Event-study "
        f"estimators report the average of event times 0-{spec.window[1]}; counts are "
        "Poisson ETWFE proportional effects sum E[Y(1)] / sum E[Y(0)] - 1. Pre-trend p: "
        f"joint test that the pre-treatment effects from e = {spec.window[0]} on are zero: "
        "for Callaway-Sant'Anna the period-to-period changes (varying base period) at "
        f"e = {spec.window[0]}..-1, for the event-study estimators the effects at "
        f"e = {spec.window[0]}..-2 relative to e = -1; with join cohorts of a few firms both "
        "over-reject (docs/diagnostics.md). SEs clustered by "
        f"{spec.cluster}"
        + (
            f"; log TFP's SE from a two-stage firm-block bootstrap ({spec.n_boot} draws) "
            "that re-estimates the production function. "
            if tfp
            else ". "
        )
        + (
            "Truth: the generator's effect with the same aggregation (simple aggregation for "
            "static TWFE); under selection on unobservables estimates and truth can differ "
            "(docs/report.md)."
            if ev.truth
            else ""
        )
        + few
        + disclosure_note(n_hidden, spec.disclosure_min_firms, "estimates")
    )
    return Table(
        "main",
        "Table 5: effect of cluster membership by outcome and estimator",
        (),
        note,
        {},
        frame=frame,
        display=display,
    )
