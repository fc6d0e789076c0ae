"""Report table 6: event-time effects of every event-study estimator (the headline shown,
all in the CSV)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.evaluation import LABELS, Evaluation
from impact.report.headline import EVENT_ESTIMATORS, primary_estimator
from impact.report.table import Table

__all__ = ["dynamic_effects", "table_dynamic"]


def dynamic_effects(ev: Evaluation) -> pd.DataFrame:
    """Table 6 as a tidy frame: event-time effects of every event-study estimator."""
    frames = []
    for fam in ev.spec.families:
        for outcome in fam.outcomes:
            truth = ev.true_event(outcome)
            for key in fam.estimators:
                if key not in EVENT_ESTIMATORS:
                    continue
                tab = ev.event_study(outcome, EVENT_ESTIMATORS[key]).table.copy()
                tab.insert(0, "estimator", LABELS["event_twfe" if key == "twfe" else key])
                tab.insert(0, "outcome", outcome)
                tab.insert(0, "family", fam.name)
                tab["true_effect"] = (
                    tab["rel_time"].map(truth).astype(float) if truth is not None else np.nan
                )
                if key == "twfe":  # its window endpoints pool all earlier / later times
                    lo, hi = ev.spec.window
                    tab.loc[tab["rel_time"].isin([lo, hi]), "true_effect"] = np.nan
                frames.append(tab)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _dynamic_display(ev: Evaluation, frame: pd.DataFrame) -> pd.DataFrame:
    """Event times down, one column per outcome: headline estimate (SE), truth."""
    out = pd.DataFrame({"event time": sorted(frame["rel_time"].unique())})
    for fam in ev.spec.families:
        key = primary_estimator(fam)
        if key is None:
            continue
        for outcome in fam.outcomes:
            t = frame[(frame["outcome"] == outcome) & (frame["estimator"] == LABELS[key])]
            t = t.set_index("rel_time").reindex(out["event time"])
            cell = [
                "" if pd.isna(e) else (f"{e:.3f}" if pd.isna(s) else f"{e:.3f} ({s:.3f})")
                for e, s in zip(t["estimate"], t["std_error"], strict=True)
            ]
            out[outcome] = cell
            if t["true_effect"].notna().any():
                out[f"{outcome} truth"] = t["true_effect"].to_numpy()
    return out


def table_dynamic(ev: Evaluation) -> Table:
    """Table 6: effects by event time (headline estimator shown; all in the CSV)."""
    frame = dynamic_effects(ev)
    note = (
        "Event-time effects, reference period e = -1 (imputation reports post-treatment "
        "horizons only). Shown: each family's headline estimator (Callaway-Sant'Anna with a "
        "universal base period where listed), estimate (SE); the CSV holds every estimator "
        "with pointwise and simultaneous (sup-t) 95% bands. Controls as in table 5; counts "
        "are in table 5 only."
    )
    return Table(
        "dynamic",
        "Table 6: dynamic effects by event time",
        (),
        note,
        {},
        frame=frame,
        display=_dynamic_display(ev, frame) if not frame.empty else None,
    )
