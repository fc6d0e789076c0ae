"""The generator's truth as the report reads it (DGP.md §4.9): the truth tables of a
:class:`~impact.datasets.ClusterTruth` or a mapping, and the true proportional effect that
Poisson ETWFE measures."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TRUTH_NAMES", "TRUTH_TABLES", "pooled_ratio", "truth_tables"]

#: Truth tables read from a truth object or mapping (DGP.md §4.9).
TRUTH_TABLES = ("firm_year", "att_gt", "att_event", "att_overall", "spillover_event", "hetero")

#: Outcomes whose truth is kept under another name in the truth files (counts: the
#: expected count, which Poisson estimators target).
TRUTH_NAMES = {"patents": "patent_mu"}


def truth_tables(truth: Any) -> dict[str, Any]:
    """Truth tables from a :class:`~impact.datasets.ClusterTruth` or a mapping; ``params``
    (the generator's parameters, e.g. ``beta_l``) becomes a plain dict."""
    if truth is None:
        return {}
    get = truth.get if isinstance(truth, Mapping) else lambda k: getattr(truth, k, None)
    out: dict[str, Any] = {k: get(k) for k in TRUTH_TABLES if get(k) is not None}
    params = get("params")
    if params is not None:
        out["params"] = dict(params) if isinstance(params, Mapping) else dataclasses.asdict(params)
    return out


def pooled_ratio(fy: pd.DataFrame | None, outcome: str, effect: str) -> float:
    """True proportional effect on members' post-joining firm-years, as Poisson ETWFE
    with never-member controls measures it: each cohort's post-period ratio
    sum Y(D,S) / sum Y(ref) relative to the same ratio in its base year g - 1 (which
    the comparison differences out), pooled over post firm-years; ``ref`` is the
    no-policy path (``effect="total"``) or the exposure-only path (``"direct"``); NaN
    without the firm-year truth ``fy`` or for another effect."""
    name = TRUTH_NAMES.get(outcome, outcome)
    ref = {"total": "00", "direct": "0S"}.get(effect)
    if fy is None or ref is None or f"{name}_DS" not in fy.columns:
        return float("nan")
    g, t = fy["join_year"].to_numpy(dtype=float), fy["year"].to_numpy(dtype=float)
    alive = fy["alive_DS"].astype(bool).to_numpy()
    obs, cf = fy[f"{name}_DS"].to_numpy(dtype=float), fy[f"{name}_{ref}"].to_numpy(dtype=float)
    num = den = 0.0
    for cohort in np.unique(g[~np.isnan(g)]):
        post = (g == cohort) & (t >= cohort) & alive
        base = (g == cohort) & (t == cohort - 1) & alive
        if not post.any() or not base.any():
            continue
        shift = obs[base].sum() / cf[base].sum()
        num += obs[post].sum()
        den += cf[post].sum() * shift
    return float(num / den - 1) if den > 0 else float("nan")
