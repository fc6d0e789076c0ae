"""Selection into membership (table 3) and balance after reweighting (table 4).

Pure functions of the data and the spec's column roles. Each firm enters once, with its
characteristics in the year before the programme's first launch: one calendar year for
every firm (so trends and shocks between launch waves do not enter the comparison), and
lagged relative to every decision to join.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.errors import ClusterError, EmptySampleError, SeparationWarning
from impact.inference.clusters import cluster_codes
from impact.inference.intervals import two_sided_p
from impact.inference.logit_effects import logit_cluster_vcov, logit_marginal_effects, pseudo_r2
from impact.linear.logit import LogitFit, logit_fit
from impact.report.descriptives import standardised_difference
from impact.report.spec import Spec

__all__ = ["BaselineFirms", "baseline_firms", "ipw_balance", "selection_logit"]


@dataclass(frozen=True)
class BaselineFirms:
    """Firms observed in the baseline year, one row each (positions align).

    Attributes
    ----------
    unit, cell : ndarray
        The firm's id and cell.
    member, in_cell : ndarray of bool
        Ever joins; its cell hosts a cluster.
    values : DataFrame
        The characteristics (columns named as the user's; kept apart from the four arrays
        above, so that no characteristic's name can clash with them).
    year : int
        The baseline year.
    """

    unit: np.ndarray
    cell: np.ndarray
    member: np.ndarray
    in_cell: np.ndarray
    values: pd.DataFrame
    year: int

    def where(self, keep: np.ndarray) -> BaselineFirms:
        """The firms at ``keep`` (a boolean mask)."""
        return BaselineFirms(
            self.unit[keep], self.cell[keep], self.member[keep], self.in_cell[keep],
            self.values[keep].reset_index(drop=True), self.year,
        )  # fmt: skip


def baseline_firms(data: pd.DataFrame, spec: Spec, variables: list[str]) -> BaselineFirms:
    """Firms observed in the baseline year (the first launch - 1) with complete
    characteristics; members and non-members must both be present."""
    c = spec.columns
    launch = pd.to_numeric(data[c.launch], errors="coerce").to_numpy(dtype=float)
    if np.isnan(launch).all():
        raise EmptySampleError("no cluster launch in the data: no baseline year.")
    year = float(np.nanmin(launch)) - 1
    rows = data[data[c.time].to_numpy(dtype=float) == year]
    rows = rows.drop_duplicates(subset=[c.unit])
    values = pd.DataFrame({v: rows[v].astype(float).to_numpy() for v in variables})
    complete = values.notna().all(axis=1).to_numpy()
    firms = BaselineFirms(
        unit=rows[c.unit].to_numpy(),
        cell=rows[c.cell].to_numpy(),
        member=pd.to_numeric(rows[c.cohort], errors="coerce").notna().to_numpy(),
        in_cell=rows[c.cluster_cell].astype(bool).to_numpy(),
        values=values,
        year=int(year),
    ).where(complete)
    _both_groups(firms.member, f"the baseline sample ({int(year)})")
    return firms


def _both_groups(member: np.ndarray, sample: str) -> None:
    if member.all() or not member.any():
        raise EmptySampleError(
            f"{sample} has {int(member.sum())} members and {int((~member).sum())} non-members: "
            "a logit of membership needs both."
        )


def _design(firms: BaselineFirms, variables: list[str]) -> np.ndarray:
    """A constant, then the variables."""
    x = firms.values[variables].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(x)), x])


def _fit(X: np.ndarray, y: np.ndarray, label: str) -> LogitFit:
    fit = logit_fit(X, y, np.ones(len(y)), label=label)
    if fit.separated:
        warnings.warn(
            f"{label}: fitted probabilities numerically 0 or 1 — a characteristic (nearly) "
            "separates members from non-members, so its coefficient is not finite and its "
            "standard error is meaningless.",
            SeparationWarning,
            stacklevel=3,
        )
    return fit


def selection_logit(
    firms: BaselineFirms, variables: list[str], sample: str = "all firms"
) -> pd.DataFrame:
    """Logit of membership on baseline characteristics, SEs clustered by cell.

    Returns
    -------
    DataFrame
        ``term``, ``coef``, ``std_error``, ``p_value``, ``ame`` (average marginal effect on
        the membership probability; for 0/1 regressors the average discrete change),
        ``ame_se``, ``ame_p`` (delta method; normal p-values, as Stata's ``margins``).
        ``attrs``: ``n_firms``, ``n_members``, ``pseudo_r2``.
    """
    _both_groups(firms.member, f"the selection logit's sample '{sample}'")
    X = _design(firms, variables)
    y = firms.member.astype(float)
    codes, n_cells = cluster_codes(firms.cell, "cell")
    if n_cells < 2:
        raise ClusterError(
            f"the selection logit's sample '{sample}' has {n_cells} cell: standard errors "
            "clustered by cell need at least two."
        )
    coef = _fit(X, y, f"selection logit ({sample})").coef
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
    out.attrs.update(n_firms=len(y), n_members=int(y.sum()), pseudo_r2=pseudo_r2(X, y, coef))
    return out


def ipw_balance(
    firms: BaselineFirms, variables: list[str], control: np.ndarray
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
    sample = firms.where(firms.member | control)
    _both_groups(sample.member, "the balance sample (members and the report's controls)")
    X = _design(sample, variables)
    d = sample.member.astype(float)
    p = _fit(X, d, "balance logit (table 4)").fitted
    w = np.where(d == 1, 1.0, p / (1 - p))
    w[d == 0] *= d.sum() / w[d == 0].sum()
    rows = []
    for v in variables:
        x = sample.values[v].to_numpy(dtype=float)
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
