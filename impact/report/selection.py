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


def selection_logit(firms: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Logit of membership on baseline characteristics, SEs clustered by cell.

    Returns
    -------
    DataFrame
        ``term``, ``coef``, ``std_error``, ``p_value``, ``ame`` (average marginal effect on
        the membership probability; for 0/1 regressors the average discrete change),
        ``ame_se``, ``ame_p`` (delta method, statsmodels).
        ``attrs``: ``n_firms``, ``n_members``, ``pseudo_r2``.
    """
    import statsmodels.api as sm

    X = sm.add_constant(firms[variables].to_numpy(dtype=float), has_constant="add")
    y = firms["member"].to_numpy(dtype=float)
    groups = pd.factorize(firms["cell"])[0]
    fit = sm.Logit(y, X).fit(
        disp=0, method="newton", maxiter=100, cov_type="cluster", cov_kwds={"groups": groups}
    )
    me = fit.get_margeff(at="overall", method="dydx", dummy=True)
    out = pd.DataFrame(
        {
            "term": ["constant", *variables],
            "coef": fit.params,
            "std_error": fit.bse,
            "p_value": fit.pvalues,
            "ame": np.r_[np.nan, me.margeff],
            "ame_se": np.r_[np.nan, me.margeff_se],
            "ame_p": np.r_[np.nan, me.pvalues],
        }
    )
    out.attrs.update(n_firms=len(firms), n_members=int(y.sum()), pseudo_r2=float(fit.prsquared))
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
    import statsmodels.api as sm

    sample = firms[firms["member"].to_numpy() | control]
    X = sm.add_constant(sample[variables].to_numpy(dtype=float), has_constant="add")
    d = sample["member"].to_numpy(dtype=float)
    p = sm.Logit(d, X).fit(disp=0, method="newton", maxiter=100).predict(X)
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
