"""Result of :func:`impact.did_multiplegt`: dynamic effects and placebos of a switching
treatment, the average total effect and the joint tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from impact.data.samplelog import SampleLog
from impact.results.plotting import plot_event_study
from impact.results.protocol import OVERALL, ModelInfo, ResultProtocol, rel_time_term, tidy_frame

__all__ = ["DidMultiplegtResult"]


@dataclass(frozen=True, eq=False)
class DidMultiplegtResult(ResultProtocol):
    """de Chaisemartin & D'Haultfoeuille's DID_l effects and placebos.

    Attributes
    ----------
    table : DataFrame
        One row per placebo, the reference period and each effect, by ``rel_time``
        (effect ``l`` at ``l - 1``: 0 is the first period after the switch; placebo ``l`` at
        ``-l - 1``; the reference ``-1`` has estimate 0 and no SE). Columns ``effect``
        (``l`` for effects, ``-l`` for placebos, 0 for the reference: the authors'
        numbering), ``estimate``, ``std_error``, ``conf_low``, ``conf_high``, ``n`` (cells
        used: switchers and their comparisons), ``switchers``, ``n_weighted``,
        ``switchers_weighted``, ``delta`` (the switchers' mean cumulated treatment change,
        the denominator of normalized effects).
    att, att_se : float
        The average total effect per unit of treatment (the authors' "average cumulative
        (total) effect per treatment unit") and its SE.
    att_n, att_switchers : int
        Its cells and switchers.
    tests : dict
        ``effects`` (all effects zero), ``placebos`` (all placebos zero), ``equal`` (all
        effects equal): each ``{"statistic", "df", "p_value"}`` (chi-square); a test that
        does not apply is absent.
    vcov : DataFrame
        Covariance of the effects and placebos, by ``rel_time``.
    n_obs : int
        Rows of the data used.
    n_units : int
        Groups in the sample.
    sample_log : SampleLog
    settings : dict
        The options of the call.
    inference : str
    """

    table: pd.DataFrame
    att: float
    att_se: float
    att_n: int
    att_switchers: int
    tests: dict[str, dict[str, float]]
    vcov: pd.DataFrame
    n_obs: int
    n_units: int
    sample_log: SampleLog
    settings: dict[str, Any] = field(default_factory=dict)
    inference: str = ""
    alpha: float = 0.05
    clusters: dict[str, int] = field(default_factory=dict)
    estimator: str = "did_multiplegt"

    def tidy(self) -> pd.DataFrame:
        """The average total effect (``ATT``), then every placebo and effect
        (``rel_time::k``) with ``effect``, ``n`` and ``switchers``."""
        tab = self.table[self.table["std_error"].notna()]
        overall = tidy_frame(
            [OVERALL], [self.att], [self.att_se], self.alpha, effect=[None],
            n=[self.att_n], switchers=[self.att_switchers],
        )  # fmt: skip
        rows = tidy_frame(
            [rel_time_term(k) for k in tab["rel_time"]], tab["estimate"], tab["std_error"],
            self.alpha, effect=tab["effect"].to_numpy(), n=tab["n"].to_numpy(),
            switchers=tab["switchers"].to_numpy(),
        )  # fmt: skip
        return pd.concat([overall, rows], ignore_index=True)

    def model_info(self) -> ModelInfo:
        """Outcome, rows used, the inference, groups."""
        return ModelInfo(
            depvar=str(self.settings.get("y", "")),
            nobs=self.n_obs,
            vcov_label=self.inference,
            clusters=self.clusters,
            stats={"n_units": float(self.n_units)},
            alpha=self.alpha,
        )

    def plot(self, ax: object = None) -> object:
        """Effects and placebos with pointwise intervals against periods since the switch."""
        return plot_event_study(self, ax=ax, labels=["DID_l (de Chaisemartin-D'Haultfoeuille)"])

    def summary(self) -> str:
        """The average total effect, the joint tests and the table."""
        lines = [
            f"DID_l of {self.settings.get('y', 'the outcome')} "
            f"({'normalized, ' if self.settings.get('normalized') else ''}{self.inference}): "
            f"average total effect {self.att:.6g} (SE {self.att_se:.6g})"
        ]
        names = {"effects": "effects all zero", "placebos": "placebos all zero",
                 "equal": "effects all equal"}  # fmt: skip
        for key, test in self.tests.items():
            lines.append(
                f"  {names[key]}: chi2({test['df']:g}) = {test['statistic']:.4f}, "
                f"p = {test['p_value']:.4g}"
            )
        return "\n".join(lines) + "\n" + self.table.to_string(index=False)

    def __str__(self) -> str:
        return self.summary()
