"""``cell_itt``: the launch of a cluster as a cell-level treatment, its intention-to-treat
effect on the cell's firms, and the exact split of that effect into the members' direct
effect and the non-members' spillover.

Every firm of a cluster cell is exposed from its cell's launch, member or not. Firm and
period (or category-by-period) effects are fitted on the never-exposed observations (firms
in cells without a cluster, and cluster-cell firms before the launch), as in the
imputation estimator of Borusyak, Jaravel & Spiess (2024); each exposed observation's
effect ``tau_it`` is its outcome less its imputed untreated outcome. At exposure time
``e`` (periods since the launch), with ``C_e`` the cells observed at ``e``, ``n_ct`` their
imputed firms and ``s_ct`` the share of those that are members at ``t``:

- ``ITT_e`` = mean over cells of the mean effect in the cell (cells weigh equally, as in
  a DiD of cell means);
- ``members_e`` = the members' mean effect, cells weighted by their member share
  ``s_ct``; ``non_members_e`` the same for non-members with weights ``1 - s_ct``;

so that ``ITT_e = w_e members_e + (1 - w_e) non_members_e`` exactly, ``w_e`` the mean of
``s_ct`` over ``C_e``. The overall rows average the exposure times equally (``ITT``) or
weighted by ``w_e`` and ``1 - w_e`` (members, non-members), so the identity holds for
them too. All are linear in the outcomes given the design, and their joint variance is
the conservative Theorem 3 variance of BJS clustered by cell (effects taken homogeneous
within launch wave, exposure time and membership).

Selection into membership within a cell does not bias the ITT (the cell's firms are
compared as a whole); the split needs more, that members and non-members would have
trended as firms of the same cell with the same fixed effects: under selection on
trends its two parts are biased in opposite directions while their weighted sum stays
unbiased (DGP.md §4.9; ``docs/report.md`` measures it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.design.checks import unit_constant
from impact.errors import ColumnTypeError, ImpactError, InvalidOptionError
from impact.estimators.imputation import FirstStageSpec, first_stage, weighted_effects
from impact.inference.clusters import check_cluster_count
from impact.linear.formula import parse_fixed_effects
from impact.options import check_alpha, check_frame_and_names, whole_number
from impact.results.cell_itt import COMPONENTS, CellITTResult

__all__ = ["cell_itt", "decomposition_weights"]


def _fresh(name: str, taken) -> str:
    """``name``, suffixed until no column of the data has it (internal columns never
    replace a user's)."""
    taken = {str(c) for c in taken}
    out, k = name, 0
    while out in taken:
        k += 1
        out = f"{name}_{k}"
    return out


def _check(data: pd.DataFrame, names: dict, fixed_effects) -> list[str]:
    check_frame_and_names(data, "cell_itt", names)
    if len(set(names.values())) < len(names):
        raise InvalidOptionError(f"{', '.join(names)} must be different columns: {names}.")
    if fixed_effects is not None and not isinstance(fixed_effects, str):
        raise InvalidOptionError(f"fixed_effects must be 'category^time', got {fixed_effects!r}.")
    fe = [c for dim in parse_fixed_effects(fixed_effects or "") for c in dim]
    check_columns(data, [*names.values(), *(c for c in fe if c != names["time"])])
    return fe


def _member(data: pd.DataFrame, col: str) -> np.ndarray:
    s = data[col]
    if s.isna().any():
        raise ImpactError(f"member column {col!r} is missing on {int(s.isna().sum())} rows.")
    if not (pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s)):
        raise ColumnTypeError(f"member column {col!r} must be 0/1 or boolean, got {s.dtype}.")
    v = s.to_numpy(dtype=float)
    if not np.isin(v, (0.0, 1.0)).all():
        raise ColumnTypeError(
            f"member column {col!r} must hold 0/1 (1 = member in that period), got "
            f"{sorted(set(v[~np.isin(v, (0.0, 1.0))]))[:5]}."
        )
    return v == 1.0


def _launch(data: pd.DataFrame, cell: str, launch: str, unit: str) -> np.ndarray:
    """The launch period of every row's cell (NaN: no cluster), constant within cells,
    and cells that contain whole firms."""
    raw = data[launch]
    if pd.api.types.is_bool_dtype(raw) or not pd.api.types.is_numeric_dtype(raw):
        raise ColumnTypeError(
            f"launch column {launch!r} must hold the launch period as a number (missing "
            f"in cells without a cluster), got {raw.dtype}."
        )
    cells, labels = pd.factorize(data[cell])
    if (cells < 0).any():
        raise ImpactError(f"cell column {cell!r} is missing on {int((cells < 0).sum())} rows.")
    units, ulabels = pd.factorize(data[unit])
    if (units >= 0).all():  # firms stay in one cell (checked first: a move is not a launch)
        try:
            unit_constant(pd.Series(cells), units, cell, "cell", pd.Index(ulabels, name=unit))
        except ImpactError:
            raise ImpactError(
                f"a firm changes cells ({cell!r} varies within {unit!r}): each firm must "
                "belong to one cell for the launch to define its exposure."
            ) from None
    try:
        unit_constant(raw, cells, launch, "launch", pd.Index(labels, name=cell))
    except ImpactError as exc:
        raise ImpactError(
            str(exc).replace("within unit", "within cell").replace(
                "constant over time for every unit", "constant within every cell")
        ) from None  # fmt: skip
    g = raw.to_numpy(dtype=float, na_value=np.nan).copy()
    g[np.isinf(g)] = np.nan  # the R did / csdid codes of "never": inf, and 0 (below)
    return g


def decomposition_weights(
    e: np.ndarray, cell: np.ndarray, period: np.ndarray, member: np.ndarray, horizons
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of ITT, members and non-members on the exposed observations.

    Parameters
    ----------
    e, cell, period, member : ndarray
        Exposure time, cell code, period and membership of each imputed observation.
    horizons : ndarray of int
        Exposure times reported (>= 0).

    Returns
    -------
    W : ndarray, shape (n, 3 * (len(horizons) + 1))
        Columns: per component (``COMPONENTS``), one per horizon, then the overall one.
    share : ndarray (len(horizons),)
        ``w_e``: the mean member share of the cells at each exposure time.
    n_cells : ndarray (len(horizons),)
    """
    key = pd.factorize(pd.MultiIndex.from_arrays([cell, period]))[0]
    n_ct = np.bincount(key)[key].astype(float)
    s_ct = (np.bincount(key, weights=member.astype(float)) / np.bincount(key))[key]
    H = len(horizons)
    W = np.zeros((len(e), 3 * (H + 1)))
    share, n_cells = np.full(H, np.nan), np.zeros(H, dtype=int)
    for j, k in enumerate(horizons):
        at = e == k
        first = at & ~pd.Series(key).duplicated().to_numpy()  # one row per cell-period
        n_cells[j] = int(first.sum())
        if not n_cells[j]:
            continue
        share[j] = s_ct[first].mean()
        W[:, j] = at / (n_ct * n_cells[j])
        for c, (m, s) in enumerate(((member, s_ct), (~member, 1.0 - s_ct)), start=1):
            total = s[first].sum()
            W[:, c * (H + 1) + j] = at * m / n_ct / total if total > 0 else np.nan
    ok = n_cells > 0
    W[:, H] = W[:, :H][:, ok].mean(axis=1) if ok.any() else np.nan
    for c, w in ((1, share), (2, 1.0 - share)):
        cols = W[:, c * (H + 1) : c * (H + 1) + H]
        use = ok & (w > 0)
        W[:, c * (H + 1) + H] = cols[:, use] @ w[use] / w[use].sum() if use.any() else np.nan
    return W, share, n_cells


def cell_itt(
    data: pd.DataFrame,
    *,
    y: str,
    unit: str,
    time: str,
    cell: str,
    launch: str,
    member: str,
    fixed_effects: str | None = None,
    max_e: int | None = None,
    alpha: float = 0.05,
) -> CellITTResult:
    """The launch's intention-to-treat effect on the firms of cluster cells, split into the
    members' direct effect and the non-members' spillover.

    Parameters
    ----------
    data : DataFrame
        Firm-period panel; never modified.
    y, unit, time : str
        Outcome, firm id and integer period.
    cell : str
        The firm's cell (e.g. region x sector); firms must not change cells.
    launch : str
        The period the cell's cluster was launched, constant within the cell, missing in
        cells without a cluster (their firms are never exposed).
    member : str
        0/1: the firm is a member of the cluster in that period (may switch on and
        off). Members must be in cluster cells, from the launch on.
    fixed_effects : str, optional
        ``"category^time"`` (e.g. ``"sector^year"``) replaces the period effects by
        category-by-period effects.
    max_e : int, optional
        Last exposure time reported (default: all).
    alpha : float
        Level of the intervals.

    Returns
    -------
    CellITTResult
        ``table``: per component (``itt``, ``members``, ``non_members``) one row per
        exposure time and an overall row (``rel_time`` missing), with ``weight`` (1,
        ``w_e``, ``1 - w_e``) and the cells used; ``vcov`` their joint covariance.

    References
    ----------
    Borusyak, K., Jaravel, X., & Spiess, J. (2024). Revisiting event-study designs: robust
    and efficient estimation. Review of Economic Studies, 91(6), 3253–3285.

    Examples
    --------
    A synthetic panel with 32 launched cells (the default 16 are too few clusters for
    cluster-robust errors by cell); the ITT is the member-share-weighted sum of its parts.

    >>> import impact
    >>> from impact.datasets import cluster_panel
    >>> df, _ = cluster_panel(600, seed=1, launch_waves=((2008, 12), (2010, 10), (2012, 10)))
    >>> df["member"] = (df["join_year"] <= df["year"]).astype(int)
    >>> res = impact.cell_itt(df, y="log_emp", unit="firm_id", time="year", cell="cell",
    ...                       launch="launch_year", member="member", max_e=5)
    >>> ov = res.overall
    >>> ov["n_cells"].tolist()
    [32, 32, 32]
    >>> bool(abs(ov.loc["itt", "estimate"] - (ov.loc["members", "weight"]
    ...     * ov.loc["members", "estimate"] + ov.loc["non_members", "weight"]
    ...     * ov.loc["non_members", "estimate"])) < 1e-12)
    True
    """
    names = {"y": y, "unit": unit, "time": time, "cell": cell, "launch": launch,
             "member": member}  # fmt: skip
    fe = _check(data, names, fixed_effects)
    alpha = check_alpha(alpha)
    max_e = whole_number("max_e", max_e, 0, optional=True)
    g = _launch(data, cell, launch, unit)
    m = _member(data, member)
    t = data[time]
    if pd.api.types.is_bool_dtype(t) or not pd.api.types.is_numeric_dtype(t):
        raise ColumnTypeError(f"time {time!r} must hold integer periods, got {t.dtype}.")
    if (g == 0).any():
        if (t == 0).any():
            raise ImpactError(
                f"launch column {launch!r} contains 0, which is also a period of {time!r}: "
                "code cells without a cluster as missing (NaN)."
            )
        g = np.where(g == 0, np.nan, g)
    outside = m & ~(t.to_numpy(dtype=float) >= g)  # NaN launch compares False
    if outside.any():
        first = data.index[np.flatnonzero(outside)[0]]
        raise ImpactError(
            f"{int(outside.sum())} member rows are not exposed (a cell without a launch, or "
            f"a period before the cell's launch; first at row {first!r}): members must be "
            "in cluster cells from the launch on."
        )
    keep_cols = list(dict.fromkeys([y, unit, time, cell, *fe]))
    launch_col = _fresh("_launch", data.columns)
    member_col = _fresh("_member", [*data.columns, launch_col])
    work = data[keep_cols].copy()
    work[launch_col], work[member_col] = g, m
    spec = FirstStageSpec(y=y, unit=unit, time=time, cohort=launch_col, fixed_effects=fixed_effects)
    fs = first_stage(work, spec, (cell,))
    idx1 = np.flatnonzero(fs.imputable & ~fs.untreated)
    tau = fs.y[idx1] - fs.alpha[fs.ucode[idx1]] - fs.lam[fs.tcode[idx1]]
    e = (fs.period[idx1] - fs.cohort[idx1]).astype(int)
    hs = np.unique(e)
    hs = hs[hs <= max_e] if max_e is not None else hs
    if not len(hs):
        raise ImpactError(f"no exposed observation at exposure times 0..{max_e}.")
    c_row = pd.factorize(work[cell].to_numpy()[fs.keep])[0]
    check_cluster_count(int(c_row.max()) + 1, cell, "cell_itt")
    mem = work[member_col].to_numpy()[fs.keep][idx1]
    n_launched = len(np.unique(c_row[idx1]))
    if n_launched < 2:
        raise ImpactError(
            f"only {n_launched} launched cell has exposed firm-years: the standard errors, "
            "clustered by cell, need several launched cells (with one, use "
            "impact.conley_taber or impact.randomization_test on the cell means)."
        )
    check_cluster_count(n_launched, f"{cell} (launched cells)", "cell_itt")
    W, share, n_cells = decomposition_weights(e, c_row[idx1], fs.period[idx1], mem, hs)
    est, S, _ = weighted_effects(fs, idx1, tau, W, (fs.cohort[idx1], e, mem), c_row)
    return CellITTResult.build(
        horizons=hs, estimate=est, vcov=S.T @ S, share=share, n_cells=n_cells,
        alpha=alpha, rows=fs.keep[idx1], weights=W, sample_log=fs.log,
        n_obs=len(fs.keep), n_clusters=int(c_row.max()) + 1,
        settings={"y": y, "unit": unit, "time": time, "cell": cell, "launch": launch,
                  "member": member, "fixed_effects": fixed_effects, "max_e": max_e},
        components=COMPONENTS,
    )  # fmt: skip
