"""One table of human labels for the report's column names, and the display rules that
read it: headers in words, identifiers as integers.

The tidy frames (written as CSV) keep their code names, which scripts read; the displayed
tables (Markdown, LaTeX, HTML) show these labels. A name not in the table is shown as it
is: outcome and variable names are the user's own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "COLUMN_LABELS",
    "FIGURE_CAPTIONS",
    "ID_COLUMNS",
    "PRETREND_FLAG",
    "PRETREND_FLAG_NOTE",
    "REFERENCE_CELL",
    "display_frame",
    "figure_caption",
    "flag_pretrends",
]

#: Code name -> label of every column a report table may carry.
COLUMN_LABELS = {
    "ame": "AME",
    "ame_p": "AME p-value",
    "ame_se": "AME SE",
    "coef": "Coefficient",
    "estimate": "Estimate",
    "std_error": "SE",
    "std_errors": "Standard errors",
    "p_value": "p-value",
    "pretrend_p": "Pre-trend p-value",
    "true_effect": "Truth",
    "truth": "Truth",
    "returns_to_scale": "Returns to scale",
    "obs": "Observations",
    "tfp_90_10": "TFP 90/10 ratio",
    "other_accepted_minimum": "Another minimum accepted",
    "incomplete_cells": "Incomplete cells",
    "n_treated": "Treated units",
    "n_control": "Control units",
    "exposure_time": "Exposure time",
    "rel_time": "Event time",
    "base_period": "Base period",
    "conf_low": "CI low",
    "conf_high": "CI high",
    "units": "Units",
    "weight": "Weight",
}

#: Columns holding identifiers or periods: shown as integers when they are whole numbers
#: (a missing value makes pandas store them as floats).
ID_COLUMNS = {
    "cell", "cohort", "year", "time", "period", "exposure time", "exposure_time",
    "event time", "rel_time", "region", "sector", "launch_year", "join_year", "firm_id",
    "unit", "base_period", "group", "cluster", "effect",
}  # fmt: skip


def _as_integers(s: pd.Series) -> pd.Series:
    if not pd.api.types.is_float_dtype(s):
        return s
    v = s.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(v)
    if finite.any() and np.all(v[finite] == np.round(v[finite])) and (~np.isinf(v)).all():
        return s.astype("Int64")
    return s


#: Shown in place of an estimate that is zero by construction (an event study's reference
#: period), in every table that lists event or exposure times.
REFERENCE_CELL = "0 (reference)"

#: Joint pre-trend tests rejecting at this level are flagged in the displayed tables.
PRETREND_FLAG_LEVEL = 0.05
#: The flag, explained in the table's note by :data:`PRETREND_FLAG_NOTE`.
PRETREND_FLAG = "†"
PRETREND_FLAG_NOTE = (
    f" {PRETREND_FLAG}: the joint test of pre-treatment effects rejects at the "
    f"{PRETREND_FLAG_LEVEL:.0%} level, so parallel trends before joining is doubtful for that "
    "estimate; read it with the sensitivity analysis (HonestDiD) and the event-time estimates."
)
#: Columns holding a pre-trend test's p-value (code name and display name).
PRETREND_COLUMNS = ("pretrend_p", "pre-trend p")


def flag_pretrends(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """``frame`` with each pre-trend p-value column as text (three decimals, ``<0.001``
    below that) and :data:`PRETREND_FLAG` where the test rejects; and whether any did."""
    cols = [c for c in frame.columns if str(c) in PRETREND_COLUMNS]
    if not cols:
        return frame, False
    out, flagged = frame.copy(), False
    for col in cols:
        p = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        reject = np.isfinite(p) & (p < PRETREND_FLAG_LEVEL)
        flagged |= bool(reject.any())
        text = ["" if not np.isfinite(v) else ("<0.001" if v < 0.001 else f"{v:.3f}") for v in p]
        out[col] = [t + f" {PRETREND_FLAG}" if r else t for t, r in zip(text, reject, strict=True)]
    return out, flagged


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with identifier columns as integers and code names replaced by labels."""
    out = frame.copy()
    for col in out.columns:
        if str(col) in ID_COLUMNS:
            out[col] = _as_integers(out[col])
    return out.rename(columns=lambda c: COLUMN_LABELS.get(str(c), c))


#: Caption of each figure, by the figure-name prefix (the outcome follows, when any).
FIGURE_CAPTIONS = {
    "event_study": "Event-study estimates by estimator, with 95% confidence intervals",
    "att_gt": "Group-time effects ATT(g, t) by joining cohort and year relative to joining",
    "trajectories": "Mean outcome by year: members grouped by joining years, and controls",
    "pscore_overlap": "Propensity-score overlap of members and comparison firms",
    "rollout": "Roll-out of the programme: firms joining clusters per year",
    "bacon": "Goodman-Bacon decomposition of the two-way fixed-effects estimate",
    "sensitivity": "Sensitivity of the effect to violations of parallel trends (HonestDiD)",
}


def figure_caption(name: str, number: int) -> str:
    """``Figure k: <caption>[, <outcome>].`` for a report figure named
    ``<prefix>[_<outcome>]``."""
    for prefix, text in FIGURE_CAPTIONS.items():
        if name == prefix or name.startswith(prefix + "_"):
            rest = name[len(prefix) + 1 :]
            return f"Figure {number}: {text}" + (f", {rest}" if rest else "") + "."
    return f"Figure {number}: {name}."
