"""Report tables 1 and 2: descriptive statistics before the programme and its roll-out.

Pure functions of the data and the spec's column roles; both return tidy DataFrames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.timeindex import period_numbers
from impact.design.cohorts import normalize_cohorts
from impact.errors import EmptySampleError
from impact.report.spec import Spec

__all__ = ["GROUPS", "describe_pre_period", "rollout", "standardised_difference"]

#: Firm groups of table 1: members, non-members in cluster cells, firms outside them.
GROUPS = ("members", "non-members in cluster cells", "outside cluster cells")


def standardised_difference(a: pd.Series, b: pd.Series) -> float:
    """``(mean_a - mean_b) / sqrt((var_a + var_b) / 2)`` (Austin 2009), NaN if both constant."""
    a, b = a.dropna(), b.dropna()
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def _cohort(data: pd.DataFrame, spec: Spec) -> np.ndarray:
    """Join years with every never-member code (NaN, 0, inf) as NaN, as the estimators."""
    periods = np.unique(period_numbers(data[spec.columns.time]))
    return normalize_cohorts(data[spec.columns.cohort], periods=periods)


def _groups(data: pd.DataFrame, spec: Spec) -> pd.Series:
    c = spec.columns
    member = pd.Series(~np.isnan(_cohort(data, spec)), index=data.index)
    in_cell = data[c.cluster_cell].astype(bool)
    out = np.where(member, GROUPS[0], np.where(in_cell, GROUPS[1], GROUPS[2]))
    return pd.Series(out, index=data.index)


def describe_pre_period(data: pd.DataFrame, spec: Spec, before: int | None = None) -> pd.DataFrame:
    """Table 1: firm-year means and sds before the programme by group, with standardised
    differences of members against each control group.

    Parameters
    ----------
    before : int, optional
        Pre-period: years ``< before``; default the first launch year in the data.

    Returns
    -------
    DataFrame
        One row per variable in ``spec.describe``: ``mean``/``sd`` per group and
        ``std_diff`` of members against each control group. ``attrs["firms"]`` and
        ``attrs["firm_years"]`` hold the group sizes, ``attrs["before"]`` the cut-off.
    """
    spec.validate(data)
    c = spec.columns
    if before is None:
        before = int(np.nanmin(data[c.launch].to_numpy(dtype=float)))
    pre = data[data[c.time] < before]
    if pre.empty:
        raise EmptySampleError(f"no firm-years before {before}: there is no pre-period.")
    grp = _groups(pre, spec)
    rows = []
    for var in spec.describe:
        x = pre[var].astype(float)
        row: dict[str, object] = {"variable": var}
        for g in GROUPS:
            row[f"mean: {g}"] = x[grp == g].mean()
            row[f"sd: {g}"] = x[grp == g].std(ddof=1)
        for g in GROUPS[1:]:
            row[f"std diff vs {g}"] = standardised_difference(x[grp == GROUPS[0]], x[grp == g])
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["firms"] = {g: int(pre.loc[grp == g, c.unit].nunique()) for g in GROUPS}
    out.attrs["firm_years"] = {g: int((grp == g).sum()) for g in GROUPS}
    out.attrs["before"] = before
    return out


def rollout(data: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Table 2: the programme's roll-out year by year.

    Columns: ``clusters launched`` (cells whose launch year it is), ``clusters active``
    (launched so far), ``firms joining`` (join cohort), ``of which founders`` (joining in
    their cell's launch year), ``members`` (firms in the data that have joined by then),
    ``exposed non-members`` (firms in active cluster cells that have not joined) and
    ``outside cluster cells`` (firms in cells without a cluster), the last three among
    firms observed that year.
    """
    spec.validate(data)
    c = spec.columns
    cells = data[[c.cell, c.launch]].drop_duplicates().dropna()
    g = _cohort(data, spec)
    # by position, not by name: a user column may be called "cohort" or "launch"
    per_row = pd.DataFrame({"cohort": np.asarray(g), "launch": data[c.launch].to_numpy()})
    firms = per_row.groupby(data[c.unit].to_numpy()).first()
    rows = []
    for year in sorted(data[c.time].unique()):
        this_year = (data[c.time] == year).to_numpy()
        now = data[this_year]
        joined = g[this_year] <= year
        active = now[c.launch].to_numpy(dtype=float) <= year
        in_cell = now[c.cluster_cell].astype(bool).to_numpy()
        joining = firms[firms["cohort"] == year]
        rows.append(
            {
                c.time: str(int(year)),
                "clusters launched": int((cells[c.launch] == year).sum()),
                "clusters active": int((cells[c.launch] <= year).sum()),
                "firms joining": len(joining),
                "of which founders": int((joining["cohort"] == joining["launch"]).sum()),
                "members": int(joined.sum()),
                "exposed non-members": int((active & ~joined).sum()),
                "outside cluster cells": int((~in_cell).sum()),
            }
        )
    return pd.DataFrame(rows)
