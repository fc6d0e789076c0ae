"""What the wild and score bootstraps read from a fit: the cluster columns on its rows,
and whether a 0/1 coefficient is on in too few clusters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact.errors import FewClustersWarning, InvalidOptionError, close_matches_hint
from impact.results.linear import FeolsResult

__all__ = [
    "REFIT_RTOL",
    "bootstrap_cluster_codes",
    "check_refit",
    "variance_clusters",
    "warn_few_treated",
]

#: The refit on the fit's own rows reproduces its coefficients (and, clustered as the fit,
#: its standard errors) up to the solvers' tolerances; more means the user's frame changed
#: since the fit.
REFIT_RTOL = 1e-6

#: With this many bootstrap clusters holding treated rows or fewer (a 0/1 ``param``),
#: the wild bootstrap is unreliable (MacKinnon & Webb 2017, 2018).
FEW_TREATED_CLUSTERS = 5


def bootstrap_cluster_codes(fit: FeolsResult, cluster: str) -> tuple[np.ndarray, np.ndarray]:
    data = fit._data
    if not isinstance(cluster, str) or cluster not in data.columns:
        raise InvalidOptionError(
            f"cluster must be a column of the fit's data, got {cluster!r}"
            + close_matches_hint(str(cluster), [str(c) for c in data.columns])
        )
    if not data.index.is_unique:
        raise InvalidOptionError(
            "the fit's data has a repeated index: reset it (data.reset_index(drop=True)) and "
            "refit, so the bootstrap can find each row's cluster."
        )
    values = fit._fit_rows([cluster])[cluster]
    if values.isna().any():
        raise InvalidOptionError(f"cluster column {cluster!r} is missing on rows of the fit.")
    codes, uniq = pd.factorize(values, sort=True)
    if len(uniq) < 2:
        raise InvalidOptionError(
            f"cluster column {cluster!r} has one cluster: nothing to resample."
        )
    return codes.astype(np.intp), np.asarray(uniq)


def variance_clusters(fit: FeolsResult, cluster) -> list[str]:
    if cluster is None:
        if not fit.n_clusters:
            raise InvalidOptionError("give cluster=: the fit is not clustered.")
        return list(fit.n_clusters)
    names = [cluster] if isinstance(cluster, str) else cluster
    if not isinstance(names, (list, tuple)) or not names or len(set(names)) != len(names):
        raise InvalidOptionError(
            f"cluster must be a column name or a list of distinct names, got {cluster!r}."
        )
    return list(names)


def warn_few_treated(fit, param: str, codes: np.ndarray) -> None:
    """Warn when ``param`` is a 0/1 column of the fit's data that is 1 in at most
    :data:`FEW_TREATED_CLUSTERS` bootstrap clusters."""
    data = fit._data
    if param not in data.columns:
        return
    values = pd.to_numeric(fit._fit_rows([param])[param], errors="coerce").to_numpy()
    ones = values == 1
    if not (np.isin(values, (0.0, 1.0)).all() and ones.any()):
        return
    k = len(np.unique(codes[ones]))
    if k <= FEW_TREATED_CLUSTERS:
        warnings.warn(
            f"{param!r} is 1 in only {k} of {int(codes.max()) + 1} clusters: with so few "
            "treated clusters the wild bootstrap is unreliable (MacKinnon & Webb: WCR "
            "under-rejects, WCU over-rejects); consider bootcluster= a finer level (the "
            "subcluster bootstrap), impact.conley_taber or impact.randomization_test.",
            FewClustersWarning,
            stacklevel=3,
        )


def check_refit(fit, refit, names) -> None:
    """Refuse a refit on the fit's rows that does not reproduce the fit: other rows or
    coefficients, or (clustered by the fit's own ``names``) other clusters or standard
    errors, i.e. a frame changed after fitting."""
    same = refit.nobs == fit.nobs and np.allclose(
        refit.coef.to_numpy(), fit.coef.to_numpy(), rtol=REFIT_RTOL, atol=0.0
    )
    if same and list(names) == list(fit.n_clusters):  # the fit's own clusters
        same = dict(refit.n_clusters) == dict(fit.n_clusters)
        if same and fit.vcov_label == refit.vcov_label:  # CRV1 both: the same s.e.
            same = np.allclose(refit.se.to_numpy(), fit.se.to_numpy(), rtol=REFIT_RTOL, atol=0)
    if not same:
        raise InvalidOptionError(
            "the fit's data changed after fitting (its rows or values no longer give the "
            "fit's coefficients): refit on the current data first."
        )
