"""Selection into membership (table 3) and balance after reweighting (table 4).

Pure functions of the data and the spec's column roles. Each firm enters once, with its
characteristics in the year before the programme's first launch: one calendar year for
every firm (so trends and shocks between launch waves do not enter the comparison), and
lagged relative to every decision to join.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.errors import EmptySampleError
from impact.inference.intervals import two_sided_p
from impact.inference.logit_effects import (
    logit_cluster_vcov,
    logit_marginal_effects,
    pseudo_r2,
)
from impact.linear.logit import logit_fit
from impact.report.descriptives import standardised_difference
from impact.report.spec import Spec

__all__ = ["baseline_firms", "ipw_balance", "selection_logit"]


def baseline_firms(data: pd.DataFrame, spec: Spec, variables: list[str]) -> pd.DataFrame:
    """One row per firm observed in the baseline year (the first launch - 1): ``member``
    (ever joins), ``in_cell``, the variables, cell. ``attrs["year"]`` is the baseline."""
    c = spec.columns
    launch = pd.to_numeric(data[c.launch], errors="coerce").to_numpy(dtype=float)
    if np.isnan(launch).all():
        raise EmptySampleError("no cluster launch in the data: no baseline year.")
    year = float(np.nanmin(launch)) - 1
    rows = data[data[c.time].to_numpy(dtype=float) == year]
    rows = rows.drop_duplicates(subset=[c.unit])
    out = pd.DataFrame(
        {
            "unit": rows[c.unit].to_numpy(),
            "cell": rows[c.cell].to_numpy(),
            "member": pd.to_numeric(rows[c.cohort], errors="coerce").notna().to_numpy(),
            "in_cell": rows[c.cluster_cell].astype(bool).to_numpy(),
        }
    )
    for v in variables:
        out[v] = rows[v].astype(float).to_numpy()
    out = out.dropna(subset=variables)
    if out["member"].sum() == 0 or (~out["member"]).sum() == 0:
        raise EmptySampleError("baseline sample has no members or no non-members.")
    out.attrs["year"] = int(year)
    return out


def _design(firms: pd.DataFrame, variables: list[str]) -> np.ndarray:
    """A constant, then the variables."""
    x = firms[variables].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(x)), x])


def selection_logit(firms: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Logit of membership on baseline characteristics, SEs clustered by cell.

    Returns
    -------
    DataFrame
        ``term``, ``coef``, ``std_error``, ``p_value``, ``ame`` (average marginal effect on
        the membership probability; for 0/1 regressors the average discrete change),
        ``ame_se``, ``ame_p`` (delta method; normal p-values, as Stata's ``margins``).
        ``attrs``: ``n_firms``, ``n_members``, ``pseudo_r2``.
    """
    X = _design(firms, variables)
    y = firms["member"].to_numpy(dtype=float)
    codes = pd.factorize(firms["cell"])[0]
    coef = logit_fit(X, y, np.ones(len(y))).coef
    vcov = logit_cluster_vcov(X, y, coef, codes)
    se = np.sqrt(np.diag(vcov))
    me = logit_marginal_effects(X, coef, vcov)
    me_se = me.std_error
    out = pd.DataFrame(
        {
            "term": ["constant", *variables],
            "coef": coef,
            "std_error": se,
            "p_value": two_sided_p(coef / se),
            "ame": np.r_[np.nan, me.effect],
            "ame_se": np.r_[np.nan, me_se],
            "ame_p": np.r_[np.nan, two_sided_p(me.effect / me_se)],
        }
    )
    out.attrs.update(n_firms=len(firms), n_members=int(y.sum()), pseudo_r2=pseudo_r2(X, y, coef))
    return out


def ipw_balance(
    firms: pd.DataFrame, variables: list[str], control: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Balance of members against controls before and after inverse-probability weighting.

    Controls get ATT weights p / (1 - p) from a logit of membership on the variables
    (members weight 1), normalised to the members' count.

    Parameters
    ----------
    control : bool array
        Which non-members are controls (e.g. outside cluster cells).

    Returns
    -------
    balance : DataFrame
        Per variable: means of members, controls, weighted controls; standardised
        differences before and after (pooled unweighted sd in both, so the change is
        the mean shift).
    scores : DataFrame
        ``group`` (member/control), ``pscore``, ``weight`` per firm (overlap figure).
    """
    sample = firms[firms["member"].to_numpy() | control]
    X = _design(sample, variables)
    d = sample["member"].to_numpy(dtype=float)
    p = logit_fit(X, d, np.ones(len(d))).fitted
    w = np.where(d == 1, 1.0, p / (1 - p))
    w[d == 0] *= d.sum() / w[d == 0].sum()
    rows = []
    for v in variables:
        x = sample[v].to_numpy(dtype=float)
        xm, xc, wc = x[d == 1], x[d == 0], w[d == 0]
        pooled = np.sqrt((xm.var(ddof=1) + xc.var(ddof=1)) / 2)
        after = np.average(xc, weights=wc)
        rows.append(
            {
                "variable": v,
                "mean members": xm.mean(),
                "mean controls": xc.mean(),
                "mean controls, weighted": after,
                "std diff before": standardised_difference(pd.Series(xm), pd.Series(xc)),
                "std diff after": (xm.mean() - after) / pooled if pooled > 0 else np.nan,
            }
        )
    scores = pd.DataFrame(
        {"group": np.where(d == 1, "members", "controls"), "pscore": p, "weight": w}
    )
    return pd.DataFrame(rows), scores
