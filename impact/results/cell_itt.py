"""Result of :func:`impact.cell_itt`: the launch's intention-to-treat effect on the firms
of cluster cells and its split into members and non-members."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.inference.intervals import interval
from impact.inference.wald import WaldTest, wald
from impact.results.protocol import OVERALL, ModelInfo, ResultProtocol, tidy_frame

__all__ = ["COMPONENTS", "CellITTResult"]

#: The three estimands, in the order of the weight and covariance columns.
COMPONENTS = ("itt", "members", "non_members")


def _term(component: str, k: Any) -> str:
    if component == "itt":
        return OVERALL if pd.isna(k) else f"rel_time::{int(k)}"
    return component if pd.isna(k) else f"{component}::rel_time::{int(k)}"


@dataclass(frozen=True, eq=False)
class CellITTResult(ResultProtocol):
    """Result of :func:`impact.cell_itt`.

    Attributes
    ----------
    table : DataFrame
        ``component`` (``itt``, ``members``, ``non_members``), ``rel_time`` (exposure
        time; missing on the overall row), ``estimate``, ``std_error``, ``conf_low``,
        ``conf_high``, ``weight`` (the component's weight in the ITT: 1, ``w_e`` or
        ``1 - w_e``), ``n_cells``.
    vcov : ndarray
        Joint covariance of the table's estimates (its row order).
    rows : ndarray of int
        Positions in the user's frame of the exposed observations with an imputed effect.
    weights : ndarray
        Each estimate's weight on those observations' effects (table's row order in
        columns): ``estimate = weights' tau``; with the true effects of the same rows it
        gives each estimand's truth.
    """

    table: pd.DataFrame
    vcov: FloatArray
    alpha: float
    n_obs: int
    n_clusters: int
    sample_log: SampleLog
    settings: Mapping[str, Any]
    rows: np.ndarray = field(repr=False)
    weights: FloatArray = field(repr=False)

    @classmethod
    def build(cls, *, horizons, estimate, vcov, share, n_cells, alpha, rows, weights,
              sample_log, n_obs, n_clusters, settings, components) -> CellITTResult:  # fmt: skip
        """Assemble the table (estimates in ``components`` blocks of horizons + overall)."""
        H = len(horizons)
        se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
        lo, hi = interval(estimate, se, alpha)
        ok = n_cells > 0
        w_all = float(np.mean(share[ok])) if ok.any() else np.nan
        weight = {"itt": np.ones(H + 1), "members": np.r_[share, w_all],
                  "non_members": np.r_[1.0 - share, 1.0 - w_all]}  # fmt: skip
        rel = pd.array([*map(int, horizons), pd.NA], dtype="Int64")
        table = pd.concat([
            pd.DataFrame({
                "component": c, "rel_time": rel,
                "estimate": estimate[j * (H + 1):(j + 1) * (H + 1)],
                "std_error": se[j * (H + 1):(j + 1) * (H + 1)],
                "conf_low": lo[j * (H + 1):(j + 1) * (H + 1)],
                "conf_high": hi[j * (H + 1):(j + 1) * (H + 1)],
                "weight": weight[c], "n_cells": np.r_[n_cells, n_cells.max(initial=0)],
            })
            for j, c in enumerate(components)
        ], ignore_index=True)  # fmt: skip
        return cls(
            table=table, vcov=vcov, alpha=alpha, n_obs=n_obs, n_clusters=n_clusters,
            sample_log=sample_log, settings=settings, rows=rows, weights=weights,
        )  # fmt: skip

    @property
    def overall(self) -> pd.DataFrame:
        """The overall rows, indexed by component."""
        tab = self.table
        return tab[tab["rel_time"].isna()].set_index("component")

    def effect(self, component: str = "itt") -> pd.DataFrame:
        """One component's rows by exposure time (overall row left out)."""
        tab = self.table
        return tab[(tab["component"] == component) & tab["rel_time"].notna()].reset_index(drop=True)

    def equal_split_test(self) -> WaldTest:
        """Wald test that members and non-members have the same overall effect (the
        direct effect equals the spillover)."""
        terms = self.tidy()["term"].tolist()
        coef = pd.Series(self.table["estimate"].to_numpy(), index=terms)
        vcov = pd.DataFrame(self.vcov, index=terms, columns=terms)
        R = pd.Series(0.0, index=terms)
        R["members"], R["non_members"] = 1.0, -1.0
        diff = np.array([R.to_numpy() @ coef.to_numpy()])
        return wald(diff, (R.to_numpy() @ vcov.to_numpy() @ R.to_numpy())[None, None],
                    generalized=True)  # fmt: skip

    def tidy(self) -> pd.DataFrame:
        """``ATT`` and ``rel_time::k`` for the ITT, ``members``/``non_members`` (and
        ``…::rel_time::k``) for the split."""
        tab = self.table
        terms = [_term(c, k) for c, k in zip(tab["component"], tab["rel_time"], strict=True)]
        return tidy_frame(
            terms, tab["estimate"], tab["std_error"], self.alpha,
            component=tab["component"].to_numpy(), rel_time=tab["rel_time"].to_numpy(),
            weight=tab["weight"].to_numpy(),
        )  # fmt: skip

    def model_info(self) -> ModelInfo:
        """Outcome, observations, the clustered imputation variance, cells."""
        cell = str(self.settings.get("cell", "cell"))
        return ModelInfo(
            depvar=str(self.settings.get("y", "")),
            nobs=self.n_obs,
            vcov_label=f"Clustered ({cell}), imputation variance (BJS 2024, Theorem 3)",
            clusters={cell: self.n_clusters},
            fixef=(str(self.settings.get("unit", "")),
                   str(self.settings.get("fixed_effects") or self.settings.get("time", ""))),
            alpha=self.alpha,
        )  # fmt: skip

    def summary(self) -> str:
        """The overall ITT, its split, and the rows by exposure time."""
        ov = self.overall
        w = ov.loc["members", "weight"]
        if not (0 < w < 1):
            none = "members" if not w > 0 else "non-members"
            lines = [f"No {none} among the imputed firm-years: the split is not defined."]
            return "\n".join([*lines, self.table.to_string(index=False)])
        lines = [
            f"Launch ITT on cluster-cell firms of {self.settings.get('y', 'the outcome')}: "
            f"{ov.loc['itt', 'estimate']:.6g} (SE {ov.loc['itt', 'std_error']:.6g})",
            f"  = {w:.4g} x members {ov.loc['members', 'estimate']:.6g} "
            f"(SE {ov.loc['members', 'std_error']:.6g})"
            f" + {1 - w:.4g} x non-members {ov.loc['non_members', 'estimate']:.6g} "
            f"(SE {ov.loc['non_members', 'std_error']:.6g})",
            f"Observations: {self.n_obs}, cells: {self.n_clusters}",
            self.table.to_string(index=False),
        ]
        if self.sample_log.records:
            lines.append(str(self.sample_log))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
