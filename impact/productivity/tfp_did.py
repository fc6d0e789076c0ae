"""``impact.tfp_did``: staggered DiD on estimated TFP with two-stage bootstrap inference.

TFP is estimated, so a DiD on it inherits the production function's sampling error. The
two-stage bootstrap resamples firms (whole histories), re-estimates the production
function on the resample, recomputes every firm-year's TFP, re-runs
:func:`impact.att_gt` and aggregates: the spread of the draws includes both stages.
Firms are resampled as copies with new ids, so the DiD sees a resampled panel exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from impact.data.columns import check_columns
from impact.data.samplelog import summarize_draw_warnings
from impact.design.staggered import cohort_membership
from impact.errors import ConvergenceError, ImpactError, ImpactWarning, InvalidOptionError
from impact.estimators.att_gt import att_gt
from impact.productivity.bootstrap import MAX_FAILED_SHARE, DrawCallback, draw_progress, firm_counts
from impact.productivity.data import production_data
from impact.productivity.fitting import FitOptions, PointFit, fit_point, refit_point
from impact.productivity.rivals import warn_rivals
from impact.results.tfp_did import TFPDiDResult

__all__ = ["tfp_did"]

#: Column holding the estimated productivity inside the DiD frames.
#: The estimated productivity column of the working copy (as named in sample-drop notes).
_TFP = "tfp (estimated)"
_MEMBER = "__member__"


def _did_estimates(frame: pd.DataFrame, did: Mapping[str, Any], events: Sequence[int]):
    """ATT(g,t) on ``frame[_TFP]`` and the aggregates: (result, simple, dynamic)."""
    gt = att_gt(frame, y=_TFP, **did)
    simple = gt.aggregate("simple")
    dyn = gt.aggregate("dynamic", min_e=min(events), max_e=max(events))
    return gt, simple, dyn


def _vector(simple, dyn, events: Sequence[int]) -> np.ndarray:
    tab = dyn.table.set_index("rel_time")["estimate"]
    per_e = [float(tab.get(e, np.nan)) for e in events]
    return np.concatenate([[simple.estimate, dyn.estimate], per_e])


def _firm_rows(codes: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by firm, each firm's first position and row count."""
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=n_units)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, counts


def _resample(frame: pd.DataFrame, unit: str, rng: np.random.Generator, layout) -> pd.DataFrame:
    """A firm-block resample with fresh unit ids ``0..G-1`` (one per drawn copy)."""
    order, starts, lengths = layout
    n_units = len(starts)
    drawn = np.repeat(np.arange(n_units), firm_counts(rng, n_units).astype(np.intp))
    lens = lengths[drawn]
    offsets = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    rows = order[np.repeat(starts[drawn], lens) + offsets]
    out = frame.iloc[rows].reset_index(drop=True)
    out[unit] = np.repeat(np.arange(len(drawn)), lens)
    return out


def tfp_did(
    data: pd.DataFrame,
    *,
    output: str,
    free: str | Sequence[str],
    state: str | Sequence[str],
    proxy: str | None = None,
    unit: str,
    time: str,
    cohort: str,
    method: str = "acf",
    measure: Literal["tfp", "omega"] = "omega",
    controls: str | Sequence[str] | None = None,
    exog_instruments: str | Sequence[str] | None = None,
    group_trends: str | None = None,
    membership_in_lom: bool = True,
    in_logs: bool = True,
    did: Mapping[str, Any] | None = None,
    event_times: Sequence[int] = (0, 1, 2, 3, 4, 5),
    n_boot: int = 199,
    seed: int = 0,
    progress: bool | DrawCallback = False,
    **prodest_options: Any,
) -> TFPDiDResult:
    """Effect of treatment on estimated log TFP, with SEs that include the TFP estimation.

    Parameters
    ----------
    output, free, state, proxy, unit, time, method, controls, exog_instruments,
    group_trends, in_logs
        The production function, as in :func:`impact.prodest`.
    cohort : str
        First treated period (NaN for never-treated), as in :func:`impact.att_gt`.
    measure : {"omega", "tfp"}
        DiD outcome: productivity without the transitory shock (default; rows outside the
        production sample are NaN and leave the DiD) or ``y - x b``. OLS and FE have no
        first stage, so they always use ``y - x b`` (the result says ``"tfp"``).
    membership_in_lom : bool
        Put membership ``1{time >= cohort}`` (cohorts read as by att_gt: NaN, 0 or inf,
        or ``did["never_treated"]``, mean never treated) in the productivity law of motion (De
        Loecker 2013; default). Without it a policy that raises productivity is partly
        read as a higher return to inputs.
    did : dict, optional
        Further :func:`impact.att_gt` arguments (``control``, ``control_pool``,
        ``covariates``, ``method``, ...); ``unit``, ``time`` and ``cohort`` are filled in.
    event_times : sequence of int
        Event times reported from the dynamic aggregation.
    n_boot, seed, progress
        Two-stage bootstrap draws, seed of their spawned streams, progress line (or a
        callback ``progress(done, n_boot)``, as :func:`impact.prodest`).
    **prodest_options
        ``poly_degree``, ``markov_degree``, ``instruments``, ``control_function``,
        ``n_restarts``.

    Returns
    -------
    TFPDiDResult
        ``table``: the simple ATT, the dynamic aggregate (average over ``event_times``)
        and the event-time ATTs, with the naive SE (att_gt's influence function, TFP
        taken as known) and the two-stage bootstrap SE.

    Raises
    ------
    InvalidOptionError
        Unknown options, or ``did`` names unit/time/cohort/y.
    ConvergenceError
        More than 10% of the draws failed.

    Examples
    --------
    The launches' effect on the productivity of every firm in a launched cell of the shipped
    synthetic panel (intention to treat), productivity from Wooldridge's GMM; 5 bootstrap draws
    keep the example fast (use the default 199).

    >>> import impact
    >>> firms = impact.datasets.load("cluster_panel").dropna(subset=["log_va", "log_materials"])
    >>> res = impact.tfp_did(firms, output="log_va", free="log_emp", state="log_k",
    ...                      proxy="log_materials", unit="firm_id", time="year",
    ...                      cohort="launch_year", method="wooldridge", event_times=(0, 1, 2, 3),
    ...                      n_boot=5)
    >>> res.table["parameter"].tolist()
    ['simple', 'dynamic', 'e=0', 'e=1', 'e=2', 'e=3']
    >>> bool((res.table["std_error"] > 0).all())
    True
    """
    did = dict(did or {})
    clash = sorted({"y", "unit", "time", "cohort", "data"} & set(did))
    if clash:
        raise InvalidOptionError(f"did must not set {clash}; they come from tfp_did's arguments.")
    if measure not in ("omega", "tfp"):
        raise InvalidOptionError(f"measure must be 'omega' or 'tfp', got {measure!r}.")
    if n_boot < 2:
        raise InvalidOptionError(f"n_boot must be at least 2, got {n_boot}.")
    opts = FitOptions(method=method, **prodest_options)
    did.update(unit=unit, time=time, cohort=cohort)
    frame = data.copy()
    check_columns(data, [unit, time, cohort])
    frame[_MEMBER] = cohort_membership(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        never_treated=did.get("never_treated"),
        freq=did.get("freq"),
    )
    pf_kw = dict(
        output=output, free=free, state=state, proxy=proxy, unit=unit, time=time,
        controls=controls, exog_instruments=exog_instruments,
        treatment=_MEMBER if membership_in_lom else None,
        group_trends=group_trends, in_logs=in_logs,
        drop_nonpositive_proxy=method == "op",
    )  # fmt: skip
    if method in ("ols", "fe"):
        pf_kw.update(proxy=None, exog_instruments=None)

    def productivity(fr: pd.DataFrame, point: PointFit | None) -> tuple[pd.DataFrame, PointFit]:
        d = production_data(fr, **pf_kw)
        if point is None:
            fit = fit_point(d, np.ones(d.n), opts, rng=np.random.default_rng(seed))
        else:
            fit = refit_point(d, np.ones(d.n), opts, point)
        values = np.full(len(fr), np.nan)
        use_phi = measure == "omega" and fit.phi is not None
        values[d.rows] = (fit.phi if use_phi else d.y) - d.design @ fit.coef
        return fr.assign(**{_TFP: values}), fit

    # the production step's drops and rival minima are reported, not silenced
    d0 = production_data(frame, **pf_kw)
    d0.log.announce("tfp_did (production function)")
    est_frame, point = productivity(frame, None)
    if point.restarts is not None:
        warn_rivals(point.restarts, point.coef, method, point.overid)
    gt, simple, dyn = _did_estimates(est_frame, did, event_times)
    estimate = _vector(simple, dyn, event_times)
    codes, _ = pd.factorize(frame[unit])
    layout = _firm_rows(codes, int(codes.max()) + 1)
    draws, coefs, failed, caught = [], [], 0, []
    report = draw_progress(n_boot, progress, "tfp_did bootstrap")
    for b, stream in enumerate(np.random.SeedSequence(seed).spawn(n_boot)):
        rng = np.random.Generator(np.random.PCG64(stream))
        sample = _resample(frame, unit, rng, layout)
        try:
            # recorded, then announced once per category with a count (below)
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                fr, fit = productivity(sample, point)
                _, s_b, d_b = _did_estimates(fr, did, event_times)
            caught.append(rec)
            draws.append(_vector(s_b, d_b, event_times))
            coefs.append(fit.coef)
        except (ImpactError, np.linalg.LinAlgError):
            failed += 1
        report(b + 1)
    summarize_draw_warnings(caught, n_boot, "tfp_did bootstrap")
    if failed > MAX_FAILED_SHARE * n_boot:
        raise ConvergenceError(f"{failed} of {n_boot} two-stage bootstrap draws failed.")
    if failed:
        warnings.warn(f"{failed} of {n_boot} draws failed and were left out.", ImpactWarning, 2)
    draws_arr, coef_arr = np.array(draws), np.array(coefs)
    dyn_tab = dyn.table.set_index("rel_time")
    naive = np.concatenate(
        [
            [simple.std_error, dyn.std_error],
            [float(dyn_tab["std_error"].get(e, np.nan)) for e in event_times],
        ]
    )
    labels = ["simple", "dynamic"] + [f"e={e}" for e in event_times]
    se2 = np.nanstd(draws_arr, axis=0, ddof=1)
    lo, hi = np.nanquantile(draws_arr, [0.025, 0.975], axis=0)
    table = pd.DataFrame(
        {
            "parameter": labels,
            "estimate": estimate,
            "std_error_naive": naive,
            "std_error": se2,
            "conf_low": lo,
            "conf_high": hi,
        }
    )
    names = d0.term_names
    return TFPDiDResult(
        table=table,
        coef=pd.Series(point.coef, index=list(names)),
        coef_se=pd.Series(coef_arr.std(axis=0, ddof=1), index=list(names)),
        att_gt=gt,
        productivity=est_frame[_TFP].set_axis(data.index).rename(measure),
        draws=draws_arr,
        n_failed=failed,
        method=method,
        measure=measure if method not in ("ols", "fe") else "tfp",
        seed=seed,
        sample_log=d0.log,
    )
