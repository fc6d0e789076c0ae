"""The replication report: every table rebuilt from data through the public API.

Each table is a function ``(inputs) -> (title, results, note)``; the runner estimates
nothing itself beyond calling them, writes every table in four formats, and a
provenance sidecar. Same inputs and seed give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from impact import datasets
from impact.estimators.att_gt import att_gt
from impact.estimators.etwfe import etwfe
from impact.estimators.event_study import event_study
from impact.estimators.feols import feols
from impact.inference.ssc import SSC
from impact.report.etable import etable
from impact.report.figures import plot_event_study
from impact.report.frames import format_frame, render_frame
from impact.report.provenance import provenance, write_json

__all__ = ["TABLES", "Table", "replicate"]

DEFAULT_SEED = 20261127


@dataclass(frozen=True)
class Table:
    """A report table: a title, the fitted models and a note."""

    name: str
    title: str
    models: tuple[Any, ...]
    note: str
    labels: dict[str, str]
    frame: pd.DataFrame | None = None

    def render(self) -> dict[str, str]:
        """The table as Markdown (with title and note), LaTeX, HTML and CSV text."""
        if self.frame is not None:
            shown = format_frame(self.frame)
            return {
                ".md": f"## {self.title}\n\n" + render_frame(shown, "markdown", self.note),
                ".tex": render_frame(shown, "latex"),
                ".html": render_frame(shown, "html", self.note),
                ".csv": self.frame.to_csv(index=False, lineterminator="\n", float_format="%.10g"),
            }
        models = list(self.models)
        return {
            ".md": f"## {self.title}\n\n"
            + etable(models, format="markdown", labels=self.labels)
            + f"\n{self.note}\n",
            ".tex": etable(models, format="latex", labels=self.labels),
            ".html": etable(models, format="html", labels=self.labels),
            ".csv": etable(models, labels=self.labels).to_csv(lineterminator="\n"),
        }


def table_jtrain_fe(inputs: dict[str, pd.DataFrame]) -> Table:
    """Fixed-effects regressions on Wooldridge's job-training-grant firm panel.

    Column (1) is Wooldridge, *Introductory Econometrics*, Example 14.1 (firm fixed
    effects, year dummies, iid errors); (2)-(3) cluster by firm under the fixest and the
    dummy-variable (Stata ``areg``) small-sample conventions; (4)-(5) absorb firm and
    year effects for scrap rates and training hours.
    """
    j = inputs["jtrain"]
    j = j[j["year"] <= 1989]
    f = "lscrap ~ d88 + d89 + grant + grant_1 | fcode"
    cl = {"cluster": "fcode"}
    models = (
        feols(f, data=j, vcov="iid"),
        feols(f, data=j, vcov=cl),
        feols(f, data=j, vcov=cl, ssc=SSC.full()),
        feols("lscrap ~ grant + grant_1 | fcode + year", data=j, vcov=cl),
        feols("lhrsemp ~ grant + grant_1 | fcode + year", data=j, vcov=cl),
    )
    note = (
        "Michigan job-training grants, 1987-1989 (Holzer et al. 1993; Wooldridge Example 14.1). "
        "lscrap: log scrap rate; lhrsemp: log training hours per employee; grant_1: grant "
        "received in the previous year. (1) reproduces Example 14.1; (2)-(5) cluster by firm."
    )
    labels = {"fcode": "firm", "year": "year", "grant_1": "grant (t-1)"}
    return Table(
        "jtrain_fe",
        "Job-training grants and firm outcomes: fixed-effects regressions",
        models,
        note,
        labels,
    )


def table_cluster_fe(inputs: dict[str, pd.DataFrame]) -> Table:
    """Static two-way fixed-effects regressions on the embedded synthetic cluster panel.

    Naive TWFE with year effects (1), with sector-by-year effects (2), and against
    out-of-cell controls only (3)-(5), the design that targets the total effect of
    membership (DGP.md §0 rule 8). The note prints the true ATTs from the generator.
    """
    df = inputs["cluster_panel"]
    df = df.assign(member=(df["year"] >= df["join_year"]).astype(float))
    clean = df[df["join_year"].notna() | ~df["cluster_cell"]]
    cl = {"cluster": "firm_id"}
    models = (
        feols("log_emp ~ member | firm_id + year", data=df, vcov=cl),
        feols("log_emp ~ member | firm_id + sector^year", data=df, vcov=cl),
        feols("log_emp ~ member | firm_id + sector^year", data=clean, vcov=cl),
        feols("log_va ~ member | firm_id + sector^year", data=clean, vcov=cl),
        feols("rd_performer ~ member | firm_id + sector^year", data=clean, vcov=cl),
    )
    truth = inputs["cluster_panel_truth"].set_index("outcome")
    true = ", ".join(
        f"{o} {truth.loc[o, 'att_total']:.3f}" for o in ("log_emp", "log_va", "rd_performer")
    )
    note = (
        "Synthetic cluster-firm panel shipped in data/ (DGP.md, default scenario, cleaned by "
        "clean_cluster_panel): staggered joining 2008-2019 with selection, dynamic and "
        "heterogeneous effects, spillovers to non-members in cluster cells. (1)-(2) use all "
        "firms; (3)-(5) members and firms outside cluster cells only (total effect). Static "
        "TWFE weights cohorts and event times in ways that differ from the true average "
        f"effect; true ATT (total effect, Callaway-Sant'Anna simple aggregation): {true}."
    )
    labels = {"firm_id": "firm", "sector^year": "sector x year"}
    return Table(
        "cluster_fe",
        "Cluster membership: two-way fixed effects on the synthetic panel",
        models,
        note,
        labels,
    )


def table_cluster_cs(inputs: dict[str, pd.DataFrame]) -> Table:
    """Callaway–Sant'Anna on the synthetic panel, with the true effects side by side.

    Doubly robust ATT(g,t) with never-treated firms outside cluster cells as controls
    (the total effect of membership) and a high-tech covariate (sector trends differ by
    high-tech status), aggregated with cohort-size weights ("simple") and over event
    times 0-5 ("dynamic"). The truth is the generator's DiD-identified total effect.
    """
    df = inputs["cluster_panel"]
    df = df.assign(out_of_cell=~df["cluster_cell"], ht=df["high_tech"].astype(float))
    truth = inputs["cluster_panel_truth_event"]
    overall = inputs["cluster_panel_truth"].set_index("outcome")
    rows = []
    for outcome in ("log_emp", "log_va", "rd_performer", "export"):
        gt = att_gt(
            df,
            y=outcome,
            unit="firm_id",
            time="year",
            cohort="join_year",
            control_pool="out_of_cell",
            covariates=["ht"],
            vcov={"cluster": "firm_id"},
        )
        simple = gt.aggregate("simple")
        dyn = gt.aggregate("dynamic", min_e=0, max_e=5)
        true_e = truth[(truth["outcome"] == outcome) & truth["event_time"].between(0, 5)]
        tab = gt.table
        rows.append(
            {
                "outcome": outcome,
                "ATT simple": simple.estimate,
                "SE": simple.std_error,
                "true simple": float(overall.loc[outcome, "att_total_base"]),
                "ATT e=0..5": dyn.estimate,
                "SE ": dyn.std_error,
                "true e=0..5": float(true_e["att_total_base"].mean()),
                "pre-trend p": gt.pretrend_test()["p_value"],
                "firms": int(gt.n_units),
                "treated firms": int(df.loc[df["join_year"].notna(), "firm_id"].nunique()),
                "cohorts": int(tab["cohort"].nunique()),
            }
        )
    note = (
        "Synthetic cluster-firm panel (data/, default scenario: realistic selection on size, "
        "lagged TFP, absorptive capacity and R&D). Controls: never-treated firms outside cluster "
        "cells; covariate: high-tech sector. Under realistic selection, conditional parallel "
        "trends holds only given unobserved selection variables, so estimates can differ from "
        "the truth (DGP.md §4.10); SEs from influence functions clustered by firm."
    )
    return Table(
        "cluster_cs",
        "Cluster membership: Callaway-Sant'Anna ATT and the truth",
        (),
        note,
        {},
        frame=pd.DataFrame(rows),
    )


#: Report tables in order. Later issues append their tables here.
TABLES: dict[str, Callable[[dict[str, pd.DataFrame]], Table]] = {
    "jtrain_fe": table_jtrain_fe,
    "cluster_fe": table_cluster_fe,
    "cluster_cs": table_cluster_cs,
}


def table_cluster_main(inputs: dict[str, pd.DataFrame]) -> Table:
    """Main results: the effect of membership by estimator and outcome, with the truth.

    Out-of-cell never-treated firms are the controls (the total effect of membership).
    Static TWFE, Sun-Abraham, imputation and did2s absorb sector-by-year effects; CS
    conditions on the high-tech indicator. Event-study estimators report the average of
    event times 0-5.
    """
    df = inputs["cluster_panel"]
    df = df.assign(
        out_of_cell=~df["cluster_cell"],
        ht=df["high_tech"].astype(float),
        member=(df["year"] >= df["join_year"]).astype(float),
        log_va_per_worker=df["log_va"] - df["log_emp"],
    )
    clean = df[df["join_year"].notna() | df["out_of_cell"]]
    truth = inputs["cluster_panel_truth_event"]
    common = {
        "unit": "firm_id",
        "time": "year",
        "cohort": "join_year",
        "window": (-5, 5),
        "control_pool": "out_of_cell",
    }
    treated = int(df.loc[df["join_year"].notna(), "firm_id"].nunique())
    cohorts = int(df["join_year"].nunique())
    clusters = int(df.loc[df["launch_year"].notna(), "cell"].nunique())
    rows = []
    for outcome, truth_name in (("log_emp", "log_emp"), ("log_va_per_worker", None)):
        true_e = truth[(truth["outcome"] == truth_name) & truth["event_time"].between(0, 5)]
        true_avg = float(true_e["att_total_base"].mean()) if truth_name else float("nan")
        twfe = feols(
            f"{outcome} ~ member | firm_id + sector^year", data=clean, vcov={"cluster": "firm_id"}
        )
        rows.append(
            {
                "outcome": outcome,
                "estimator": "static TWFE",
                "effect": "difference, all post",
                "estimate": float(twfe.coef["member"]),
                "std_error": float(twfe.se["member"]),
                "pre-trend p": float("nan"),
                "obs": twfe.nobs,
                "firms": twfe.fixef_sizes["firm_id"],
            }
        )
        specs = [
            ("Sun-Abraham", {"estimator": "sun_abraham", "fixed_effects": "sector^year"}),
            ("Callaway-Sant'Anna", {"estimator": "cs", "covariates": ["ht"]}),
            ("imputation", {"estimator": "imputation", "fixed_effects": "sector^year"}),
            ("did2s", {"estimator": "did2s", "fixed_effects": "sector^year"}),
        ]
        for label, kw in specs:
            es = event_study(df, y=outcome, **common, **kw)
            rows.append(
                {
                    "outcome": outcome,
                    "estimator": label,
                    "effect": "difference, e = 0-5",
                    "estimate": es.att,
                    "std_error": es.att_se,
                    "pre-trend p": es.pretrend_test()["p_value"],
                    "obs": es.n_obs,
                    "firms": es.n_units,
                }
            )
        for r in rows[-5:]:
            r["true effect"] = true_avg
    rows += _count_outcome_rows(df, truth, inputs.get("cluster_panel_truth_firm_year"), common)
    from impact.report.productivity_table import tfp_main_row  # registers after this module

    rows.append(tfp_main_row(df, truth))
    for r in rows:
        r["treated firms"] = treated
        r["cohorts"] = cohorts
        r["clusters"] = clusters
    note = (
        "Synthetic cluster-firm panel (data/, default scenario). Controls: never-treated firms "
        "outside cluster cells (total effect of membership). Static TWFE: coefficient on "
        "membership with firm and sector-by-year effects; Sun-Abraham, imputation and did2s also "
        "absorb sector-by-year effects, CS conditions on high-tech status; the event-study "
        "estimators report the average of the event-time "
        "effects 0-5. True effect: the generator's DiD-identified total effect averaged over "
        "event times 0-5 (not available for value added per worker, a ratio of outcomes). "
        "Pre-trend p: joint test of the pre-treatment event-time effects. SEs clustered by firm. "
        "Export status: linear probability models. Export value and patents: Poisson ETWFE "
        "(cohort and year effects), the proportional effect sum E[Y(1)] / sum E[Y(0)] - 1 over "
        "members' post-joining firm-years, against the generator's total proportional effect "
        "(for patents on the expected count). Export value has state dependence, so parallel "
        "trends in ratios fail and estimate and truth can differ (docs/conventions.md). "
        "Log TFP: productivity (omega) from an ACF production function (membership in the law "
        "of motion, sector trends, the wage as instrument), then CS with the controls above; "
        "its SE comes from a two-stage firm-block bootstrap that re-estimates the production "
        "function in every draw. "
        "Realistic selection into clusters can make pre-trends fail and estimates differ from "
        "the truth."
    )
    return Table(
        "cluster_main",
        "Main results: effect of cluster membership by estimator",
        (),
        note,
        {},
        frame=pd.DataFrame(rows),
    )


def _true_ratio(fy: pd.DataFrame | None, outcome: str) -> float:
    """Total proportional effect on post-joining firm-years: sum Y(D,S) / sum Y(0,0) - 1."""
    if fy is None:
        return float("nan")
    m = fy[fy["join_year"].notna() & (fy["year"] >= fy["join_year"]) & fy["alive_DS"].astype(bool)]
    return float(m[f"{outcome}_DS"].sum() / m[f"{outcome}_00"].sum() - 1)


def _count_outcome_rows(df, truth, fy, common) -> list[dict]:
    """Export status (linear probability), export value and patents (Poisson ETWFE)."""
    rows = []
    true_e = truth[(truth["outcome"] == "export") & truth["event_time"].between(0, 5)]
    for label, kw in (
        ("Sun-Abraham (LPM)", {"estimator": "sun_abraham", "fixed_effects": "sector^year"}),
        ("Callaway-Sant'Anna (LPM)", {"estimator": "cs", "covariates": ["ht"]}),
    ):
        es = event_study(df, y="export", **common, **kw)
        rows.append(
            {
                "outcome": "export",
                "estimator": label,
                "effect": "difference, e = 0-5",
                "estimate": es.att,
                "std_error": es.att_se,
                "pre-trend p": es.pretrend_test()["p_value"],
                "obs": es.n_obs,
                "firms": es.n_units,
                "true effect": float(true_e["att_total_base"].mean()),
            }
        )
    for outcome, truth_name in (("export_value", "export_value"), ("patents", "patent_mu")):
        res = etwfe(
            df,
            y=outcome,
            unit="firm_id",
            time="year",
            cohort="join_year",
            control_pool="out_of_cell",
        )
        agg = res.aggregate("simple").iloc[0]
        rows.append(
            {
                "outcome": outcome,
                "estimator": "ETWFE Poisson",
                "effect": "proportional, all post",
                "estimate": float(agg["ratio"]),
                "std_error": float(agg["ratio_se"]),
                "pre-trend p": float("nan"),
                "obs": res.n_obs,
                "firms": res.n_units,
                "true effect": _true_ratio(fy, truth_name),
            }
        )
    return rows


TABLES["cluster_main"] = table_cluster_main


def _figure_event_study(inputs: dict[str, pd.DataFrame], outcome: str, label: str) -> Any:
    """Event study of one outcome on the synthetic panel: TWFE, Sun-Abraham, CS, imputation.

    Out-of-cell never-treated controls; TWFE, Sun-Abraham and imputation absorb
    sector-by-year effects, CS conditions on the high-tech indicator (sector trends differ
    by high-tech status).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = inputs["cluster_panel"]
    df = df.assign(
        out_of_cell=~df["cluster_cell"],
        ht=df["high_tech"].astype(float),
        log_va_per_worker=df["log_va"] - df["log_emp"],
    )
    common = {
        "y": outcome,
        "unit": "firm_id",
        "time": "year",
        "cohort": "join_year",
        "window": (-5, 5),
        "control_pool": "out_of_cell",
    }
    twfe = event_study(df, estimator="twfe", fixed_effects="sector^year", **common)
    sa = event_study(df, estimator="sun_abraham", fixed_effects="sector^year", **common)
    cs = event_study(df, estimator="cs", covariates=["ht"], **common)
    imp = event_study(df, estimator="imputation", fixed_effects="sector^year", **common)
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_event_study(
        [twfe, sa, cs, imp],
        ax=ax,
        labels=[
            "TWFE (sector x year FE)",
            "Sun-Abraham (sector x year FE)",
            "Callaway-Sant'Anna (DR, high-tech)",
            "Imputation (BJS, sector x year FE)",
        ],
    )
    ax.set_ylabel(f"Effect on {label}")
    ax.set_title(f"Cluster membership and {label} (synthetic panel)")
    fig.tight_layout()
    return fig


def figure_event_study_emp(inputs: dict[str, pd.DataFrame]) -> Any:
    """Event study of log employment (estimators overlaid)."""
    return _figure_event_study(inputs, "log_emp", "log employment")


def figure_event_study_va_per_worker(inputs: dict[str, pd.DataFrame]) -> Any:
    """Event study of log value added per worker (estimators overlaid)."""
    return _figure_event_study(inputs, "log_va_per_worker", "log value added per worker")


#: Report figures in order.
FIGURES: dict[str, Callable[[dict[str, pd.DataFrame]], Any]] = {
    "event_study_log_emp": figure_event_study_emp,
    "event_study_log_va_per_worker": figure_event_study_va_per_worker,
}


def _load_inputs(data: Path | None) -> dict[str, pd.DataFrame]:
    panel = datasets.load("cluster_panel")
    truth = datasets.load_truth()
    overall = truth["att_overall"]
    overall = overall[overall["aggregation"] == "simple"]
    inputs = {
        "jtrain": datasets.load("jtrain"),
        "cluster_panel": panel,
        "cluster_panel_truth": overall.reset_index(drop=True),
        "cluster_panel_truth_event": truth["att_event"],
        "cluster_panel_truth_firm_year": truth["firm_year"],
    }
    if data is not None:
        inputs["user"] = pd.read_csv(data)
    return inputs


def replicate(
    out: str | Path = "replication/output",
    *,
    data: str | Path | None = None,
    seed: int = DEFAULT_SEED,
    tables: list[str] | None = None,
) -> list[Path]:
    """Rebuild every report table into ``out``.

    Writes ``tables/<name>.{md,tex,html,csv}``, ``report.md`` (all tables) and
    ``provenance.json``. Returns the written paths.
    """
    import warnings

    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    inputs = _load_inputs(Path(data) if data else None)
    names = tables or list(TABLES)
    written: list[Path] = []
    report = ["# impact replication report", ""]
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # drops are reported in the table notes
            tab = TABLES[name](inputs)
        base = out / "tables" / name
        files = tab.render()
        for ext, text in files.items():
            p = base.with_suffix(ext)
            p.write_text(text, encoding="utf-8")
            written.append(p)
        report += [files[".md"], ""]
    (out / "figures").mkdir(exist_ok=True)
    for name, make in FIGURES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig = make(inputs)
        path = out / "figures" / f"{name}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        written.append(path)
        report += [f"![{name}](figures/{name}.png)", ""]
    rp = out / "report.md"
    rp.write_text("\n".join(report), encoding="utf-8")
    written.append(rp)
    prov = out / "provenance.json"
    write_json(prov, provenance(data=inputs, seed=seed, extra={"tables": names}))
    written.append(prov)
    return written


# tables defined in their own modules register themselves in TABLES on import
from impact.report import design_tables, productivity_table  # noqa: E402,F401
