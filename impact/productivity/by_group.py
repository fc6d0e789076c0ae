"""Production functions estimated separately by group (e.g. sector): ``prodest(by=...)``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.errors import ImpactError, ImpactWarning
from impact.results.productivity import ProdestByResult, ProdestResult

__all__ = ["prodest_by"]


def prodest_by(
    fit: Callable[..., ProdestResult],
    data: pd.DataFrame,
    by: str,
    unit: str,
    min_firms: int,
    seed: int,
    kwargs: dict[str, Any],
) -> ProdestByResult:
    """Run ``fit`` on each group of ``data[by]``; small or failing groups give NaN rows.

    Each group's bootstrap uses its own seed derived from ``(seed, group position)``.
    """
    check_columns(data, [by], role="by column")
    key = data[by]
    missing = int(key.isna().sum())
    if missing:
        warnings.warn(
            f"prodest(by={by!r}): {missing} rows with a missing {by} are left out.",
            ImpactWarning,
            stacklevel=3,
        )
    results: dict[Any, ProdestResult | None] = {}
    reasons: dict[Any, str] = {}
    positions: dict[Any, np.ndarray] = {}
    for j, level in enumerate(sorted(key.dropna().unique())):
        mask = (key == level).to_numpy()
        positions[level] = np.flatnonzero(mask)
        part = data.iloc[positions[level]]
        n_firms = int(part[unit].nunique())
        if n_firms < min_firms:
            reasons[level] = f"{n_firms} firms < min_firms={min_firms}"
            results[level] = None
            continue
        group_seed = int(np.random.SeedSequence([seed, j]).generate_state(1)[0])
        try:
            results[level] = fit(part, seed=group_seed, **kwargs)
        except ImpactError as err:
            reasons[level] = f"{type(err).__name__}: {err}"
            results[level] = None
    for level, why in reasons.items():
        warnings.warn(
            f"prodest(by={by!r}): group {level!r} not estimated ({why}); its row is NaN.",
            ImpactWarning,
            stacklevel=3,
        )
    return ProdestByResult(
        by=by, results=results, reasons=reasons, index=data.index, positions=positions
    )
