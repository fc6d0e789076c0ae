"""``fepois`` in a query engine: the sample, the separation checks, IRLS by two-pass Schur
fits and the sandwich from cluster sums, all computed where the rows are."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

from impact.data.samplelog import SampleLog
from impact.engine.base import Engine
from impact.engine.expressions import expression
from impact.errors import (
    EmptySampleError,
    ImpactError,
    ImpactWarning,
    NegativeOutcomeError,
)
from impact.estimators.collinear_drops import settle_drops
from impact.estimators.feols_engine import engine_result_fields
from impact.inference.ssc import SSC
from impact.inference.vcov import VcovRequest
from impact.linear.demean import DEMEAN_TOL
from impact.linear.engine_poisson import (
    ETA,
    LOG_Y,
    EnginePoissonFit,
    engine_fe_separation,
    engine_poisson_irls,
    engine_relu_separation,
    log_factorial_expression,
)
from impact.linear.engine_sample import (
    LONG_EXPRESSION,
    EngineSample,
    column_ref,
    engine_sample,
)
from impact.linear.engine_schur import fe_layout
from impact.linear.formula import ParsedFormula
from impact.linear.poisson import IRLS_MAXITER, IRLS_TOL
from impact.results.poisson import FepoisResult

__all__ = ["SEPARATION_MU", "fepois_in_engine"]

#: Fitted means below this multiple of mean(y) after convergence signal separation (as
#: the in-memory fit).
SEPARATION_MU = 1e-9


def _check_outcome(engine: Engine, src: Any, y: str, name: str) -> None:
    """As the in-memory check: negative outcomes and an all-zero outcome are errors."""
    neg = engine.count(engine.where(src, y, "<", 0.0))
    if neg:
        raise NegativeOutcomeError(
            f"outcome {name!r} has {neg} negative values; Poisson PPML needs y >= 0 (counts "
            "or non-negative values such as export value)."
        )
    if not engine.count(engine.where(src, y, ">", 0.0)):
        raise EmptySampleError(
            f"outcome {name!r} is zero on every used row: the Poisson model has no maximum."
        )


def fepois_in_engine(
    engine: Engine,
    data: Any,
    formula: str,
    parsed: ParsedFormula,
    request: VcovRequest,
    *,
    weights: str | None,
    offset: str | None,
    ssc: SSC,
    drop_singletons: bool,
    separation: tuple[str, ...],
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    fixef_tol: float = DEMEAN_TOL,
) -> FepoisResult:
    """:func:`impact.fepois` with ``data`` read by ``engine`` (see its docstring)."""
    if request.kind == "CRV3":
        raise ImpactError("fepois supports vcov='iid', 'hetero' and cluster (CRV1) variances.")
    start = engine.meter.mark()
    label = parsed.depvar.label
    fixef = tuple(tuple(f) for f in parsed.fixef)

    def separate(src: Any, y: str, log: SampleLog, n: int) -> tuple[Any, SampleLog, int]:
        _check_outcome(engine, src, y, label)
        if not fixef or "fe" not in separation:
            return src, log, n
        src, m, per_dim = engine_fe_separation(
            engine, src, y, fixef, n, drop_singletons=drop_singletons
        )
        log = log.with_drop(
            "separation_fe",
            "rows in fixed-effect groups whose outcome is zero on every row",
            n - m,
            {k: v for k, v in per_dim.items() if v},
        )
        if m == 0:
            raise EmptySampleError("every row was removed as separated; nothing can be estimated.")
        return src, log, m

    sample = engine_sample(
        engine, engine.source(data), parsed, weights=weights, clusters=request.clusters,
        drop_singletons=drop_singletons, extra=[offset] if offset else [], separate=separate,
    )  # fmt: skip
    layout = fe_layout(engine, sample.source, sample.fixef)
    if "relu" in separation and sample.x:
        kept, n_sep = engine_relu_separation(engine, sample, layout, fixef_tol=fixef_tol)
        if n_sep:
            log = sample.log.with_drop(
                "separation_relu",
                "rows separated by the regressors (outcome zero where a regressor "
                "combination is positive)",
                n_sep,
            )
            sample = replace(sample, source=kept, n=sample.n - n_sep, log=log)
            if sample.n == 0:
                raise EmptySampleError(
                    "every row was removed as separated; nothing can be estimated."
                )
            _check_outcome(engine, sample.source, sample.y, label)
            layout = fe_layout(engine, sample.source, sample.fixef)
    off = column_ref(offset) if offset else None
    fit = engine_poisson_irls(
        engine, sample, layout, off, tol=tol, maxiter=maxiter, fixef_tol=fixef_tol
    )
    names, dropped = settle_drops(sample.names, fit.keep, fit.reasons, (), stacklevel=3)
    return _result(engine, sample, fit, names, dropped, formula, parsed, request, ssc,
                   offset, start, tol, maxiter)  # fmt: skip


def _result(
    engine: Engine,
    sample: EngineSample,
    fit: EnginePoissonFit,
    names: list[str],
    dropped: list[str],
    formula: str,
    parsed: ParsedFormula,
    request: VcovRequest,
    ssc: SSC,
    offset: str | None,
    start: tuple[int, int],
    tol: float,
    maxiter: int,
) -> FepoisResult:
    """The result of a converged engine fit: fit statistics in one pass, the variance
    from the final within regression's bread and scores ``X~ w (y - mu)``."""
    y, N = sample.y, sample.n
    w = f"{sample.weights} * " if sample.weights else ""
    lf = log_factorial_expression(y)
    ybar, mu = fit.ybar, f"exp({ETA})"
    sums = {
        "sy": y,
        "ssr": f"{w}({y} - {mu}) * ({y} - {mu})",
        "ll": f"{w}({y} * {ETA} - {mu} - ({lf}))",
        "ll0": f"{w}({y} * {math.log(ybar)!r} - {ybar!r} - ({lf}))",
        "dev0": f"2 * {w}({y} * ({LOG_Y} - {math.log(ybar)!r}) - ({y} - {ybar!r}))",
    }
    stats = engine.group_sums(
        fit.rows,
        [],
        {k_: expression(v, max_length=LONG_EXPRESSION) for k_, v in sums.items()},
        count=None,
    )
    stat = {c: float(stats[c].iloc[0]) for c in sums}
    tiny = engine.count(engine.where(fit.rows, ETA, "<", math.log(SEPARATION_MU * stat["sy"] / N)))
    if tiny:
        warnings.warn(
            f"{tiny} rows have fitted means below {SEPARATION_MU:g} x mean(y): signs of "
            "separation (a coefficient drifting to -inf); keep separation=('fe', 'relu') to "
            "remove separated rows.",
            ImpactWarning,
            stacklevel=4,
        )
    # iid: the inverse information times (N-1)/(N-K) under k_adj, as the in-memory fit
    fields = engine_result_fields(
        engine, fit.final, sample, names, dropped, formula=formula, parsed=parsed,
        request=request, ssc=ssc, ssr_over_n=(N - 1) / N if ssc.k_adj else 1.0, start=start,
    )  # fmt: skip
    sample.log.announce("fepois", stacklevel=5)
    return FepoisResult(
        **fields,
        r2=float("nan"),
        r2_within=float("nan"),
        ssr=stat["ssr"],
        deviance=fit.deviance,
        null_deviance=stat["dev0"],
        loglik=stat["ll"],
        pseudo_r2=1.0 - stat["ll"] / stat["ll0"] if stat["ll0"] != 0 else float("nan"),
        iterations=fit.iterations,
        offset=offset,
        _irls={"tol": tol, "maxiter": maxiter},
    )
