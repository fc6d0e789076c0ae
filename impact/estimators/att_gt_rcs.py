"""ATT(g,t) cells from repeated cross-sections (``att_gt(panel="rcs")``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact.data.columns import check_columns, missing_mask, validate_weights
from impact.data.samplelog import SampleLog
from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.drdid_rc import did_rc

__all__ = ["estimate_rcs"]


def estimate_rcs(
    data: pd.DataFrame,
    *,
    y: str,
    time: str,
    cohort: str,
    covariates: Sequence[str],
    control: str,
    control_pool: str | None,
    weights: str | None,
    cluster: str | None,
    anticipation: int,
    method: str,
    never_treated: float | None,
    min_cell_units: int,
    cells_fn,
    base_period: str,
) -> dict:
    """Estimate every cell treating each row as its own observation.

    Each ATT(g,t) compares the rows of cohort g and of the comparison group observed in the
    base period and in t (R ``did`` with ``panel=FALSE``); influence functions are per
    row, scaled by n / n_cell with n the number of rows.
    """
    if method == "dr_improved":
        raise InvalidOptionError("method='dr_improved' is available for panel data only.")
    cols = [y, time, cohort, *covariates] + [c for c in (control_pool, weights, cluster) if c]
    check_columns(data, list(dict.fromkeys(cols)))
    frame = data[list(dict.fromkeys(cols))]
    log = SampleLog(n_initial=len(data))
    keep, log = missing_mask(frame, [y, time, *covariates], log)
    frame = frame.loc[keep]
    if weights:
        validate_weights(frame, weights)
    period = period_numbers(frame[time])
    periods = np.unique(period)
    g = normalize_cohorts(frame[cohort], periods=periods, never_treated=never_treated)
    notes = []
    late = g > periods.max()
    if late.any():
        notes.append(
            f"{int(late.sum())} rows of units first treated after the last period are "
            "treated as never-treated."
        )
        g[late] = np.nan
    always = g <= periods.min() + anticipation
    log = log.with_drop("always_treated", "rows of always-treated cohorts", int(always.sum()))
    pool = frame[control_pool].astype(bool).to_numpy() if control_pool else np.ones(len(g), bool)
    useless = np.isnan(g) & ~pool
    log = log.with_drop(
        "control_pool",
        "rows of never-treated units outside the control pool",
        int((useless & ~always).sum()),
    )
    ok = ~always & ~useless
    g, pool, period = g[ok], pool[ok], period[ok]
    frame = frame.loc[ok]
    yv = frame[y].to_numpy(dtype=float)
    X_all = frame[covariates].to_numpy(dtype=float) if covariates else np.empty((len(g), 0))
    w = frame[weights].to_numpy(dtype=float) if weights else np.ones(len(g))
    cl = None
    if cluster:
        if frame[cluster].isna().any():
            raise ImpactError(f"cluster variable {cluster!r} has missing values.")
        cl = pd.factorize(frame[cluster], sort=True)[0]
    never = np.isnan(g)
    if control == "never" and not (never & pool).any():
        raise ImpactError(
            "control='never' but there are no never-treated rows in the control pool."
        )
    cohorts = np.unique(g[~never])
    cells = cells_fn(periods, cohorts, base_period, anticipation)
    n = len(g)
    att = np.full(len(cells), np.nan)
    inf = np.zeros((n, len(cells)), order="F")
    n_treat = np.zeros(len(cells), dtype=int)
    n_ctrl = np.zeros(len(cells), dtype=int)
    empty = []
    for c, (gg, t, s) in enumerate(cells):
        if t == s:
            att[c] = 0.0
            continue
        in_periods = (period == t) | (period == s)
        treated = (g == gg) & in_periods
        if control == "never":
            ctrl = never & pool & in_periods
        else:
            ctrl = (never | (g > max(t, s) + anticipation)) & (g != gg) & pool & in_periods
        post = period == t
        counts = [
            int((treated & post).sum()),
            int((treated & ~post).sum()),
            int((ctrl & post).sum()),
            int((ctrl & ~post).sum()),
        ]
        n_treat[c], n_ctrl[c] = counts[0] + counts[1], counts[2] + counts[3]
        if min(counts) < max(min_cell_units, 1):
            empty.append((gg, t))
            continue
        idx = np.flatnonzero(treated | ctrl)
        X = np.column_stack([np.ones(len(idx)), X_all[idx]])
        est = did_rc(
            yv[idx], post[idx].astype(float), treated[idx].astype(float), X, w[idx], method
        )
        att[c] = est.att
        inf[idx, c] = est.inf * (n / len(idx))
    return {
        "cells": cells,
        "att": att,
        "inf": inf,
        "n_treat": n_treat,
        "n_ctrl": n_ctrl,
        "empty": empty,
        "cohort": g,
        "weights": w,
        "periods": periods,
        "cluster": cl,
        "log": log,
        "notes": notes,
        "observed": np.ones((n, len(periods)), dtype=bool),
    }
