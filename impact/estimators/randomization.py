"""``impact.randomization_test``: re-assign the programme's launch dates across cells,
re-run any estimator, and compare its statistic with the randomization distribution."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from impact.errors import ImpactError, InvalidOptionError, close_matches_hint
from impact.inference.assignments import (
    count_assignments,
    draw_assignments,
    enumerate_assignments,
)
from impact.options import check_seed, whole_number
from impact.results.protocol import ResultProtocol
from impact.results.randomization import RandomizationResult

__all__ = ["cell_table", "check_launch", "randomization_test"]

#: Fewest random assignments accepted (a p-value resolution of 0.01).
MIN_DRAWS = 99
#: Enumerate every assignment when there are at most this many (and at most ``draws``).
MAX_ENUMERATION = 100_000
#: Statistics within this relative distance of the observed one count as ties ("at least
#: as extreme"): the observed assignment itself reproduces it up to rounding.
TIE_RTOL = 1e-9
#: With this many launched cells or fewer, the wild cluster bootstrap is unreliable
#: (MacKinnon & Webb 2017) and the randomization test's exactness rests on the model.
FEW_TREATED_CELLS = 5
STATISTICS = ("t", "estimate")
ALTERNATIVES = ("two-sided", "greater", "less")


def _columns(data: pd.DataFrame, cols: Sequence[str]) -> None:
    for c in cols:
        if not isinstance(c, str) or c not in data.columns:
            raise InvalidOptionError(
                f"{c!r} is not a column of the data"
                + close_matches_hint(str(c), [str(x) for x in data.columns])
            )


def check_launch(column: pd.Series, name: str) -> None:
    """Launch values are periods (numbers); NaN or 0 mean no programme."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise InvalidOptionError(
            f"launch column {name!r} must hold numbers (the launch year or period; NaN or 0 "
            f"where no programme was launched), got {column.dtype}."
        )


def cell_table(data, cell, launch, strata) -> tuple[pd.Index, np.ndarray, np.ndarray, pd.Index]:
    """Cells, their launch codes (``values[code]``, missing values one of them) and stratum
    codes; typed errors where a cell has two launch values or two strata."""
    if data[cell].isna().any():
        raise InvalidOptionError(f"cell column {cell!r} has missing values.")
    frame = pd.DataFrame({"cell": data[cell].to_numpy(), "launch": data[launch].to_numpy()})
    for j, s in enumerate(strata):
        if data[s].isna().any():
            raise InvalidOptionError(f"strata column {s!r} has missing values.")
        frame[f"s{j}"] = data[s].to_numpy()
    by = frame.groupby("cell", sort=True)
    for col, name in [("launch", launch), *((f"s{j}", s) for j, s in enumerate(strata))]:
        varies = by[col].nunique(dropna=False) > 1
        if varies.any():
            bad = list(varies.index[varies][:5])
            raise InvalidOptionError(
                f"assignment column {name!r} varies within cells (e.g. {bad}): the "
                "programme must be assigned at the cell level (one launch year per cell)."
            )
    first = by.first()  # NaN launches: first() skips them, so take them back from nunique
    launch_of_cell = by["launch"].agg(lambda v: v.iloc[0])
    codes, values = pd.factorize(launch_of_cell, sort=True, use_na_sentinel=False)
    if strata:
        stratum = pd.MultiIndex.from_frame(first[[f"s{j}" for j in range(len(strata))]])
        s_codes = pd.factorize(stratum, sort=True)[0]
    else:
        s_codes = np.zeros(len(codes), dtype=np.intp)
    return launch_of_cell.index, codes.astype(np.intp), s_codes.astype(np.intp), values


def _check(draws, statistic, alternative, seed) -> None:
    whole_number("draws", draws, MIN_DRAWS)
    if statistic not in STATISTICS:
        raise InvalidOptionError(f"statistic must be one of {STATISTICS}, got {statistic!r}.")
    if alternative not in ALTERNATIVES:
        raise InvalidOptionError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}.")
    check_seed(seed)


def _read(result: object, term: str, statistic: str, where: str) -> tuple[float, float, float]:
    if not isinstance(result, ResultProtocol):
        raise InvalidOptionError(
            f"the estimator must return an impact result, got {type(result).__name__}."
        )
    tidy = result.tidy()
    hit = tidy.index[tidy["term"] == term]
    if len(hit) != 1:
        raise InvalidOptionError(
            f"{term!r} is not a term of the estimator's result {where}"
            + close_matches_hint(term, [str(t) for t in tidy["term"]])
        )
    row = tidy.loc[hit[0]]
    est, se = float(row["estimate"]), float(row["std_error"])
    return est, se, float(row["statistic"]) if statistic == "t" else est


def randomization_test(
    data: pd.DataFrame,
    estimator: Callable[[pd.DataFrame], ResultProtocol],
    *,
    term: str,
    cell: str,
    launch: str,
    strata: str | Sequence[str] | None = None,
    draws: int = 999,
    statistic: str = "t",
    alternative: str = "two-sided",
    seed: int = 0,
) -> RandomizationResult:
    """Randomization inference on the programme's own assignment.

    The launch value of each cell (``launch``: the year its cluster was launched; NaN or
    0 where none was) is re-assigned across cells within strata, keeping how many cells
    of each stratum launched each year; the data's ``launch`` column is replaced by the
    re-assigned values (every row of a cell gets its cell's value) and ``estimator`` is
    re-run on it. The estimator must build its treatment from ``launch`` (for example a
    cohort ``= launch`` for every firm of the cell: the intention-to-treat design at the
    level at which the programme was assigned).

    Parameters
    ----------
    data : DataFrame
        Not modified.
    estimator : callable
        ``estimator(frame) -> result`` of this package, e.g. ``lambda d: impact.feols(
        "y ~ treated | cell + year", d.assign(treated=d.year >= d.launch_year))``.
    term : str
        The term of ``result.tidy()`` tested.
    cell, launch : str
        The cell (assignment unit) and its launch value (constant within cells).
    strata : str or list of str, optional
        Cell-level columns within which launches are exchangeable (selection into the
        programme depends on them: e.g. sector or region type).
    draws : int
        Random assignments (>= 99); all are enumerated when there are at most
        ``min(draws, 100,000)``.
    statistic : {"t", "estimate"}
        Randomization-t (default: the estimator's own t-statistic; valid also for a zero
        average effect when effects differ, asymptotically) or the estimate (exact for the
        sharp null of no effect on any cell).
    alternative : {"two-sided", "greater", "less"}
    seed : int

    Returns
    -------
    RandomizationResult

    References
    ----------
    Fisher (1935); Young, A. (2019). Channeling Fisher. QJE 134(2). Wu, J., & Ding, P.
    (2021). Randomization tests for weak null hypotheses. JASA 116(536). MacKinnon, J. G.,
    & Webb, M. D. (2020). Randomization inference for difference-in-differences with few
    treated clusters. Journal of Econometrics 218(2).

    Examples
    --------
    The launches of the shipped synthetic panel (16 of 96 cells: 6 in 2008, 5 in 2010, 5 in
    2012) re-assigned at random, the intention-to-treat regression re-run on cell-year means.

    >>> import math, impact
    >>> df = impact.datasets.load("cluster_panel")
    >>> cells = df.groupby(["cell", "year"], as_index=False).agg(
    ...     log_emp=("log_emp", "mean"), launch_year=("launch_year", "first"))
    >>> def itt(d):
    ...     launched = (d["year"] >= d["launch_year"]).astype(int)
    ...     return impact.feols("log_emp ~ launched | cell + year", d.assign(launched=launched),
    ...                         vcov={"cluster": "cell"})
    >>> res = impact.randomization_test(cells, itt, term="launched", cell="cell",
    ...                                 launch="launch_year", draws=199, seed=1)
    >>> res.n_assignments == math.comb(96, 6) * math.comb(90, 5) * math.comb(85, 5)
    True
    >>> round(res.p_value, 3)
    0.025
    """
    _check(draws, statistic, alternative, seed)
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(f"data must be a DataFrame, got {type(data).__name__}.")
    if not callable(estimator):
        raise InvalidOptionError("estimator must be a callable: data -> result.")
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    _columns(data, [cell, launch, *strata])
    check_launch(data[launch], launch)
    cells, codes, s_codes, values = cell_table(data, cell, launch, strata)
    launched = np.array([not (pd.isna(v) or v == 0) for v in values])
    n_treated = int(launched[codes].sum())
    if n_treated == 0 or n_treated == len(codes):
        raise InvalidOptionError(
            "every cell or no cell launched: re-assigning launches changes nothing."
        )
    total = count_assignments(codes, s_codes)
    if total < 2:
        raise InvalidOptionError("only one assignment is possible within these strata.")
    enumerated = total <= min(int(draws), MAX_ENUMERATION)
    if enumerated:
        assignments = enumerate_assignments(codes, s_codes)
    else:
        assignments = draw_assignments(codes, s_codes, int(draws), np.random.default_rng(seed))
    row_cell = cells.get_indexer(data[cell])
    dtype = data[launch].dtype

    def frame_of(assignment: np.ndarray) -> pd.DataFrame:
        """The data with the cells' launch values of ``assignment``, in the column's own
        dtype (the observed assignment gives the data back)."""
        column = pd.Series(values.take(assignment[row_cell]), index=data.index).astype(dtype)
        return data.assign(**{launch: column})

    observed = _run(estimator, frame_of(codes), "on the data")
    est, se, t_obs = _read(observed, term, statistic, "on the data")
    dist = np.empty(len(assignments))
    for b, a in enumerate(assignments):
        out = _run(estimator, frame_of(a), f"on re-assignment {b}")
        dist[b] = _read(out, term, statistic, f"on re-assignment {b}")[2]
    p = _p_value(t_obs, dist, alternative, enumerated)
    notes = _notes(n_treated, enumerated, dist)
    model = (
        "launch years were assigned to cells at random"
        + (f" within strata of {', '.join(strata)}" if strata else "")
        + ", keeping the number of cells launched each year"
        + (" in each stratum" if strata else "")
        + "; the estimator builds treatment from the cell's launch year."
    )
    return RandomizationResult(
        term=term, estimate=est, std_error=se,
        statistic=float(t_obs) if statistic == "t" else float("nan"), p_value=p,
        statistic_used=statistic, alternative=alternative, distribution=dist,
        draws=len(assignments), enumerated=enumerated, n_assignments=int(total),
        n_cells=len(codes), n_treated_cells=n_treated, assignment_model=model,
        depvar=observed.model_info().depvar, nobs=observed.model_info().nobs,
        notes=tuple(notes),
    )  # fmt: skip


def _run(estimator, frame: pd.DataFrame, where: str):
    """The user's estimator on one frame; its errors are typed, saying where."""
    try:
        return estimator(frame)
    except Exception as err:  # the user's code: any failure, typed and located
        raise ImpactError(f"the estimator failed {where}: {err}") from err


def _p_value(obs: float, dist: np.ndarray, alternative: str, enumerated: bool) -> float:
    ok = np.isfinite(dist)
    if not np.isfinite(obs) or not ok.all():
        raise ImpactError(
            f"the statistic is not finite on {int((~ok).sum()) + (not np.isfinite(obs))} "
            "assignment(s): the estimator cannot estimate the term there."
        )
    tol = TIE_RTOL * max(abs(obs), 1e-300)
    if alternative == "two-sided":
        hits = np.abs(dist) >= abs(obs) - tol
    elif alternative == "greater":
        hits = dist >= obs - tol
    else:
        hits = dist <= obs + tol
    if enumerated:
        return float(hits.mean())
    return float((1 + hits.sum()) / (1 + len(dist)))


def _notes(n_treated: int, enumerated: bool, dist: np.ndarray) -> list[str]:
    notes = []
    if n_treated <= FEW_TREATED_CELLS:
        text = (
            f"Only {n_treated} launched cell(s): cluster-robust and wild-bootstrap tests are "
            "unreliable here (MacKinnon & Webb); this test is exact under the assignment "
            "model, which with so few launched cells carries the whole inference."
        )
        notes.append(text)
        warnings.warn(text, stacklevel=3)
    if enumerated:
        notes.append(f"Exact: all {len(dist)} assignments enumerated.")
    return notes
