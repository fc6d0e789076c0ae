"""The design of a treatment that switches on and off: groups, baselines, first switches.

de Chaisemartin & D'Haultfoeuille's DID_l estimators compare groups whose treatment first
changes at ``F_g`` with groups of the same baseline treatment (status quo) that have not
changed yet. This module turns a long panel into the group x period arrays they read,
following the sample rules of the authors' ``did_multiplegt_dyn`` (Stata, R, Python):

1. groups whose outcome or treatment is missing in every period are dropped;
2. periods are the ranks of the observed dates (a lag of ``l`` is ``l`` observed dates);
3. the baseline ``d_g`` is a group's first observed treatment; once a group's treatment has
   been both above and below its baseline, its later rows are dropped;
4. baseline levels whose groups all switch at the same date (or never) are dropped: they
   have no comparison;
5. a (group, period) cell is dropped when no group of its baseline is unchanged then;
6. missing treatments between two observed ones are filled when the value is implied (before
   the first switch: the baseline; after it: the treatment at the switch); a switcher whose
   switch date is uncertain (treatment missing just before it) is kept as a comparison
   group up to its last certain period;
7. ``T_g``, the last period at which some group of the baseline is still unchanged, bounds
   the effects ``l = 1 .. T_g - F_g + 1`` estimable for ``g``.

Every drop is counted in the sample log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.data.columns import check_columns, require_cluster_complete, validate_weights
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.design.checks import check_numeric, unit_constant
from impact.design.switching_fill import fill_treatments, first_true
from impact.errors import ClusterError, EmptySampleError, ImpactError, InvalidOptionError

__all__ = ["SwitchingDesign", "switching_design"]


@dataclass(frozen=True)
class SwitchingDesign:
    """Group x period arrays of a switching treatment (periods are observed-date ranks).

    Attributes
    ----------
    Y, D : ndarray (G, T)
        Outcome and (filled) treatment; NaN where missing or not observed.
    N : ndarray (G, T)
        Weight of each cell: the row's weight where outcome and treatment are observed, else 0.
    comparison : ndarray (G,)
        Code of each group's comparison class: its baseline treatment ``d_g``, crossed with
        its ``trends_nonparam`` categories when given (switchers are compared within it).
    d : ndarray (G,)
        Baseline treatment.
    F : ndarray (G,) of int
        Period of the first switch (``T`` for groups that never switch).
    d_switch : ndarray (G,)
        Treatment at ``F`` (the baseline for groups that never switch).
    T_g : ndarray (G,) of int
        Last period at which some group of the comparison class has not switched.
    L : ndarray (G,) of int
        Effects estimable for the group: ``T_g - F + 1`` (<= 0 for non-switchers).
    side : ndarray (G,) of int
        1 for switchers in (treatment above baseline), 0 for switchers out, -1 otherwise.
    cluster : ndarray (G,) of int
        Cluster code of each group (the group itself without clustering).
    n_clusters : int
    times : ndarray (T,)
        The observed dates of the periods.
    units : Index (G,)
        The user's ids of the groups.
    sample_log : SampleLog
    X : ndarray (k, G, T) or None
        The ``controls`` on the same grid (rows with a missing control are dropped
        before the design is built, as the authors' command drops them).
    """

    Y: FloatArray
    D: FloatArray
    N: FloatArray
    comparison: IntArray
    d: FloatArray
    F: IntArray
    d_switch: FloatArray
    T_g: IntArray
    L: IntArray
    side: IntArray
    cluster: IntArray
    n_clusters: int
    times: np.ndarray
    units: pd.Index
    sample_log: SampleLog
    #: (k, G, T) control variables (NaN where missing), ``None`` without controls
    X: FloatArray | None = None

    @property
    def n_groups(self) -> int:
        return int(self.Y.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.Y.shape[1])


def _grid(
    data: pd.DataFrame, y: str, treatment: str, weights: str | None, panel: Panel
) -> tuple[FloatArray, FloatArray, FloatArray, np.ndarray, IntArray, IntArray, np.ndarray]:
    """Outcome, treatment, weight and presence on the unit x observed-date grid."""
    dates, t_code = np.unique(panel.period, return_inverse=True)
    g_code = panel.unit_codes
    G, T = panel.n_units, len(dates)
    Y = np.full((G, T), np.nan)
    D = np.full((G, T), np.nan)
    W = np.zeros((G, T))
    present = np.zeros((G, T), dtype=bool)
    yv = data[y].to_numpy(dtype=float, na_value=np.nan)
    dv = data[treatment].to_numpy(dtype=float, na_value=np.nan)
    Y[g_code, t_code] = np.where(np.isfinite(yv), yv, np.nan)
    D[g_code, t_code] = np.where(np.isfinite(dv), dv, np.nan)
    W[g_code, t_code] = 1.0 if weights is None else validate_weights(data, weights)
    present[g_code, t_code] = True
    return Y, D, W, present, g_code, t_code, dates


def switching_design(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str,
    cluster: str | None = None,
    weights: str | None = None,
    trends_nonparam: Sequence[str] = (),
    freq: str | None = None,
    controls: Sequence[str] = (),
) -> SwitchingDesign:
    """Validate a panel and build the arrays of :class:`SwitchingDesign` (rules in the
    module docstring).

    Raises
    ------
    ColumnNotFoundError, ColumnTypeError, DuplicateRowsError, MissingIdError
        Bad columns or ids.
    ClusterError
        A cluster id is missing or varies within a group.
    ImpactError
        A ``trends_nonparam`` column is missing on a row or varies within a group.
    EmptySampleError
        No group switches, or nothing is left to compare.
    """
    roles = [(y, "outcome"), (treatment, "treatment")]
    for col, role in roles:
        check_columns(data, [col], role=f"{role} column")
    used = [c for c in (y, unit, time, treatment, cluster, weights, *trends_nonparam,
                        *controls) if c]  # fmt: skip
    check_columns(data, [c for c in used if c in data.columns])  # a column named twice
    if set(controls) & {y, treatment}:
        raise InvalidOptionError(
            f"controls {sorted(set(controls) & {y, treatment})} include the outcome or the "
            "treatment: a control must be another column."
        )
    if not len(data):
        raise EmptySampleError("the data have no rows.")
    for col, role in roles:
        check_numeric(data, [col], role)
        values = data[col].to_numpy(dtype=float, na_value=np.nan)
        if not np.isfinite(values).any():
            raise EmptySampleError(f"the {role} {col!r} is missing on every row.")
    if cluster is not None:
        check_columns(data, [cluster], role="cluster column")
        require_cluster_complete(data, [cluster])
    if weights is not None:
        check_columns(data, [weights], role="weights column")
    check_columns(data, list(trends_nonparam), role="trends_nonparam column")
    check_columns(data, list(controls), role="control")
    check_numeric(data, list(controls), "control")
    panel = Panel(data, unit=unit, time=time, freq=freq)
    Y, D, W, present, g_code, t_code, dates = _grid(data, y, treatment, weights, panel)
    log = SampleLog(n_initial=len(data))
    X = np.full((len(controls), *Y.shape), np.nan)
    for j, col in enumerate(controls):
        X[j, g_code, t_code] = data[col].to_numpy(dtype=float, na_value=np.nan)
    no_x = present & ~np.isfinite(X).all(axis=0)
    log = log.with_drop(
        "missing_controls", "rows with a missing or infinite control", int(no_x.sum())
    )
    present &= ~no_x
    Y[no_x], D[no_x] = np.nan, np.nan
    infinite = {
        col: int(np.isinf(data[col].to_numpy(dtype=float, na_value=np.nan)).sum())
        for col in (y, treatment)
    }
    log = log.with_drop(
        "infinite", "rows with an infinite outcome or treatment (read as missing)",
        sum(infinite.values()), {k: v for k, v in infinite.items() if v},
    )  # fmt: skip
    rows = present.sum(axis=1)

    # 1. groups with no outcome or no treatment at all
    empty = ~np.isfinite(Y).any(axis=1) | ~np.isfinite(D).any(axis=1)
    log = log.with_drop(
        "no_outcome_or_treatment",
        "rows of groups whose outcome or treatment is missing in every period",
        int(rows[empty].sum()),
    )
    present &= ~empty[:, None]
    Dobs = np.isfinite(D) & present

    # 3. baseline and the rows after a group has been both above and below it
    t_min = first_true(Dobs, 0)
    d = D[np.arange(len(D)), t_min]
    above = np.logical_or.accumulate(Dobs & (D > d[:, None]), axis=1)
    below = np.logical_or.accumulate(Dobs & (D < d[:, None]), axis=1)
    both = above & below & present
    log = log.with_drop(
        "both_sides",
        "rows after a group's treatment has been both above and below its baseline",
        int(both.sum()),
    )
    present &= ~both
    Dobs &= present
    changed = np.logical_or.accumulate(Dobs & (D != d[:, None]), axis=1)
    T = Y.shape[1]
    F = first_true(changed, T)

    # 4. comparison classes (baseline x trends categories) without variation in switch dates
    alive = present.any(axis=1)
    _, level = np.unique(np.where(alive, d, np.nan), return_inverse=True)
    keys = np.column_stack([level.reshape(-1), _categories(data, trends_nonparam, g_code, panel)])
    _, level = np.unique(keys, axis=0, return_inverse=True)
    level = level.reshape(-1)
    n_levels = int(level.max()) + 1
    lo = np.full(n_levels, np.iinfo(np.int64).max)
    hi = np.full(n_levels, -1)
    np.minimum.at(lo, level[alive], F[alive])
    np.maximum.at(hi, level[alive], F[alive])
    flat = alive & (lo == hi)[level]
    log = log.with_drop(
        "baseline_without_variation",
        "rows of groups whose baseline treatment no other group shares with another "
        "switch date (no comparison)",
        int(present[flat].sum()),
    )
    present &= ~flat[:, None]

    # 5. cells with no unchanged group of the same baseline
    alive = present.any(axis=1)
    unchanged = np.zeros((n_levels, T))
    np.add.at(unchanged, level, (present & ~changed).astype(float))
    orphan = present & (unchanged[level] == 0)
    log = log.with_drop(
        "no_comparison_cell",
        "rows in periods where no group of the same baseline treatment is unchanged",
        int(orphan.sum()),
    )
    present &= ~orphan
    if not present.any():
        raise EmptySampleError(
            "no group keeps a comparison: every baseline treatment level is shared by "
            "groups that all switch at the same date (or never)."
        )
    T_max = int(np.flatnonzero(present.any(axis=0)).max())
    rows_all = np.arange(len(F))
    first_switch = np.where(F < Y.shape[1], D[rows_all, np.minimum(F, Y.shape[1] - 1)], np.nan)
    T = T_max + 1
    keep = present.any(axis=1)
    Y, D, W, present, changed = (a[keep, :T] for a in (Y, D, W, present, changed))
    X = X[:, keep, :T]
    d, F, level = d[keep], np.minimum(F[keep], T), level[keep]
    first_switch = first_switch[keep]
    units = panel.unit_labels[keep]
    Y = np.where(present, Y, np.nan)
    D = np.where(present, D, np.nan)
    Y, D, F, trunc, uncertain = fill_treatments(Y, D, F, d, present, T)
    log = log.with_drop(
        "uncertain_switch",
        "rows of switchers whose switch date is uncertain (treatment missing just before it), "
        "after their last certain period",
        int(uncertain.sum()),
    )

    # 7. last period with an unchanged group of the baseline
    F_tr = np.minimum(F, trunc)
    last_unchanged = np.full(n_levels, -1)
    np.maximum.at(last_unchanged, level, F_tr - 1)
    T_g = last_unchanged[level]
    # the treatment at the switch, read before cells without comparisons were dropped
    d_switch = np.where(F < T, first_switch, d)
    t = np.arange(T)
    window = (t >= F[:, None]) & (t <= T_g[:, None]) & np.isfinite(D)
    with np.errstate(invalid="ignore"):
        mean_after = np.where(window, D, 0.0).sum(axis=1) / window.sum(axis=1)
    unknown = (F <= T_g) & ~(np.isfinite(mean_after) & (mean_after != d))
    log = log.with_drop(
        "unknown_direction",
        "rows of switchers whose treatment after the switch is not observed",
        int(np.isfinite(Y[unknown]).sum()),
    )
    Y[unknown] = np.nan
    side = np.where((F <= T_g) & ~unknown, np.where(mean_after > d, 1, 0), -1)
    if not (side >= 0).any():
        raise EmptySampleError(
            f"no group's treatment {treatment!r} changes while another group of the same "
            "baseline treatment is still unchanged: there are no switchers to compare."
        )
    used = np.isfinite(Y) & np.isfinite(D)
    unused = present & ~used & ~uncertain
    log = log.with_drop(
        "missing",
        "rows whose outcome or treatment is missing or not implied by its neighbours",
        int(unused.sum()),
        {"outcome": int((unused & ~np.isfinite(Y)).sum()),
         "treatment": int((unused & ~np.isfinite(D)).sum())},
    )  # fmt: skip
    N = np.where(used, W, 0.0)
    cl, n_cl = _clusters(data, cluster, g_code, keep, panel)
    return SwitchingDesign(
        Y=Y, D=D, N=N, comparison=level, d=d, F=F, d_switch=d_switch,
        T_g=T_g, L=T_g - F + 1, side=side, cluster=cl, n_clusters=n_cl,
        times=np.asarray(dates[:T]), units=units, sample_log=log,
        X=np.where(np.isfinite(Y), X, np.nan) if len(controls) else None,
    )  # fmt: skip


def _clusters(
    data: pd.DataFrame, cluster: str | None, g_code: IntArray, keep: np.ndarray, panel: Panel
) -> tuple[IntArray, int]:
    """Cluster code of every kept group (each group its own cluster without ``cluster``)."""
    n = int(keep.sum())
    if cluster is None:
        return np.arange(n), n
    try:
        per_unit = unit_constant(data[cluster], g_code, cluster, "cluster", panel.unit_labels)
    except ClusterError:
        raise
    except ImpactError as exc:
        raise ClusterError(
            f"{exc} The influence functions are summed by group: a group must lie in one cluster."
        ) from None
    codes, uniques = pd.factorize(pd.Series(per_unit[keep]), sort=True)
    return codes.astype(np.intp), len(uniques)


def _categories(
    data: pd.DataFrame, columns: Sequence[str], g_code: IntArray, panel: Panel
) -> IntArray:
    """One code per unit for the combination of its ``trends_nonparam`` categories (0
    without), which must not vary within a unit nor be missing."""
    code = np.zeros(panel.n_units, dtype=np.intp)
    for col in columns:
        if data[col].isna().any():
            raise ImpactError(
                f"trends_nonparam column {col!r} is missing on {int(data[col].isna().sum())} "
                "rows: fill it or drop those rows."
            )
        per_unit = unit_constant(data[col], g_code, col, "trends_nonparam", panel.unit_labels)
        codes, uniques = pd.factorize(pd.Series(per_unit), sort=True)
        code = code * len(uniques) + codes
    return code
