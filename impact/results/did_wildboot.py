"""The result of :func:`impact.did_wildboot`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from impact.results.protocol import ModelInfo, ResultProtocol
from impact.results.wildboot import describe_draws

__all__ = ["DiDWildBootResult"]


@dataclass(frozen=True, eq=False)
class DiDWildBootResult(ResultProtocol):
    """Wild cluster bootstrap-t inference for ATT(g,t) cells, an aggregation, or the
    event times of an imputation or did2s event study.

    Attributes
    ----------
    table : DataFrame
        One row per term (``ATT(g,t)``; or the aggregation's or event study's ``ATT``
        then its rows):
        ``estimate``, ``std_error`` (cluster-robust, from the influence functions),
        ``statistic``, ``p_value`` (bootstrap-t, symmetric), ``conf_low``/``conf_high``
        (pointwise: ``estimate +- q_j se`` with ``q_j`` the ``1 - alpha`` quantile of
        ``|t*_j|``) and ``band_low``/``band_high`` (simultaneous: ``q`` the quantile of
        ``max_j |t*_j|``).
    critical_value : float
        The sup-t critical value of the bands.
    """

    table: pd.DataFrame
    critical_value: float
    B: int
    enumerated: bool
    weights: str
    cluster: str
    n_clusters: int
    alpha: float
    seed: int
    aggregate: str | None
    depvar: str
    n_units: int
    #: the estimator bootstrapped: "att_gt", or the event study's "imputation" or "did2s"
    estimator: str = "att_gt"
    #: max |theta(Yhat) + sum_c theta(u^(c)) - theta(Y)|: zero up to rounding with
    #: residuals="ols" (the estimator is linear in the outcome; the tests check it); not
    #: zero by construction with jackknife residuals
    _identity_gap: float = field(default=0.0, repr=False)
    #: the bootstrap t-statistics (B x terms)
    _t_boot: object = field(default=None, repr=False)

    @property
    def method(self) -> str:
        draws = describe_draws(self.B, self.enumerated)
        return (
            f"wild cluster bootstrap-t ({self.weights} weights, {draws}, seed {self.seed}), "
            f"clustered by {self.cluster} ({self.n_clusters} clusters)"
        )

    def tidy(self) -> pd.DataFrame:
        """The table without the band columns."""
        cols = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        return self.table[cols].copy()

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.depvar, nobs=self.n_units, vcov_label=self.method,
            clusters={self.cluster: self.n_clusters}, alpha=self.alpha,
            stats={"n_units": float(self.n_units)},
        )  # fmt: skip

    def summary(self) -> str:
        if self.estimator != "att_gt":
            what = f"{self.estimator} event study"
        elif self.aggregate is None:
            what = "ATT(g,t)"
        else:
            what = f"{self.aggregate} aggregation"
        return (
            f"{what} of {self.depvar}: {self.method}\n"
            f"sup-t critical value {self.critical_value:.3f}\n"
            f"{self.table.to_string(index=False)}"
        )

    def __repr__(self) -> str:
        return self.summary()
