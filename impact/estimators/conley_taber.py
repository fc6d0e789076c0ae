"""``impact.conley_taber``: DiD inference when only a few cells are treated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from impact.errors import FewClustersWarning, ImpactWarning, InvalidOptionError
from impact.estimators.randomization import cell_table, check_launch
from impact.inference.conley_taber import (
    cell_imputation,
    error_distribution,
    ferman_pinto_scale,
    injective_assignments,
)
from impact.options import check_alpha, check_seed, whole_number
from impact.results.conley_taber import ConleyTaberResult

__all__ = ["conley_taber"]

#: Fewest draws accepted.
MIN_DRAWS = 99
#: Assignments of controls to treated cells are enumerated up to this many.
MAX_ENUMERATION = 100_000
#: Fewer distinct assignments than this cannot give a p-value below 0.05.
MIN_ASSIGNMENTS = 20
#: The distribution of the error is estimated from the control cells: with fewer the
#: approximation is coarse (Conley & Taber's theory lets their number grow).
FEW_CONTROLS = 20
#: Errors within this relative distance of the estimate count as ties.
TIE_RTOL = 1e-9
CORRECTIONS = ("ferman_pinto", "none")


def _check(data, y, cell, time, launch, alpha, correction, draws, seed) -> None:
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(f"data must be a DataFrame, got {type(data).__name__}.")
    for role, col in (("y", y), ("cell", cell), ("time", time), ("launch", launch)):
        if not isinstance(col, str) or col not in data.columns:
            raise InvalidOptionError(f"{role}={col!r} is not a column of the data.")
    check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise InvalidOptionError(f"correction must be one of {CORRECTIONS}, got {correction!r}.")
    whole_number("draws", draws, MIN_DRAWS)
    check_seed(seed)
    if not pd.api.types.is_numeric_dtype(data[y]) or pd.api.types.is_bool_dtype(data[y]):
        raise InvalidOptionError(f"outcome {y!r} must be numeric, got {data[y].dtype}.")
    check_launch(data[launch], launch)
    if not pd.api.types.is_numeric_dtype(data[time]) or pd.api.types.is_bool_dtype(data[time]):
        raise InvalidOptionError(
            f"time column {time!r} must hold numbers (periods comparable with launch), got "
            f"{data[time].dtype}."
        )


def _launches(data, cell, launch, periods, notes: list[str]) -> pd.Series:
    """Each cell's launch period (NaN: never), checked: constant within cells (0 and NaN
    both mean never unless 0 is a period of the data, where 0 is a launch in period 0),
    finite, on the period grid (or after its end)."""
    values = pd.to_numeric(data[launch], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise InvalidOptionError(f"launch column {launch!r} has infinite values: use NaN.")
    zero = values == 0
    if zero.any():
        if np.any(periods == 0):
            notes.append(
                "launch 0 read as a launch in period 0 (0 is a period of the data; NaN "
                "marks cells that never launched)."
            )
        else:
            values = np.where(zero, np.nan, values)
    work = pd.DataFrame({cell: data[cell].to_numpy(), launch: values})
    cells, codes, _, uniq = cell_table(work, cell, launch, [])
    out = pd.Series(np.asarray(uniq, dtype=float)[codes], index=cells)
    inside = out.notna() & (out <= periods[-1])
    off = inside & ~out.isin(periods)
    if off.any():
        raise InvalidOptionError(
            f"cells {list(out.index[off][:5])} launch at {list(out[off][:5])}, not a period "
            f"of the data: launch values must be periods (first treated period)."
        )
    return out


def _cell_panel(data, y, cell, time, notes: list[str]):
    """Cells x periods means of ``y`` and the cells' mean number of observations per
    period; a typed error when a cell misses a period; rows without ``y`` are counted in
    ``notes``."""
    rows = data[[cell, time, y]].dropna(subset=[y])
    dropped = len(data) - len(rows)
    if dropped:
        notes.append(f"{dropped:,} rows without {y!r} dropped.")
    if not np.isfinite(rows[y].to_numpy(dtype=float)).all():
        raise InvalidOptionError(f"outcome {y!r} has infinite values.")
    if rows[time].isna().any():
        raise InvalidOptionError(f"time column {time!r} has missing values.")
    grouped = rows.groupby([cell, time], sort=True)[y]
    means = grouped.mean().unstack(time)
    counts = grouped.size().unstack(time)
    missing = means.isna()
    if missing.to_numpy().any():
        bad = list(means.index[missing.any(axis=1)][:5])
        raise InvalidOptionError(
            f"cells {bad} have no observed {y!r} in some periods: the cell-level panel must "
            "be balanced (restrict the periods, or drop those cells)."
        )
    return means, counts.mean(axis=1).to_numpy(dtype=float), len(rows)


def conley_taber(
    data: pd.DataFrame,
    *,
    y: str,
    cell: str,
    time: str,
    launch: str,
    alpha: float = 0.05,
    correction: str = "ferman_pinto",
    draws: int = 9999,
    seed: int = 0,
) -> ConleyTaberResult:
    """DiD inference with few treated cells (Conley & Taber 2011; Ferman & Pinto 2019).

    With one to five treated clusters the cluster-robust and wild bootstrap tests are
    unreliable (MacKinnon & Webb 2017). Conley and Taber estimate the distribution of the
    estimate's error from the control cells, which are many: each control cell's outcome
    path, net of the period effects, run through a treated cell's estimation weights, is
    one draw of that cell's error. The p-value and interval need no standard error.

    Parameters
    ----------
    data : DataFrame
        Firm-level (or cell-level) long panel; never modified. It is averaged to cell x
        period means, which must be balanced.
    y, cell, time : str
        Outcome, the cell (the level at which the programme is assigned) and the period.
    launch : str
        The cell's launch period (first treated period; NaN or 0: never launched, but 0
        is period 0 when the data have one), constant within cells. A launch after the
        last period makes the cell a control; a launch at or before the first period (no
        untreated period) is an error.
    alpha : float
    correction : {"ferman_pinto", "none"}
        Ferman & Pinto (2019): cell means of more firms have smaller errors; the control
        cells' draws are rescaled to each treated cell's size with ``var = a + b / size``
        fitted over the controls (``a``: the common cell shock). ``"none"``: Conley &
        Taber's homoskedastic version.
    draws : int
        Random assignments of controls when there are more than 100,000 (enumerated
        otherwise).
    seed : int

    Returns
    -------
    ConleyTaberResult

    References
    ----------
    Conley, T. G., & Taber, C. R. (2011). Inference with "difference in differences" with
    a small number of policy changes. Review of Economics and Statistics, 93(1), 113–125.
    Ferman, B., & Pinto, C. (2019). Inference in differences-in-differences with few
    treated groups and heteroskedasticity. Review of Economics and Statistics, 101(3).

    Examples
    --------
    The last launch wave of the shipped synthetic panel, 5 cells launched in 2012, against the
    cells that never host a cluster (cells observed in every year).

    >>> import impact
    >>> df = impact.datasets.load("cluster_panel")
    >>> every_year = df.groupby("cell")["year"].transform("nunique") == df["year"].nunique()
    >>> d = df[every_year & (df["launch_year"].isna() | (df["launch_year"] == 2012))]
    >>> res = impact.conley_taber(d, y="log_emp", cell="cell", time="year", launch="launch_year")
    >>> res.n_treated_cells, res.n_control_cells, round(res.estimate, 2)
    (5, 79, 0.24)
    >>> bool(res.conf_low < res.estimate < res.conf_high)
    True
    """
    _check(data, y, cell, time, launch, alpha, correction, draws, seed)
    if data[cell].isna().any():
        raise InvalidOptionError(f"cell column {cell!r} has missing values.")
    notes: list[str] = []
    means, size, nobs = _cell_panel(data, y, cell, time, notes)
    periods = means.columns.to_numpy(dtype=float)
    every = _launches(data, cell, launch, periods, notes)
    lost = every.index.difference(means.index)
    if len(lost):
        notes.append(
            f"{len(lost)} cell(s) without any observed {y!r} left out "
            f"({int(every[lost].notna().sum())} of them launched)."
        )
    launch_of_cell = every.reindex(means.index)
    lv = launch_of_cell.to_numpy(dtype=float)
    launched = np.isfinite(lv)
    first = np.where(launched, np.searchsorted(periods, np.where(launched, lv, 0), "left"), -1)
    late = launched & (first >= len(periods))
    if late.any():
        notes.append(f"{int(late.sum())} cell(s) launch after the last period: controls.")
        first[late] = -1
    early = first == 0
    if early.any():
        raise InvalidOptionError(
            f"cells {list(means.index[early][:5])} launch at or before the first period: "
            "no untreated period to compare with."
        )
    n1, n0 = int((first >= 0).sum()), int((first < 0).sum())
    if n1 == 0:
        raise InvalidOptionError("no cell launches within the periods: nothing to estimate.")
    if n0 < max(n1, 2):
        raise InvalidOptionError(
            f"{n0} control cells for {n1} treated: the error distribution needs at least as "
            "many control cells as treated ones (and many more for accuracy)."
        )
    fit = cell_imputation(means.to_numpy(dtype=float), first)
    D = fit.weights @ fit.control_paths.T  # treated x controls
    if correction == "ferman_pinto":
        s1, s0 = size[first >= 0], size[first < 0]
        if np.ptp(s0) == 0 and np.any(s1 != s0[0]):
            text = (
                "the Ferman-Pinto correction is not identified (every control cell has "
                f"{s0[0]:g} observations per period, the treated cells others): the draws "
                "are not rescaled to the treated cells' sizes."
            )
            notes.append(text)
            warnings.warn(text, ImpactWarning, stacklevel=2)
        D = ferman_pinto_scale(D, s1, s0)
    assign, enumerated = injective_assignments(
        n1, n0, int(draws), np.random.default_rng(int(seed)), MAX_ENUMERATION
    )
    if len(assign) < MIN_ASSIGNMENTS:
        raise InvalidOptionError(
            f"only {len(assign)} assignments of {n0} control cells to {n1} treated: the "
            "p-value cannot fall below 0.05. More control cells are needed."
        )
    dist = error_distribution(D, assign)
    est = fit.estimate
    tol = TIE_RTOL * max(abs(est), 1e-300)
    p = float(np.mean(np.abs(dist) >= abs(est) - tol))
    # the interval inverts the same symmetric test: |estimate - value| within the
    # 1 - alpha quantile of |error| (higher rank: p >= alpha inside)
    q = float(np.quantile(np.abs(dist), 1 - alpha, method="higher"))
    if n0 < FEW_CONTROLS:
        text = (
            f"only {n0} control cells: the error distribution is estimated from them, and "
            "Conley-Taber's approximation needs many."
        )
        notes.append(text)
        warnings.warn(text, FewClustersWarning, stacklevel=2)
    return ConleyTaberResult(
        estimate=est, p_value=p, conf_low=float(est - q), conf_high=float(est + q),
        alpha=float(alpha), distribution=dist, draws=len(dist), enumerated=enumerated,
        correction=correction, n_treated_cells=n1, n_control_cells=n0,
        n_periods=len(periods), depvar=y, nobs=nobs, notes=tuple(notes),
    )  # fmt: skip
