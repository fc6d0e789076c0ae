"""The result of :func:`impact.wildboot`: a wild cluster bootstrap test of one coefficient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.results.protocol import ModelInfo, ResultProtocol

__all__ = ["WildBootResult", "describe_draws"]


def describe_draws(B: int, enumerated: bool, what: str = "draws") -> str:
    """``"all 32 sign vectors (full enumeration)"`` or ``"9999 draws"``."""
    return f"all {B} sign vectors (full enumeration)" if enumerated else f"{B} {what}"


@dataclass(frozen=True, eq=False)
class WildBootResult(ResultProtocol):
    """Wild cluster bootstrap of ``param`` (Cameron, Gelbach & Miller 2008; Roodman et al.
    2019).

    Attributes
    ----------
    param : str
    estimate, std_error, statistic : float
        The coefficient, its cluster-robust (CRV1) standard error with the bootstrap
        clusters, and ``(estimate - null) / std_error`` (the Wald t; for the score
        bootstrap with the null imposed, the cluster-robust Rao score statistic at the
        fit restricted to the null).
    p_values : dict
        ``symmetric`` (two-sided, ``|t*| >= |t|``), ``equal-tailed``, ``greater`` (H1:
        coefficient > null), ``less``.
    p_value : float
        The one asked for (``pvalue=``).
    conf_low, conf_high : float
        ``1 - alpha`` interval by inverting the symmetric test (restricted bootstrap) or
        from the quantile of ``|t*|`` (unrestricted); infinite where no value is rejected
        (e.g. fully enumerated Rademacher weights with very few clusters).
    t_boot : ndarray
        The bootstrap t-statistics at the null.
    method : str
        ``"WCR"`` (null imposed) or ``"WCU"``, with the weights and the draw count.
    """

    param: str
    null: float
    estimate: float
    std_error: float
    statistic: float
    p_values: dict[str, float]
    p_value: float
    pvalue_type: str
    conf_low: float
    conf_high: float
    alpha: float
    t_boot: FloatArray
    B: int
    enumerated: bool
    weights: str
    impose_null: bool
    cluster: str
    n_clusters: int
    nobs: int
    depvar: str
    variance: tuple[str, ...] = ()
    #: "wild" (feols: residuals perturbed, model refitted in closed form) or "score"
    #: (fepois: Kline & Santos's score bootstrap, no refit per draw)
    bootstrap: str = "wild"

    @property
    def method(self) -> str:
        kind = "WCR" if self.impose_null else "WCU"
        draws = describe_draws(self.B, self.enumerated)
        if self.bootstrap == "score":
            scores = "restricted scores: Rao test" if self.impose_null else "unrestricted scores"
            out = (
                f"score bootstrap (Kline & Santos 2012; {scores}, {self.weights} weights, {draws})"
            )
        else:
            out = f"wild cluster bootstrap ({kind}, {self.weights} weights, {draws})"
        if self.variance and tuple(self.variance) != (self.cluster,):
            out += f"; variance clustered by {' + '.join(self.variance)}"
        return out

    @property
    def interval_method(self) -> str:
        """How the interval was found: inverting the symmetric WCR test, or (WCU) the
        quantile of ``|t*|``."""
        if self.impose_null:
            return "inverting the symmetric test"
        return "estimate +- the (1 - alpha) quantile of |t*| times the s.e."

    def tidy(self) -> pd.DataFrame:
        """One row: the coefficient, its CRV1 standard error, t, the bootstrap p-value and
        interval."""
        return pd.DataFrame(
            {
                "term": [self.param], "estimate": [self.estimate],
                "std_error": [self.std_error], "statistic": [self.statistic],
                "p_value": [self.p_value], "conf_low": [self.conf_low],
                "conf_high": [self.conf_high],
            }
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.depvar, nobs=self.nobs,
            vcov_label=f"{self.method}, clustered by {self.cluster}",
            clusters={self.cluster: self.n_clusters}, alpha=self.alpha,
        )  # fmt: skip

    def summary(self) -> str:
        level = round(100 * (1 - self.alpha))
        rows = "\n".join(f"  p ({k}): {v:.4f}" for k, v in self.p_values.items())
        return (
            f"{self.method}\nH0: {self.param} = {self.null:g}; {self.n_clusters} clusters "
            f"({self.cluster}), {self.nobs:,} observations\n"
            f"estimate {self.estimate:.6g}  CRV1 s.e. {self.std_error:.6g}  "
            f"t {self.statistic:.4f}\n"
            f"{rows}\n{level}% interval ({self.interval_method}): [{self.conf_low:.6g}, "
            f"{self.conf_high:.6g}]"
        )

    def __repr__(self) -> str:
        return self.summary()


#: Bootstrap statistics within this relative distance of ``t`` count as ties, "at least as
#: extreme": under full enumeration the restricted bootstrap's all-ones (and all-minus-ones)
#: sign vector reproduces ``t`` exactly, up to rounding.
TIE_RTOL = 1e-9


def p_values(t: float, t_boot: FloatArray) -> dict[str, float]:
    """Bootstrap p-values of ``t``: the share of bootstrap statistics at least as extreme
    (ties, see :data:`TIE_RTOL`, included)."""
    tol = TIE_RTOL * max(abs(t), 1e-300)
    greater, less = float(np.mean(t_boot >= t - tol)), float(np.mean(t_boot <= t + tol))
    return {
        "symmetric": float(np.mean(np.abs(t_boot) >= abs(t) - tol)),
        "equal-tailed": min(1.0, 2 * min(greater, less)),
        "greater": greater,
        "less": less,
    }
