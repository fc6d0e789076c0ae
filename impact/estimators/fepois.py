"""``fepois``: Poisson pseudo-maximum likelihood with high-dimensional fixed effects."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln

from impact._typing import VcovSpec
from impact.engine.base import Engine
from impact.engine.choose import choose_engine
from impact.errors import (
    CollinearityWarning,
    EmptySampleError,
    ImpactError,
    ImpactWarning,
    InvalidOptionError,
    NegativeOutcomeError,
)
from impact.estimators.fepois_engine import SEPARATION_MU, fepois_in_engine
from impact.inference.linear_vcov import compute_vcov, frame_cluster_codes
from impact.inference.ssc import SSC
from impact.inference.vcov import parse_vcov
from impact.linear.collinear import describe_drops
from impact.linear.demean import DEMEAN_TOL
from impact.linear.formula import parse_formula
from impact.linear.formula_multi import expand_formula
from impact.linear.model_matrix import build_design, categorical_levels, factor_values
from impact.linear.poisson import (
    IRLS_MAXITER,
    IRLS_TOL,
    fe_separation,
    poisson_deviance,
    poisson_irls,
    relu_separation,
)
from impact.linear.sample import prepare_sample
from impact.options import check_flag, positive_number, whole_number
from impact.results.collection import FitCollection
from impact.results.poisson import FepoisResult

__all__ = ["SEPARATION_CHECKS", "SEPARATION_MU", "fepois"]

#: The separation checks fepois can run.
SEPARATION_CHECKS = ("fe", "relu")


def _check_outcome(y: np.ndarray, name: str) -> None:
    neg = y < 0
    if neg.any():
        raise NegativeOutcomeError(
            f"outcome {name!r} has {int(neg.sum())} negative values (e.g. {y[neg][0]:g}); "
            "Poisson PPML needs y >= 0 (counts or non-negative values such as export value)."
        )
    if not (y > 0).any():
        raise EmptySampleError(
            f"outcome {name!r} is zero on every used row: the Poisson model has no maximum."
        )


def _separation_checks(separation: object) -> tuple[str, ...]:
    """The separation checks asked for: a name or a sequence of ``"fe"`` and ``"relu"``."""
    names = (separation,) if isinstance(separation, str) else separation
    if not isinstance(names, tuple | list) or not all(n in SEPARATION_CHECKS for n in names):
        raise InvalidOptionError(
            f"separation must hold checks among {SEPARATION_CHECKS} (or be empty), got "
            f"{separation!r}."
        )
    return tuple(names)


def fepois(
    formula: str,
    data: Any,
    *,
    vcov: VcovSpec = "hetero",
    weights: str | None = None,
    offset: str | None = None,
    ssc: SSC | None = None,
    drop_singletons: bool = True,
    separation: tuple[str, ...] = ("fe", "relu"),
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    fixef_tol: float = DEMEAN_TOL,
    engine: str | Engine | None = None,
) -> FepoisResult:
    """Poisson pseudo-maximum likelihood (PPML) with high-dimensional fixed effects.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 | fe1 + fe2"`` as in :func:`impact.feols`; ``y`` must be >= 0
        (counts, or values with zeros such as export value).
        ``a*b`` is ``a + b + a:b``. Several outcomes (``"y1 + y2 ~ x"``) or one stepwise
        function among the regressors (``sw(a, b)``: one at a time; ``csw(a, b)``:
        cumulated; ``csw0(a, b)``: cumulated after none) give a
        :class:`~impact.results.collection.FitCollection` of one fit per model (a tuple
        that :func:`impact.etable` takes).
    data : DataFrame, str, Path, DuckDB relation, pyarrow Table/Dataset or polars frame
        Never modified. A Parquet path or glob, a relation or an Arrow/polars table is
        read by DuckDB, where the whole fit runs (see ``engine``).
    vcov : str or dict
        ``"hetero"`` (default: robust, as ppmlhdfe), ``"iid"`` (inverse information:
        valid only for equidispersed counts, and not invariant to the units of ``y``),
        ``{"cluster": col}`` or several cluster columns (multi-way), with the same
        small-sample presets as feols.
    weights : str, optional
        Frequency/analytic weights (>= 0).
    offset : str, optional
        Column added to the linear predictor with coefficient 1 (e.g. log exposure).
    ssc : SSC, optional
        Default :meth:`SSC.fixest`.
    drop_singletons : bool
        Drop singleton fixed-effect groups (they are perfectly fitted).
    separation : tuple of {"fe", "relu"}
        Separation checks: ``"fe"`` removes fixed-effect groups whose outcome is all
        zero; ``"relu"`` removes rows separated by a combination of regressors and
        fixed effects (Correia, Guimarães & Zylkin 2021). Removed rows are counted in
        the SampleLog.
    tol, maxiter : float, int
        IRLS stops when the relative change of the deviance is below ``tol``;
        :class:`~impact.errors.ConvergenceError` after ``maxiter`` iterations.
    fixef_tol : float
        Tolerance of the iterative demeaning strategy (exact strategies ignore it).
    engine : {None, "numpy", "duckdb", "pandas"} or Engine
        Where the fit runs, as in :func:`impact.feols`. The engine path (a Parquet path,
        a DuckDB relation or Arrow/polars data, or ``engine="duckdb"``) runs the
        separation checks and every IRLS step in the engine: each step is one exact
        two-pass fit of one large fixed effect plus small ones, the linear predictor is
        kept by the engine between steps, and only small tables reach Python. It needs
        fixed effects, computes iid, HC1 and one- or multi-way CRV1, and its result has no
        residuals, fitted values or fixed effects (``engine_use`` reports the passes).

    Returns
    -------
    FepoisResult

    Raises
    ------
    NegativeOutcomeError
        Negative outcome values.
    EmptySampleError
        The outcome is zero on every used row.
    ConvergenceError
        IRLS (or the separation check) did not converge.

    Notes
    -----
    The variance is the sandwich of the last IRLS weighted within regression: bread
    ``(X~' W X~)^-1`` with ``W = w mu``, scores ``X~ w (y - mu)``; ``"iid"`` is the bread
    times ``(N-1)/(N-K)`` (fixest). Small-sample factors and degrees of freedom follow
    :func:`impact.feols`.

    References
    ----------
    Santos Silva, J. M. C., & Tenreyro, S. (2006). The log of gravity. Review of
    Economics and Statistics, 88(4), 641–658.
    Correia, S., Guimarães, P., & Zylkin, T. (2020). Fast Poisson estimation with
    high-dimensional fixed effects. Stata Journal, 20(1), 95–115.

    Examples
    --------
    Wooldridge's Example 14.1 with the scrap rate in levels instead of logs (Poisson PML keeps
    zeros and needs no retransformation); pyfixest's ``fepois`` gives the same coefficients and
    clustered standard errors.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["scrap"])
    >>> fit = impact.fepois("scrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain,
    ...                     vcov={"cluster": "fcode"})
    >>> fit.coef[["grant", "grant_1"]].round(3).tolist()
    [-0.176, -0.202]
    >>> fit.se[["grant", "grant_1"]].round(3).tolist()
    [0.161, 0.321]
    """
    call = dict(locals())
    models = expand_formula(formula)
    if models is not None:  # several outcomes or a stepwise function: one fit per model
        return FitCollection.fit_each(fepois, models, data, call)
    parsed = parse_formula(formula)
    request = parse_vcov(vcov)
    ssc = SSC.fixest() if ssc is None else ssc
    separation = _separation_checks(separation)
    maxiter = whole_number("maxiter", maxiter, 1)
    tol = positive_number("tol", tol)
    fixef_tol = positive_number("fixef_tol", fixef_tol)
    drop_singletons = check_flag("drop_singletons", drop_singletons)
    chosen = choose_engine(data, engine)
    if chosen is not None:
        with chosen.scope():  # the fit's tables and views are dropped once it returns
            return fepois_in_engine(
                chosen, data, formula, parsed, request, weights=weights, offset=offset,
                ssc=ssc, drop_singletons=drop_singletons, separation=separation, tol=tol,
                maxiter=maxiter, fixef_tol=fixef_tol,
            )  # fmt: skip
    sample = prepare_sample(
        data,
        parsed,
        weights=weights,
        clusters=request.clusters,
        drop_singletons=drop_singletons,
        extra=[offset] if offset else [],
    )
    frame, fe, w, log = sample.frame, sample.fe, sample.weights, sample.log
    y = factor_values(frame, parsed.depvar)
    _check_outcome(y, parsed.depvar.label)
    if fe is not None and "fe" in separation:
        ok, per_dim = fe_separation(y, fe, drop_singletons)
        if not ok.all():
            log = log.with_drop(
                "separation_fe",
                "rows in fixed-effect groups whose outcome is zero on every row",
                int((~ok).sum()),
                {k: v for k, v in per_dim.items() if v},
            )
            frame, fe, y = frame.loc[ok], fe.subset(ok), y[ok]
            w = w[ok] if w is not None else None
    design = build_design(frame, parsed, has_fixef=fe is not None)
    X = design.X
    if "relu" in separation and X.shape[1]:
        sep = relu_separation(y, X, fe)
        if sep.any():
            log = log.with_drop(
                "separation_relu",
                "rows separated by the regressors (outcome zero where a regressor "
                "combination is positive)",
                int(sep.sum()),
            )
            ok = ~sep
            frame, y, X = frame.loc[ok], y[ok], X[ok]
            fe = fe.subset(ok) if fe is not None else None
            w = w[ok] if w is not None else None
    if len(y) == 0:
        raise EmptySampleError("every row was removed as separated; nothing can be estimated.")
    _check_outcome(y, parsed.depvar.label)
    off = frame[offset].to_numpy(dtype=float) if offset else None
    fit = poisson_irls(y, X, fe, w, off, tol=tol, maxiter=maxiter, fixef_tol=fixef_tol)
    tiny = fit.mu < SEPARATION_MU * float(np.mean(y))
    if tiny.any():
        warnings.warn(
            f"{int(tiny.sum())} rows have fitted means below {SEPARATION_MU:g} x mean(y): "
            "signs of separation (a coefficient drifting to -inf); keep "
            "separation=('fe', 'relu') to remove separated rows.",
            ImpactWarning,
            stacklevel=2,
        )
    names_all = list(design.names)
    names = [n for n, k in zip(names_all, fit.keep, strict=True) if k]
    if not fit.keep.all():
        warnings.warn(
            "dropped collinear regressors: " + describe_drops(names_all, fit.keep, fit.reasons),
            CollinearityWarning,
            stacklevel=2,
        )
    w1 = np.ones(len(y)) if w is None else w
    N, k = len(y), len(names)
    scores = fit.core.Xd * (w1 * (y - fit.mu))[:, None]
    clusters = frame_cluster_codes(frame, request.clusters)
    if request.kind == "CRV3":
        raise ImpactError("fepois supports vcov='iid', 'hetero' and cluster (CRV1) variances.")
    # iid: the inverse information times (N-1)/(N-K) under k_adj (fixest, pyfixest);
    # compute_vcov's iid factor is N/(N-K) times ssr/N, so ssr/N is set to (N-1)/N
    vres = compute_vcov(
        request,
        ssc,
        bread=fit.core.bread,
        scores=scores,
        ssr_over_n=(N - 1) / N if ssc.k_adj else 1.0,
        N=N,
        k=k,
        fe=fe,
        clusters=clusters,
        fe_rank=fit.core.fe_rank,
    )
    se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
    log_factorial = float(w1 @ gammaln(y + 1))
    wy = float(w1 @ y)
    loglik = float(w1 @ (y * fit.eta - fit.mu)) - log_factorial  # eta = log(mu)
    ybar = float(np.average(y, weights=w1))
    loglik0 = float(wy * np.log(ybar) - ybar * w1.sum()) - log_factorial
    log.announce("fepois")
    off_arr = off if off is not None else np.zeros(N)
    xbeta = X[:, fit.keep] @ fit.beta
    return FepoisResult(
        formula=formula,
        depvar=parsed.depvar.label,
        coef=pd.Series(fit.beta, index=names, name="estimate"),
        se=pd.Series(se, index=names, name="std_error"),
        vcov=pd.DataFrame(vres.V, index=names, columns=names),
        nobs=N,
        df_resid=N - k - fit.core.fe_rank,
        df_t=vres.small.df_t,
        n_clusters=dict(vres.n_clusters),
        vcov_label=request.label,
        ssc=ssc,
        small_sample=vres.small,
        fixef_names=parsed.fixef_names,
        fixef_sizes=dict(zip(fe.names, fe.n_levels, strict=True)) if fe is not None else {},
        r2=float("nan"),
        r2_within=float("nan"),
        ssr=float(w1 @ (y - fit.mu) ** 2),
        collinear=tuple(n for n, kk in zip(names_all, fit.keep, strict=True) if not kk),
        vcov_psd_fixed=vres.psd_fixed,
        sample_log=log,
        demean_strategy=fit.core.strategy,
        _parsed=parsed,
        _row_index=frame.index,
        _y=y,
        _resid=y - fit.mu,
        _xbeta=xbeta,
        _fe=fe,
        _weights=w,
        _cat_levels=categorical_levels(frame, parsed),
        deviance=fit.deviance,
        null_deviance=poisson_deviance(y, np.full(N, ybar), w1, eta=np.full(N, np.log(ybar))),
        loglik=loglik,
        pseudo_r2=1.0 - loglik / loglik0 if loglik0 != 0 else float("nan"),
        iterations=fit.iterations,
        offset=offset,
        _link_fe=fit.eta - off_arr - xbeta,
        _X=X[:, fit.keep],
        _offset_values=off,
        _irls={"tol": tol, "maxiter": maxiter, "fixef_tol": fixef_tol},
        _data=data,
    )
