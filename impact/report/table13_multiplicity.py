"""Report table 13: the headline effects of the outcome families with p-values adjusted
for testing several families (and, with few clusters, wild bootstrap-t p-values).

For the first outcome of every family that lists the Callaway–Sant'Anna estimator, the
tested effect is table 5's CS row: the average over event times 0 .. the window's end.
The family-wise adjustments are Holm's and Romano–Wolf's (joint draws of one weight per
cluster of the spec's cluster variable, shared by every family), and the false discovery
rate's sharpened q-values. When the spec's cluster variable has fewer than
:data:`FEW_CLUSTERS` clusters, the table adds the wild cluster bootstrap-t p-value of
each effect (:func:`impact.did_wildboot`) and says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.errors import ImpactError
from impact.estimators.adjust import adjust
from impact.report.evaluation import Evaluation
from impact.report.few_clusters import WILD_DRAWS, WILD_MIN_CLUSTERS, few_clusters, wild_p
from impact.report.table import Table

__all__ = ["MULTIPLICITY_DRAWS", "multiplicity", "table_multiplicity"]

#: Joint draws of Romano–Wolf (the wild bootstrap-t draws as many).
MULTIPLICITY_DRAWS = WILD_DRAWS


def _headlines(ev: Evaluation) -> list[tuple[str, str]]:
    """(family, first outcome) of every family whose estimators include CS."""
    fams = ev.spec.families
    return [(f.name, f.outcomes[0]) for f in fams if f.outcomes and "cs" in f.estimators]


def _aggregate(ev: Evaluation, outcome: str):
    """Table 5's CS row: the dynamic aggregation over event times 0 .. window end (a fit
    on the rows: the Romano-Wolf draws resample the units' influence functions)."""
    return ev.att_gt(outcome, rows=True).aggregate("dynamic", min_e=0, max_e=ev.spec.window[1])


def multiplicity(ev: Evaluation) -> tuple[pd.DataFrame, list[str]]:
    """Table 13 as a tidy frame (one row per family) and the notes on what was left out."""
    heads = _headlines(ev)
    notes: list[str] = []
    if not heads:
        return pd.DataFrame(), ["no family lists the CS estimator"]
    tests, rows = {}, []
    for family, outcome in heads:
        try:
            tests[family] = (_aggregate(ev, outcome), "ATT")
            rows.append({"family": family, "outcome": outcome})
        except ImpactError as exc:
            notes.append(f"{family}: {str(exc).rstrip('.')}")
    if len(tests) < 2:
        notes.append("fewer than two families with a CS effect: nothing to adjust")
        return pd.DataFrame(rows), notes
    seed = ev.spec.seed
    holm = adjust(tests, "holm").table.set_index("test")
    bky = adjust(tests, "bky").table.set_index("test")
    rw = adjust(tests, "romano_wolf", B=MULTIPLICITY_DRAWS, seed=seed).table.set_index("test")
    frame = pd.DataFrame(rows)
    fam = frame["family"]
    frame = frame.assign(
        estimate=fam.map(holm["estimate"]), std_error=fam.map(holm["std_error"]),
        p_value=fam.map(holm["p_value"]), p_holm=fam.map(holm["p_adjusted"]),
        q_bky=fam.map(bky["p_adjusted"]), p_romano_wolf=fam.map(rw["p_adjusted"]),
    )  # fmt: skip
    n_clusters = few_clusters(ev)  # as table 5 counts them
    if n_clusters is not None and n_clusters < WILD_MIN_CLUSTERS:
        notes.append(
            f"only {n_clusters} clusters ({ev.spec.cluster}): too few for any cluster-robust "
            "p-value in this table, the wild bootstrap's included; read them with care"
        )
    elif n_clusters is not None:
        frame["p_wild_t"] = [wild_p(ev, o, "cs", notes) for o in frame["outcome"]]
        notes.append(
            f"only {n_clusters} clusters ({ev.spec.cluster}): the last column is the wild "
            f"cluster bootstrap-t p-value ({MULTIPLICITY_DRAWS} Webb draws, not adjusted for "
            "multiplicity), which holds with few clusters where the normal p-values do not; "
            "the Romano-Wolf draws perturb the influence functions with the sample's "
            "standard errors (multiplier bootstrap), whose tails are too light with few "
            "clusters: read its p-values as lower bounds"
        )
    return frame, notes


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    cols = {
        "family": "family", "outcome": "outcome", "estimate": "effect (CS, e = 0..end)",
        "std_error": "s.e.", "p_value": "p", "p_holm": "p, Holm", "q_bky": "q, BKY (FDR)",
        "p_romano_wolf": "p, Romano–Wolf", "p_wild_t": "p, wild bootstrap-t",
    }  # fmt: skip
    shown = frame[[c for c in cols if c in frame.columns]].rename(columns=cols)
    for c in shown.columns[2:]:
        shown[c] = [f"{v:.4f}" if np.isfinite(v) else "" for v in shown[c]]
    return shown


def table_multiplicity(ev: Evaluation) -> Table:
    """Table 13: the families' headline effects with multiplicity-adjusted p-values."""
    frame, notes = multiplicity(ev)
    note = (
        "Each family's first outcome, Callaway–Sant'Anna average effect over event times 0 to "
        "the window's end (table 5's CS row). Testing several families at once, some "
        "'effects' are chance: Holm and Romano–Wolf bound the probability of any false "
        "rejection (family-wise error); Romano–Wolf draws one weight per cluster shared by "
        f"every family ({MULTIPLICITY_DRAWS} draws), so it uses their correlation; the BKY "
        "q-value bounds the expected share of false discoveries. docs/inference.md explains "
        "them." + "".join(f" {n[0].upper()}{n[1:]}." for n in notes)
    )
    return Table(
        "multiplicity", "Table 13: headline effects adjusted for testing several outcome "
        "families", (), note, {}, frame=frame,
        display=_display(frame) if "p_holm" in frame.columns else None,
    )  # fmt: skip
