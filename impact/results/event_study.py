"""The result of :func:`impact.event_study`: event-time effects in one table for every
estimator, with their joint covariance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.engine.base import EngineUse
from impact.inference.bands import sup_t_critical_value
from impact.inference.intervals import interval
from impact.inference.wald import wald
from impact.results.plotting import plot_event_study
from impact.results.protocol import OVERALL, ModelInfo, ResultProtocol, rel_time_term, tidy_frame

__all__ = ["EventStudyResult", "event_table"]


@dataclass(frozen=True, eq=False)
class EventStudyResult(ResultProtocol):
    """Event-time estimates of one estimator, in the table every estimator shares.

    Attributes
    ----------
    estimator : str
    table : DataFrame
        ``rel_time``, ``estimate``, ``std_error``, ``conf_low``, ``conf_high``,
        ``band_low``, ``band_high`` (simultaneous sup-t band over the window); the
        reference period is a row with estimate 0 and no SE.
    att : float
        Average of the event-time effects at rel_time 0 .. window end (equal weights).
    att_se : float
    att_treated, att_treated_se : float
        imputation and did2s: the average effect on the treated observations at rel_time
        0 .. window end, each event time weighted by its treated observations (Borusyak,
        Jaravel & Spiess's overall ATT; Gardner's static second stage); NaN for the other
        estimators. :attr:`att_weights` shows both weightings.
    n_obs, n_units : int
    sample_log : SampleLog
    settings : dict
        ``y``, ``window``, ``reference``, ``vcov``.
    fit : object
        The underlying fit (feols, imputation, att_gt or etwfe result).
    vcov : DataFrame
        Joint covariance of the estimated event-time effects (pre and post), by rel_time.
    inference : str
        The inference used (e.g. ``"Clustered (firm_id)"``).
    """

    estimator: str
    table: pd.DataFrame
    att: float
    att_se: float
    n_obs: int
    n_units: int
    sample_log: SampleLog
    settings: dict[str, Any] = field(default_factory=dict)
    fit: Any = field(default=None, repr=False)
    vcov: pd.DataFrame | None = field(default=None, repr=False)
    att_treated: float = float("nan")
    att_treated_se: float = float("nan")
    #: treated observations behind each estimated event time (imputation, did2s)
    treated_counts: Any = field(default=None, repr=False)
    inference: str = ""
    alpha: float = 0.05
    clusters: dict[str, int] = field(default_factory=dict)
    fixef: tuple[str, ...] = ()
    #: the validated call (an EventRequest), for re-running the estimator
    _request: Any = field(default=None, repr=False)
    #: passes and bytes collected when the fit ran in a query engine (else None)
    engine_use: EngineUse | None = field(default=None, repr=False)

    @property
    def att_weights(self) -> pd.DataFrame:
        """The weights of the overall effects on the post event times: ``equal`` (of
        ``att``) and ``treated`` (of ``att_treated``: the treated observations' shares;
        NaN for estimators that do not count them)."""
        rel = np.asarray(self.vcov.index if self.vcov is not None else [], dtype=int)
        post = rel >= 0
        equal = post / max(post.sum(), 1)
        if self.treated_counts is None:
            treated = np.full(len(rel), np.nan)
        else:
            counts = np.asarray(self.treated_counts, dtype=float) * post
            treated = counts / counts.sum()
        frame = pd.DataFrame({"rel_time": rel, "equal": equal, "treated": treated})
        return frame[post].reset_index(drop=True)

    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every pre-treatment event-time effect is zero (chi-square).

        Returns
        -------
        dict
            ``statistic``, ``df``, ``p_value``; NaN when the estimator reports no
            pre-treatment effects (imputation).
        """
        if self.vcov is None:
            return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
        pre = [r for r in self.vcov.index if r < 0]
        if not pre:
            return {"statistic": float("nan"), "df": 0, "p_value": float("nan")}
        theta = self.table.set_index("rel_time").loc[pre, "estimate"].to_numpy()
        return wald(theta, self.vcov.loc[pre, pre].to_numpy(), generalized=True).as_dict()

    def tidy(self) -> pd.DataFrame:
        """The overall effect (``ATT``: average of event times 0 .. window end), then each
        estimated event time (``rel_time::k``; the reference is not a row)."""
        tab = self.table[self.table["std_error"].notna()]
        overall = tidy_frame([OVERALL], [self.att], [self.att_se], self.alpha)
        rows = tidy_frame(
            [rel_time_term(k) for k in tab["rel_time"]],
            tab["estimate"],
            tab["std_error"],
            self.alpha,
        )
        return pd.concat([overall, rows], ignore_index=True)

    def model_info(self) -> ModelInfo:
        """Outcome, observations, the inference used, units."""
        return ModelInfo(
            depvar=str(self.settings.get("y", "")),
            nobs=self.n_obs,
            vcov_label=self.inference,
            clusters=self.clusters,
            fixef=self.fixef,
            stats={"n_units": float(self.n_units)},
            alpha=self.alpha,
        )

    def plot(self, ax: object = None) -> object:
        """Estimates with pointwise intervals and the simultaneous band; returns the Axes."""
        return plot_event_study(self, ax=ax)

    def summary(self) -> str:
        """The overall effect, the inference used, the pre-trend test and the table."""
        pre = self.pretrend_test()
        lines = [
            f"Event study ({self.estimator}) of {self.settings.get('y', 'the outcome')}: ATT "
            f"(average of post event times) {self.att:.6g} (SE {self.att_se:.6g})",
            f"Inference: {self.inference}; observations {self.n_obs:,}, units {self.n_units:,}",
        ]
        if np.isfinite(self.att_treated):
            lines.append(
                f"ATT over treated observations (each event time weighted by its treated "
                f"observations) {self.att_treated:.6g} (SE {self.att_treated_se:.6g})"
            )
        if np.isfinite(pre["p_value"]):
            lines.append(
                f"Pre-trend test: chi2({pre['df']}) = {pre['statistic']:.4g}, "
                f"p = {pre['p_value']:.4g}"
            )
        lines.append(self.table.to_string(index=False))
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        if self.engine_use is not None:
            u = self.engine_use
            lines.append(f"Engine: {u.engine}, {u.passes} passes over the data, "
                         f"{u.bytes_collected:,} bytes collected")  # fmt: skip
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def event_table(
    est: FloatArray, V: FloatArray, rel: np.ndarray, reference: int | None, alpha: float, seed: int
) -> pd.DataFrame:
    """The shared event-study table: pointwise intervals, the sup-t band, and the
    reference period as a row with estimate 0 and no SE."""
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    low, high = interval(est, se, alpha)
    crit = sup_t_critical_value(V, alpha, seed)
    tab = pd.DataFrame(
        {
            "rel_time": rel.astype(int),
            "estimate": est,
            "std_error": se,
            "conf_low": low,
            "conf_high": high,
            "band_low": est - crit * se,
            "band_high": est + crit * se,
        }
    )
    if reference is not None and reference not in set(rel.tolist()):
        ref = pd.DataFrame(
            {
                "rel_time": [reference], "estimate": [0.0], "std_error": [np.nan],
                "conf_low": [np.nan], "conf_high": [np.nan], "band_low": [np.nan],
                "band_high": [np.nan],
            }
        )  # fmt: skip
        tab = pd.concat([tab, ref], ignore_index=True)
    return tab.sort_values("rel_time", kind="stable").reset_index(drop=True)
