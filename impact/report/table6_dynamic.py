"""Report table 6: event-time effects of every event-study estimator (the headline shown,
all in the CSV)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.report.disclosure import (
    SUPPRESSED,
    disclosure_note,
    suppress_rows,
    treated_firms_by_event_time,
    treated_firms_from_cells,
)
from impact.report.evaluation import LABELS, Evaluation
from impact.report.few_clusters import (
    WILD_DRAWS,
    WILD_MIN_CLUSTERS,
    few_clusters,
    wild_event_times,
)
from impact.report.headline import EVENT_ESTIMATORS, primary_estimator
from impact.report.labels import REFERENCE_CELL
from impact.report.table import Table

__all__ = ["REFERENCE_EVENT_TIME", "dynamic_effects", "table_dynamic"]

#: The report's event studies are normalised at the year before joining (event_study's
#: default ``reference=-1``; Callaway-Sant'Anna with a universal base period).
REFERENCE_EVENT_TIME = -1


def dynamic_effects(ev: Evaluation, notes: list[str] | None = None) -> pd.DataFrame:
    """Table 6 as a tidy frame: event-time effects of every event-study estimator; with
    few clusters (6 to 29) also each event time's wild bootstrap-t p-value and sup-t band
    (``p_wild``, ``wild_band_low``, ``wild_band_high``; reasons for gaps go to ``notes``)."""
    n = few_clusters(ev)
    wild = n is not None and n >= WILD_MIN_CLUSTERS
    notes = [] if notes is None else notes
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
                if wild:
                    extra = wild_event_times(ev, outcome, EVENT_ESTIMATORS[key], notes)
                    if extra is not None:
                        tab = tab.merge(extra, on="rel_time", how="left")
                frames.append(tab)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _cell(estimate: float, se: float, reference: bool) -> str:
    """``estimate (SE)``; the reference period (zero by construction) as REFERENCE_CELL."""
    if pd.isna(estimate):
        return ""
    if reference and pd.isna(se) and estimate == 0:
        return REFERENCE_CELL
    return f"{estimate:.3f}" if pd.isna(se) else f"{estimate:.3f} ({se:.3f})"


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
            hid = t[SUPPRESSED] if SUPPRESSED in t else pd.Series(False, index=t.index)
            cell = [
                SUPPRESSED if h is True else _cell(e, s, k == REFERENCE_EVENT_TIME)
                for k, e, s, h in zip(t.index, t["estimate"], t["std_error"], hid, strict=True)
            ]
            out[outcome] = cell
            if "p_wild" in t.columns and t["p_wild"].notna().any():
                out[f"{outcome} wild p"] = t["p_wild"].to_numpy()
            if t["true_effect"].notna().any():
                out[f"{outcome} truth"] = t["true_effect"].to_numpy()
    return out


def _disclose(ev: Evaluation, frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Event times resting on fewer than ``disclosure_min_firms`` member firms (the
    firms with a row at that event time) suppressed for every estimator."""
    k = ev.spec.disclosure_min_firms
    if k <= 1 or frame.empty:
        return frame, 0
    c = ev.spec.columns
    times = sorted(int(e) for e in frame["rel_time"].unique())
    if ev.engine is not None:  # counted in the engine
        n = treated_firms_from_cells(ev.engine.member_cells(), ev.engine.last_period(), times)
    else:
        n = treated_firms_by_event_time(ev.data, c.unit, c.time, c.cohort, times)
    firms = frame["rel_time"].map(lambda e: n[int(e)])
    out, hidden = suppress_rows(frame.assign(_firms=firms), "_firms", k)
    return out.drop(columns="_firms"), hidden


def table_dynamic(ev: Evaluation) -> Table:
    """Table 6: effects by event time (headline estimator shown; all in the CSV)."""
    notes: list[str] = []
    frame, n_hidden = _disclose(ev, dynamic_effects(ev, notes))
    note = (
        "Event-time effects, reference period e = -1 (imputation reports post-treatment "
        "horizons only). Shown: each family's headline estimator (Callaway-Sant'Anna with a "
        "universal base period where listed), estimate (SE); the CSV holds every estimator "
        "with pointwise and simultaneous (sup-t) 95% bands. Controls as in table 5; counts "
        "are in table 5 only."
    )
    if "p_wild" in frame.columns:
        note += (
            f" Only {few_clusters(ev)} clusters ({ev.spec.cluster}): 'wild p' is each event "
            f"time's wild cluster bootstrap-t p-value ({WILD_DRAWS} Webb draws), and the "
            "CSV's wild_band_low/high the bootstrap-t sup-t band, which hold with few "
            "clusters where the SE-based ones do not."
        )
        if notes:
            note += " " + "; ".join(notes) + "."
    note += disclosure_note(n_hidden, ev.spec.disclosure_min_firms, "event-time estimates")
    return Table(
        "dynamic",
        "Table 6: dynamic effects by event time",
        (),
        note,
        {},
        frame=frame,
        display=_dynamic_display(ev, frame) if not frame.empty else None,
    )
