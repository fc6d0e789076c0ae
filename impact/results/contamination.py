"""The result of :func:`impact.contamination_weights`: what each TWFE event-study
coefficient averages over cohort-by-event-time effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.data.samplelog import SampleLog
from impact.errors import InvalidOptionError
from impact.results.diagnostic_plots import plot_contamination
from impact.results.protocol import ModelInfo, ResultProtocol, rel_time_term, tidy_frame

__all__ = ["ContaminationResult"]

#: Roles of a cell for a coefficient: its own bin, another bin, the omitted event time.
ROLES = ("own", "other", "reference")


@dataclass(frozen=True, eq=False)
class ContaminationResult(ResultProtocol):
    """Sun & Abraham (2021) weights of a TWFE event study's coefficients.

    Attributes
    ----------
    weights : DataFrame
        One row per coefficient and cell: ``coefficient`` (its event time; the window's
        ends pool the event times beyond), ``cohort``, ``rel_time`` (the cell's own event
        time), ``weight``, ``role`` (``own``: the cell is in the coefficient's bin;
        ``other``: in another bin; ``reference``: at the omitted event time).
    by_coefficient : DataFrame
        Per coefficient: ``own``, ``other`` and ``reference`` weight sums (1, 0 and -1 by
        construction), ``other_abs`` (sum of absolute weights on other bins),
        ``largest_other`` (the largest absolute one), ``negative_own`` (count), and the
        coefficient itself when an outcome was given.
    """

    weights: pd.DataFrame
    by_coefficient: pd.DataFrame
    reference: int
    nobs: int
    n_units: int
    sample_log: SampleLog
    depvar: str | None = None

    @classmethod
    def build(
        cls,
        W: FloatArray,
        levels: IntArray,
        *,
        cell_g: list,
        cell_rel: IntArray,
        cell_bin: IntArray,
        reference: int,
        coefficients: FloatArray | None,
        nobs: int,
        n_units: int,
        sample_log: SampleLog,
        depvar: str | None,
    ) -> ContaminationResult:
        """Assemble the tables from the weight matrix (coefficients x cells)."""
        k, c = W.shape
        role = np.where(
            cell_bin[None, :] == levels[:, None], "own",
            np.where(cell_bin[None, :] == reference, "reference", "other"),
        )  # fmt: skip
        weights = pd.DataFrame(
            {
                "coefficient": np.repeat(levels, c),
                "cohort": np.tile(np.asarray(cell_g, dtype=object), k),
                "rel_time": np.tile(cell_rel, k), "weight": W.ravel(), "role": role.ravel(),
            }
        )  # fmt: skip
        weights = weights.sort_values(["coefficient", "rel_time", "cohort"], kind="stable")
        weights = weights.reset_index(drop=True)
        rows = []
        for i, lev in enumerate(levels):
            w, r = W[i], role[i]
            other = np.abs(w[r == "other"])
            rows.append({"coefficient": int(lev),
                         **{name: float(w[r == name].sum()) for name in ROLES},
                         "other_abs": float(other.sum()),
                         "largest_other": float(other.max()) if other.size else 0.0,
                         "negative_own": int((w[r == "own"] < -1e-12).sum())})  # fmt: skip
        summary = pd.DataFrame(rows)
        if coefficients is not None:
            summary["estimate"] = coefficients
        return cls(weights, summary, reference, nobs, n_units, sample_log, depvar)

    def tidy(self) -> pd.DataFrame:
        """One row per coefficient (term ``rel_time::k``, as event_study): the coefficient
        as ``estimate`` (NaN without an outcome; no standard error: this describes the point
        estimate) and the summary's measures."""
        s = self.by_coefficient
        est = s["estimate"] if "estimate" in s else np.full(len(s), np.nan)
        extra = {c: s[c] for c in s.columns if c not in ("coefficient", "estimate")}
        terms = [rel_time_term(k) for k in s["coefficient"]]
        return tidy_frame(terms, est, np.full(len(s), np.nan), 0.05, **extra)

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            depvar=self.depvar or "(design only)", nobs=self.nobs,
            vcov_label="none (weights of the TWFE event-study point estimates)",
            stats={"units": float(self.n_units)},
        )  # fmt: skip

    def plot(self, coefficient: int | None = None, ax: Any = None) -> Any:
        """Weights of one coefficient (default: the first post-period one) on every cell,
        against the cell's event time, by cohort."""
        levels = self.by_coefficient["coefficient"].tolist()
        k = (
            coefficient
            if coefficient is not None
            else min((v for v in levels if v >= 0), default=levels[0])
        )
        if k not in levels:
            raise InvalidOptionError(f"coefficient must be one of {levels}, got {k!r}.")
        return plot_contamination(self.weights[self.weights["coefficient"] == k], k, ax=ax)

    def summary(self) -> str:
        """The per-coefficient sums as text."""
        tab = self.by_coefficient.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        return (
            f"TWFE event-study contamination weights (Sun & Abraham 2021), reference "
            f"{self.reference}, {self.n_units} units, {self.nobs} rows\n{tab}"
        )

    def __repr__(self) -> str:
        return self.summary()
