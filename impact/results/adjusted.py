"""The result of :func:`impact.adjust`: a family of tests with adjusted p-values."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from impact.results.protocol import ModelInfo, ResultProtocol
from impact.results.wildboot import describe_draws

__all__ = ["AdjustedResult"]

_NAMES = {
    "romano_wolf": "Romano-Wolf step-down (family-wise error)",
    "westfall_young": "Westfall-Young free step-down min-P (family-wise error)",
    "holm": "Holm (family-wise error)",
    "bonferroni": "Bonferroni (family-wise error)",
    "bky": "Benjamini-Krieger-Yekutieli sharpened q-values (false discovery rate)",
}


@dataclass(frozen=True, eq=False)
class AdjustedResult(ResultProtocol):
    """Unadjusted and adjusted p-values of a family of tests ``term = 0``.

    Attributes
    ----------
    table : DataFrame
        One row per test: ``test`` (label), ``depvar``, ``term``, ``estimate``,
        ``std_error``, ``statistic``, ``p_value`` (unadjusted; for the resampling methods
        with the bootstrap clusters) and ``p_adjusted``.
    method : str
    B, enumerated, weights, cluster, n_clusters, seed
        The joint draws of the resampling methods (None for the p-value methods).
    """

    table: pd.DataFrame
    method: str
    B: int | None = None
    enumerated: bool = False
    weights: str | None = None
    cluster: str | None = None
    n_clusters: int | None = None
    seed: int | None = None

    @property
    def description(self) -> str:
        """The method and, for resampling, the joint draws."""
        name = _NAMES[self.method]
        if self.B is None:
            return name
        draws = describe_draws(self.B, self.enumerated, "joint draws")
        return (
            f"{name}; {draws}, {self.weights} weights, seed {self.seed}, over "
            f"{self.n_clusters} clusters ({self.cluster})"
        )

    def tidy(self) -> pd.DataFrame:
        """One row per test; ``term`` is the test's label, ``p_adjusted`` the adjusted
        p-value (no interval: adjusted intervals are not computed)."""
        tab = self.table
        return pd.DataFrame(
            {
                "term": tab["test"], "estimate": tab["estimate"],
                "std_error": tab["std_error"], "statistic": tab["statistic"],
                "p_value": tab["p_value"], "conf_low": float("nan"),
                "conf_high": float("nan"), "p_adjusted": tab["p_adjusted"],
            }
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        deps = ", ".join(dict.fromkeys(str(d) for d in self.table["depvar"] if d))
        clusters = {self.cluster: self.n_clusters} if self.cluster and self.n_clusters else {}
        return ModelInfo(depvar=deps, nobs=0, vcov_label=self.description, clusters=clusters)

    def summary(self) -> str:
        cols = ["test", "estimate", "std_error", "statistic", "p_value", "p_adjusted"]
        return f"{self.description}\n{self.table[cols].to_string(index=False)}"

    def __repr__(self) -> str:
        return self.summary()
