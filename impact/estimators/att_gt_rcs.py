"""ATT(g,t) cells from repeated cross-sections (``att_gt(panel="rcs")``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from impact.design.staggered import StaggeredDesign
from impact.errors import ImpactError, InvalidOptionError
from impact.estimators.drdid_rc import did_rc

__all__ = ["estimate_rcs"]


def estimate_rcs(
    design: StaggeredDesign,
    data: pd.DataFrame,
    *,
    y: str,
    covariates: Sequence[str],
    control: str,
    cluster: str | None,
    method: str,
    min_cell_units: int,
    cells_fn,
    base_period: str,
) -> dict:
    """Estimate every cell treating each row as its own observation.

    Each ATT(g,t) compares the rows of cohort g and of the comparison group observed in the
    base period and in t (R ``did`` with ``panel=FALSE``); influence functions are per
    row, scaled by n / n_cell with n the number of rows. ``design`` is read with
    ``unit=None`` (every row its own unit); periods are grid positions.
    """
    if method == "dr_improved":
        raise InvalidOptionError("method='dr_improved' is available for panel data only.")
    anticipation = design.anticipation
    rows = design.rows
    g, pool, period = design.g, design.pool[design.unit_code], design.t
    periods = design.positions
    log, notes = design.sample_log, list(design.notes)
    yv = data[y].to_numpy(dtype=float)[rows]
    X_all = (
        data[list(covariates)].to_numpy(dtype=float)[rows] if covariates else np.empty((len(g), 0))
    )
    w = design.weights[design.unit_code] if design.weights is not None else np.ones(len(g))
    cl = None
    if cluster:
        cl, labels = pd.factorize(data[cluster].to_numpy()[rows], sort=True)
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
        "cluster_labels": None if not cluster else np.asarray(labels),
        "log": log,
        "notes": notes,
        "observed": np.ones((n, len(periods)), dtype=bool),
    }
