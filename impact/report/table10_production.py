"""Report table 10: production-function estimates by method (log value added)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.evaluation import Evaluation
from impact.report.frames import counts_frame
from impact.report.table import Table

__all__ = ["production_functions", "table_production_function"]

#: Method labels of the table.
METHODS = (
    ("ols", "OLS"),
    ("fe", "Within"),
    ("lp", "LP"),
    ("acf", "ACF"),
    ("wooldridge", "Wooldridge"),
)


def production_functions(ev: Evaluation) -> pd.DataFrame:
    """One row per method of the spec's production block (and the truth when known).

    Membership enters the productivity law of motion (De Loecker 2013); the group-trend
    column adds category indicators and trends; control-function methods get
    ``spec.n_boot`` firm-block bootstrap draws.
    """
    prod = ev.spec.production
    labels = dict(METHODS)
    inputs = [*prod.free, *prod.state]
    rows = []
    for method in prod.methods:
        res, rival = ev.prodest(method)
        row: dict[str, object] = {"method": labels.get(method, method)}
        for x in inputs:
            row[f"beta {x}"] = float(res.coef[x])
            row[f"se {x}"] = float(res.se[x])
        row.update(
            {
                "returns_to_scale": res.returns_to_scale,
                "obs": int(res.nobs),
                "tfp_90_10": res.tfp_dispersion(),
                "std_errors": res.vcov_label,
                "other_accepted_minimum": "yes" if rival else "",
            }
        )
        rows.append(row)
    params = ev.truth.get("params")
    if params is not None and len(inputs) == 2:
        true = {inputs[0]: params["beta_l"], inputs[1]: params["beta_k"]}
        row = {"method": "Truth (generator)"}
        for x in inputs:
            row[f"beta {x}"], row[f"se {x}"] = float(true[x]), np.nan
        row.update(
            returns_to_scale=float(sum(true.values())),
            obs=pd.NA,
            tfp_90_10=np.nan,
            std_errors="",
            other_accepted_minimum="",
        )
        rows.append(row)
    return counts_frame(rows, ("obs",))


def table_production_function(ev: Evaluation) -> Table:
    """Table 10: elasticities, returns to scale, N and TFP 90-10 by method."""
    frame = production_functions(ev)
    n = ev.spec.n_boot
    note = (
        f"Value-added Cobb-Douglas. Membership enters the productivity law of motion; "
        f"controls: {ev.spec.production.group_trends or 'no'} indicators and trends; "
        f"excluded instruments: {list(ev.spec.production.exog_instruments) or 'none'} (ACF, "
        "LP, Wooldridge). On the synthetic panel materials are Leontief in value added, so "
        "LP's first stage cannot identify the labour elasticity (Ackerberg-Caves-Frazer "
        "2015); OLS and Within are biased by simultaneity and measurement timing. 'other "
        "accepted minimum': the GMM moments also accept another root (result.restarts lists "
        f"them). OP/LP/ACF standard errors: firm-block bootstrap, {n} draws; others "
        "clustered by firm."
    )
    return Table(
        "production",
        "Table 10: production function by method (log value added)",
        (),
        note,
        {},
        frame=frame,
    )
