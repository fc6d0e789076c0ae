"""From the user's frame to the estimation sample of a formula model, every drop counted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.columns import (
    check_columns,
    missing_mask,
    require_cluster_complete,
    validate_weights,
)
from impact.data.samplelog import SampleLog
from impact.errors import EmptySampleError
from impact.linear.fixed_effects import FixedEffects, build_fixed_effects, find_singletons
from impact.linear.formula import ParsedFormula
from impact.linear.model_matrix import factor_values

__all__ = ["EstimationSample", "prepare_sample"]


@dataclass(frozen=True)
class EstimationSample:
    """The rows an estimator uses, with their fixed-effect codes and weights.

    Attributes
    ----------
    frame : DataFrame
        The needed columns of the used rows (a new frame; the user's is untouched).
    fe : FixedEffects or None
    weights : ndarray or None
    log : SampleLog
    """

    frame: pd.DataFrame
    fe: FixedEffects | None
    weights: FloatArray | None
    log: SampleLog


def prepare_sample(
    data: pd.DataFrame,
    parsed: ParsedFormula,
    *,
    weights: str | None,
    clusters: tuple[str, ...],
    drop_singletons: bool = True,
    extra: Sequence[str] = (),
) -> EstimationSample:
    """Validate columns and build the estimation sample of a formula model.

    Drops (counted in the SampleLog, in this order): rows with missing or infinite
    values in a model column; rows where a transform (e.g. ``log``) is not finite; rows
    with zero weight; singleton fixed-effect groups (iteratively). Errors: unknown
    columns, invalid weights, missing cluster ids on used rows, empty sample. ``extra``
    columns (e.g. an offset) are carried along and count in the missing-value drop.
    """
    check_columns(data, parsed.columns, role="formula column")
    if weights is not None:
        check_columns(data, [weights], role="weights column")
    check_columns(data, clusters, role="cluster variable")
    check_columns(data, list(extra))
    cols = list(
        dict.fromkeys([*parsed.columns, *([weights] if weights else []), *clusters, *extra])
    )
    frame = data[cols]
    log = SampleLog(n_initial=len(data))
    w_all = validate_weights(frame, weights) if weights is not None else None
    keep, log = missing_mask(frame, [*parsed.columns, *extra], log)
    # transforms such as log(x) can create non-finite values from finite inputs
    detail: dict[str, int] = {}
    transformed = [parsed.depvar] + [f for t in parsed.terms for f in t.factors if f.kind == "func"]
    bad_t = np.zeros(len(frame), dtype=bool)
    for f in transformed:
        if f.kind != "func":
            continue
        vals = factor_values(frame, f)
        bad = keep & ~np.isfinite(vals)
        if bad.any():
            detail[f.label] = int(bad.sum())
            bad_t |= bad
    keep &= ~bad_t
    log = log.with_drop(
        "transform", "rows where a transform is not finite", int(bad_t.sum()), detail
    )
    if w_all is not None:
        zero = keep & (w_all == 0)
        keep &= ~zero
        log = log.with_drop("zero_weight", "rows with zero weight", int(zero.sum()))
    if not keep.any():
        raise EmptySampleError("no rows are left after dropping missing values; see the SampleLog.")
    frame = frame.loc[keep]
    require_cluster_complete(frame, clusters)
    fe = build_fixed_effects(frame, parsed.fixef) if parsed.fixef else None
    if fe is not None and drop_singletons:
        keep2, per_dim = find_singletons(fe)
        n_single = int((~keep2).sum())
        if n_single:
            log = log.with_drop("singletons", "singleton fixed-effect groups", n_single, per_dim)
            frame = frame.loc[keep2]
            fe = fe.subset(keep2)
    if len(frame) == 0:
        raise EmptySampleError("every row is a fixed-effect singleton; nothing can be estimated.")
    w = frame[weights].to_numpy(dtype=np.float64) if weights is not None else None
    return EstimationSample(frame=frame, fe=fe, weights=w, log=log)
