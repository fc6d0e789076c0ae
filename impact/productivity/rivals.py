"""The explicit warning when a GMM criterion accepts more than one minimum."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import MultipleMinimaWarning
from impact.productivity.control_function import rival_minima

__all__ = ["warn_rivals"]


def warn_rivals(restarts: pd.DataFrame, coef: FloatArray, method: str, df: int) -> None:
    """Warn (:class:`MultipleMinimaWarning`) if the moments accept another minimum."""
    coef = np.asarray(coef)[-len(restarts["coef"].iloc[0]) :]
    rivals = rival_minima(restarts, coef, df)
    if rivals.empty:
        return
    at_coef = [np.allclose(np.asarray(c), coef) for c in restarts["coef"]]
    best_j = restarts.loc[np.asarray(at_coef) & restarts["converged"].to_numpy(), "j_stat"].min()
    rivals = rivals.assign(key=[tuple(np.round(c, 3)) for c in rivals["coef"]])
    rivals = rivals.drop_duplicates("key")
    alt = "; ".join(
        f"{tuple(round(float(c), 3) for c in r['coef'])} (J = {r['j_stat']:.2f})"
        for _, r in rivals.iterrows()
    )
    warnings.warn(
        f"prodest(method={method!r}): besides the reported minimum "
        f"{tuple(float(c) for c in np.round(coef, 3))} (J = {best_j:.2f}), the moments "
        f"also accept {alt}. "
        "The elasticities are not identified by these moments alone (with a static "
        "labour choice, beta_l near 1 makes omega track the wage); compare "
        "method='wooldridge', other instruments or controls. All starts are in "
        "result.restarts.",
        MultipleMinimaWarning,
        stacklevel=3,
    )
