"""ONE result protocol: what every result offers to users, :func:`impact.etable` and maketables.

Every result (feols, fepois, att_gt and its aggregations, event_study, etwfe, prodest, tfp_did,
and the diagnostics bacon, twfe_weights, pretrend_power, honest_did) derives from
:class:`ResultProtocol` and implements two methods:

- ``tidy()``: a DataFrame with ``term, estimate, std_error, statistic, p_value,
  conf_low, conf_high`` (:data:`TIDY_COLUMNS`; more columns may follow);
- ``model_info()``: a :class:`ModelInfo` (outcome, observations, the inference actually
  used, clusters, fixed effects, fit statistics).

From these the protocol gives ``etable`` its rows and maketables its plug-in hooks
(``__maketables_coef_table__``, ``__maketables_stat__``, ``__maketables_depvar__``,
``__maketables_fixef_string__``, ``__maketables_vcov_info__``,
``__maketables_default_stat_keys__``) without importing maketables. Term names follow one
rule, so that results line up in one table: an overall DiD effect is ``ATT``, an
event-time effect ``rel_time::k`` (as feols names ``i(rel_time, ...)`` dummies).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact.inference.intervals import interval, two_sided_p

__all__ = [
    "OVERALL",
    "ROW_TERMS",
    "TIDY_COLUMNS",
    "ModelInfo",
    "ResultProtocol",
    "finite_stats",
    "rel_time_term",
    "tidy_frame",
]

#: Columns every ``tidy()`` starts with, in this order.
TIDY_COLUMNS = (
    "term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
)  # fmt: skip

#: Term name of an overall (aggregated) DiD effect.
OVERALL = "ATT"

#: Term prefix of the rows of each aggregation type (``rel_time::k``, ``cohort::g``, …).
ROW_TERMS = {"group": "cohort", "calendar": "time", "dynamic": "rel_time"}


def rel_time_term(k: int) -> str:
    """Term name of the effect at event time ``k`` (feols' name of an ``i(rel_time)`` dummy)."""
    return f"rel_time::{int(k)}"


def tidy_frame(
    terms: Any,
    estimate: Any,
    std_error: Any,
    alpha: float = 0.05,
    df: float | None = None,
    **extra: Any,
) -> pd.DataFrame:
    """A ``tidy()`` frame from estimates and standard errors (normal reference unless
    ``df``); ``extra`` columns (e.g. ``rel_time``, ``cohort``) follow the standard ones."""
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    low, high = interval(est, se, alpha, df)
    cols = {
        "term": [str(t) for t in terms], "estimate": est, "std_error": se, "statistic": stat,
        "p_value": two_sided_p(stat, df), "conf_low": low, "conf_high": high,
    }  # fmt: skip
    return pd.DataFrame({**cols, **extra})


def finite_stats(**stats: float) -> dict[str, float]:
    """The finite statistics only (NaN ones are not reported)."""
    return {k: float(v) for k, v in stats.items() if v is not None and np.isfinite(v)}


@dataclass(frozen=True)
class ModelInfo:
    """What a table says about a fit besides its coefficients.

    Attributes
    ----------
    depvar : str
    nobs : int
        Observations (rows) used.
    vcov_label : str
        The inference actually used, e.g. ``"Clustered (firm_id)"`` or ``"Multiplier
        bootstrap (999 draws, Rademacher), clustered (region)"``.
    clusters : dict of str to int
        Cluster variables and their counts (empty when not clustered).
    fixef : tuple of str
        Fixed effects absorbed (display names).
    ssc : str
        Small-sample preset ("" when none applies).
    stats : dict of str to float
        Fit statistics by maketables key: ``r2``, ``r2_within``, ``pseudo_r2``, ``n_units``.
    alpha : float
        Level of ``tidy()``'s intervals.
    """

    depvar: str
    nobs: int
    vcov_label: str
    clusters: Mapping[str, int] = field(default_factory=dict)
    fixef: tuple[str, ...] = ()
    ssc: str = ""
    stats: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05


class ResultProtocol(abc.ABC):
    """Base of every result: ``tidy()`` and ``model_info()`` give the rest."""

    @abc.abstractmethod
    def tidy(self) -> pd.DataFrame:
        """Estimates: :data:`TIDY_COLUMNS` first."""

    @abc.abstractmethod
    def model_info(self) -> ModelInfo:
        """Outcome, observations, inference, clusters, fixed effects, statistics."""

    # ------------------------------------------------------------------ maketables
    @property
    def __maketables_coef_table__(self) -> pd.DataFrame:
        t = self.tidy()
        out = pd.DataFrame(
            {
                "b": t["estimate"].to_numpy(),
                "se": t["std_error"].to_numpy(),
                "t": t["statistic"].to_numpy(),
                "p": t["p_value"].to_numpy(),
            },
            index=pd.Index([str(x) for x in t["term"]], name="Coefficient"),
        )
        if abs(self.model_info().alpha - 0.05) < 1e-12:
            out["ci95l"] = t["conf_low"].to_numpy()
            out["ci95u"] = t["conf_high"].to_numpy()
        return out

    def __maketables_stat__(self, key: str) -> Any:
        info = self.model_info()
        base = {"N": info.nobs, "se_type": info.vcov_label, "nobs": info.nobs}
        if key in base:
            return base[key]
        return info.stats.get(key)

    @property
    def __maketables_depvar__(self) -> str:
        return self.model_info().depvar

    @property
    def __maketables_fixef_string__(self) -> str | None:
        fe = self.model_info().fixef
        return "+".join(fe) if fe else None

    @property
    def __maketables_vcov_info__(self) -> dict[str, Any]:
        info = self.model_info()
        clusters = list(info.clusters)
        return {"vcov_type": info.vcov_label, "clustervar": clusters or None}

    @property
    def __maketables_default_stat_keys__(self) -> list[str]:
        return ["N", *[k for k in ("r2", "pseudo_r2") if k in self.model_info().stats]]
