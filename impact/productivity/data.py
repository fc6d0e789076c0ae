"""Validated production data: arrays for the production-function estimators.

One job: turn the user's frame and column roles into aligned float arrays (output,
inputs, proxy, controls), integer unit and period codes, and the row position of each
observation's previous period, with every dropped row counted in a :class:`SampleLog`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.data.columns import check_columns, missing_mask
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.data.timeindex import lag_positions
from impact.errors import EmptySampleError, InvalidOptionError, NonPositiveInputError
from impact.productivity.basis import input_terms, term_names

__all__ = ["ProductionData", "log_column", "production_data"]


@dataclass(frozen=True, eq=False)
class ProductionData:
    """Arrays of one production-function sample (rows with output, inputs and proxy).

    Attributes
    ----------
    y : ndarray (n,)
        Log output.
    free, state : ndarray (n, p_f), (n, p_s)
        Log free (variable) inputs and log state inputs (capital).
    proxy : ndarray (n,) or None
        Log proxy (materials or investment).
    controls : ndarray (n, q)
        Controls entering the first stage and the law of motion (float; may be empty).
    exog : ndarray (n, e)
        Excluded exogenous instruments (e.g. input prices such as the firm's wage).
    lom : ndarray (n, r)
        Law-of-motion-only regressors (treatment now and one period earlier).
    unit, period : ndarray (n,)
        Unit codes ``0..n_units-1`` and integer period codes (0 = first period).
    lag : ndarray (n,)
        Row (in this sample) of the same unit's previous period, -1 if absent.
    rows : ndarray (n,)
        Positions of the sample rows in the user's frame.
    names : dict
        Column names by role: ``output``, ``free``, ``state``, ``proxy``, ``controls``, ``lom``.
    n_units : int
    log : SampleLog
    """

    y: FloatArray
    free: FloatArray
    state: FloatArray
    proxy: FloatArray | None
    controls: FloatArray
    exog: FloatArray
    lom: FloatArray
    unit: IntArray
    period: IntArray
    lag: IntArray
    rows: IntArray
    names: dict[str, tuple[str, ...]]
    n_units: int
    log: SampleLog
    form: str = "cobb_douglas"

    @property
    def n(self) -> int:
        """Rows in the sample."""
        return len(self.y)

    @property
    def inputs(self) -> FloatArray:
        """Free then state inputs, ``(n, p_f + p_s)``."""
        return np.column_stack([self.free, self.state])

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of :attr:`inputs`."""
        return self.names["free"] + self.names["state"]

    @property
    def design(self) -> FloatArray:
        """Production-function regressors (inputs; translog adds squares and products)."""
        return input_terms(self.inputs, self.form)

    @property
    def term_names(self) -> list[str]:
        """Names of :attr:`design`."""
        return term_names(self.input_names, self.form)

    @property
    def proxy_in_free(self) -> bool:
        """The proxy is also a free input (gross output with materials)."""
        return bool(self.names["proxy"]) and self.names["proxy"][0] in self.names["free"]

    def control_vars(self, include_free: bool) -> FloatArray:
        """Variables of the control function: (free,) state and the proxy, each once."""
        cols = [self.free] if include_free else []
        cols.append(self.state)
        if self.proxy is not None and not (include_free and self.proxy_in_free):
            cols.append(self.proxy[:, None])
        return np.column_stack(cols)

    def period_dummies(self, rows: IntArray | None = None) -> FloatArray:
        """Indicators of every period but the first present in ``rows`` (all rows if None)."""
        per = self.period if rows is None else self.period[rows]
        levels = np.unique(per)[1:]
        return (per[:, None] == levels[None, :]).astype(float)


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def log_column(data: pd.DataFrame, col: str, in_logs: bool) -> FloatArray:
    """The column in logs; zero or negative levels (or log(0) = -inf) raise, naming it."""
    values = data[col].to_numpy(dtype=float, na_value=np.nan)
    if in_logs:
        bad = np.isinf(values)
        what = "infinite values (the log of a zero or negative level)"
    else:
        bad = values <= 0
        what = "zero or negative values"
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise NonPositiveInputError(
            f"column {col!r} has {int(bad.sum())} {what}, first {values[first]!r} at row "
            f"{data.index[first]!r}; a Cobb-Douglas or translog production function needs "
            "positive output and inputs. Drop those rows or use a proxy that is positive."
        )
    if in_logs:
        return values
    with np.errstate(invalid="ignore"):
        return np.log(values)


def _expand(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Values on the rows where ``mask`` holds, zero / NaN elsewhere (full length)."""
    out = np.zeros(len(mask), dtype=float) if values.dtype == bool else np.full(len(mask), np.nan)
    out[mask] = values
    return out


def _group_trends(group: pd.Series, period: np.ndarray) -> pd.DataFrame:
    """Indicators and linear trends of every group but the first (relative to the first)."""
    codes, levels = pd.factorize(group, sort=True)
    if (codes < 0).any():
        raise InvalidOptionError(f"group_trends column {group.name!r} has missing values.")
    t = period - period.mean()
    cols = {}
    for j, lev in enumerate(levels):
        if j:  # the first group is the base: period effects carry its trend
            ind = (codes == j).astype(float)
            cols[f"{group.name}={lev}"] = ind
            cols[f"{group.name}={lev}:trend"] = ind * t
    return pd.DataFrame(cols)


def production_data(
    data: pd.DataFrame,
    *,
    output: str,
    free: str | Sequence[str],
    state: str | Sequence[str],
    proxy: str | None,
    unit: str,
    time: str,
    controls: str | Sequence[str] | None = None,
    exog_instruments: str | Sequence[str] | None = None,
    treatment: str | None = None,
    group_trends: str | None = None,
    in_logs: bool = True,
    drop_nonpositive_proxy: bool = False,
    form: str = "cobb_douglas",
) -> ProductionData:
    """Validate the columns and build the estimation arrays.

    Rows with a missing output, input, proxy, control or treatment value are dropped and
    counted (step ``"missing"``). With ``drop_nonpositive_proxy`` (Olley-Pakes: zero
    investment) rows whose proxy is zero or negative are dropped and counted (step
    ``"proxy_nonpositive"``) instead of raising. ``group_trends`` names a column (e.g.
    sector) whose indicators and group-specific linear time trends are added to the
    controls.

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``data``.
    NonPositiveInputError
        Output, an input or the proxy is zero or negative (``in_logs=False``) or infinite
        in logs (``in_logs=True``), naming the column.
    InvalidOptionError
        No free or no state input; a column has two roles.
    EmptySampleError
        No rows left.
    """
    if form not in ("cobb_douglas", "translog"):
        raise InvalidOptionError(f"form must be 'cobb_douglas' or 'translog', got {form!r}.")
    free_l, state_l, ctrl_l = _as_list(free), _as_list(state), _as_list(controls)
    exog_l = _as_list(exog_instruments)
    if not free_l or not state_l:
        raise InvalidOptionError("prodest needs at least one free input and one state input.")
    # the proxy may also be a free input (gross output: materials are both)
    logged = [output, *free_l, *state_l, *([proxy] if proxy and proxy not in free_l else [])]
    roles = [*logged, *ctrl_l, *exog_l, *([treatment] if treatment else [])]
    dup = sorted({c for c in roles if roles.count(c) > 1})
    if dup:
        raise InvalidOptionError(f"columns {dup} are given more than one role in prodest.")
    check_columns(data, roles + ([group_trends] if group_trends else []))
    panel = Panel(data, unit=unit, time=time)
    log = SampleLog(n_initial=len(data))
    proxy_ok = np.ones(len(data), dtype=bool)
    if proxy and drop_nonpositive_proxy:
        raw = data[proxy].to_numpy(dtype=float, na_value=np.nan)
        proxy_ok = ~(np.isinf(raw) if in_logs else raw <= 0)
        log = log.with_drop(
            "proxy_nonpositive", f"rows with zero or negative {proxy}", int((~proxy_ok).sum())
        )
    values = {c: log_column(data.loc[proxy_ok] if c == proxy else data, c, in_logs) for c in logged}
    values = {c: _expand(v, proxy_ok) if c == proxy else v for c, v in values.items()}
    frame = pd.DataFrame(values, index=data.index)
    for c in [*ctrl_l, *exog_l, *([treatment] if treatment else [])]:
        frame[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    if group_trends:
        trends = _group_trends(data[group_trends], panel.time_codes)
        ctrl_l = ctrl_l + list(trends.columns)
        frame = pd.concat([frame, trends.set_axis(data.index)], axis=1)
    keep, log = missing_mask(frame.loc[proxy_ok], list(frame.columns), log)
    keep = _expand(keep, proxy_ok).astype(bool)
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise EmptySampleError("no rows with output, inputs and proxy all present.")
    sub = frame.iloc[rows]
    unit_codes, _ = pd.factorize(panel.unit_codes[rows])
    period = panel.time_codes[rows].astype(np.intp)
    lag = lag_positions(unit_codes, period)
    lom = np.zeros((len(rows), 0))
    if treatment:
        d = sub[treatment].to_numpy()
        d_lag = np.where(lag >= 0, d[np.maximum(lag, 0)], np.nan)
        lom = np.column_stack([d, d_lag])

    def block(cols: list[str]) -> FloatArray:
        return sub[cols].to_numpy(dtype=float).reshape(len(rows), len(cols))

    return ProductionData(
        y=sub[output].to_numpy(dtype=float),
        free=block(free_l),
        state=block(state_l),
        proxy=sub[proxy].to_numpy(dtype=float) if proxy else None,
        controls=block(ctrl_l),
        exog=block(exog_l),
        lom=lom,
        unit=unit_codes.astype(np.intp),
        period=period,
        lag=lag,
        rows=rows,
        names={
            "output": (output,),
            "free": tuple(free_l),
            "state": tuple(state_l),
            "proxy": (proxy,) if proxy else (),
            "controls": tuple(ctrl_l),
            "exog": tuple(exog_l),
            "lom": (f"{treatment}", f"{treatment}_lag1") if treatment else (),
        },
        n_units=int(unit_codes.max()) + 1,
        log=log,
        form=form,
    )
