"""The immutable result of a Poisson (PPML) fixed-effects regression."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.linear.demean import fixef_coefficients
from impact.results.linear import FeolsResult
from impact.results.protocol import finite_stats

__all__ = ["FepoisResult"]


@dataclass(frozen=True, eq=False)
class FepoisResult(FeolsResult):
    """Result of :func:`impact.fepois`: everything of :class:`FeolsResult` plus the fit.

    ``fitted()`` are the fitted means, ``resid()`` the response residuals ``y - mu``;
    ``r2``/``r2_within`` are NaN (see ``pseudo_r2``).

    Attributes
    ----------
    deviance, null_deviance : float
        Poisson deviance of the model and of the constant-mean model.
    loglik : float
        Poisson log-likelihood.
    pseudo_r2 : float
        ``1 - loglik / loglik_null`` (McFadden, as fixest and pyfixest).
    iterations : int
        IRLS iterations.
    offset : str or None

    Examples
    --------
    The scrap rate of Wooldridge's Example 14.1 in levels by Poisson PML; pyfixest's ``fepois``
    reports the same deviance (51.75) and pseudo R-squared (0.675).

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["scrap"])
    >>> fit = impact.fepois("scrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain)
    >>> round(fit.deviance, 2), round(fit.pseudo_r2, 3)
    (51.75, 0.675)
    >>> bool(abs(fit.fitted().sum() - jtrain["scrap"].sum()) < 1e-6)  # fitted total = observed
    True
    """

    deviance: float = float("nan")
    null_deviance: float = float("nan")
    loglik: float = float("nan")
    pseudo_r2: float = float("nan")
    iterations: int = 0
    offset: str | None = None
    _link_fe: FloatArray | None = field(default=None, repr=False)
    #: the kept regressors (rows of the sample) and the offset's values: the score
    #: bootstrap re-fits the model with a coefficient held at the null
    _X: FloatArray | None = field(default=None, repr=False)
    _offset_values: FloatArray | None = field(default=None, repr=False)
    #: the IRLS options of the fit (tol, maxiter, fixef_tol): a refit reproduces it
    _irls: dict = field(default_factory=dict, repr=False)

    def vcov_as(self, vcov: object, ssc: object = None) -> FeolsResult:
        """Not available for Poisson fits: their variance reads the IRLS weights of the last
        iteration; refit :func:`impact.fepois` with the variance wanted."""
        raise InvalidOptionError(
            "vcov_as recomputes feols variances only; refit impact.fepois with vcov=..."
        )

    @cached_property
    def _fixef_values(self) -> tuple[FloatArray, ...]:
        if self._fe is None:
            return ()
        return fixef_coefficients(self._link_fe, self._fe, None)

    def _fit_stats(self) -> dict[str, float]:
        return finite_stats(pseudo_r2=self.pseudo_r2)

    def summary(self) -> str:
        """Printable summary: the feols layout with deviance and pseudo R2."""
        lines = super().summary().split("\n")
        lines[0] = f"Poisson (PPML): {self.formula}"
        out = []
        for line in lines:
            if line.startswith("R2:"):
                line = (
                    f"Deviance: {self.deviance:.6g}   Pseudo R2: {self.pseudo_r2:.5f}   "
                    f"IRLS iterations: {self.iterations}"
                )
            out.append(line)
        return "\n".join(out)

    def predict(self, newdata: pd.DataFrame | None = None, type: str = "response") -> pd.Series:
        """Predicted means (``type="response"``) or linear predictor (``"link"``).

        With ``newdata``, the offset column (if the model has one) is read from it.
        """
        if type not in ("response", "link"):
            raise InvalidOptionError(f"type must be 'response' or 'link', got {type!r}.")
        if newdata is None:
            mu = self.fitted()
            return (mu if type == "response" else np.log(mu)).rename("predict")
        link = super().predict(newdata)
        if self.offset is not None:
            link = link + newdata[self.offset].to_numpy(dtype=float)
        return np.exp(link) if type == "response" else link
