"""``feols``: least squares with any number of absorbed fixed effects."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from impact._typing import DemeanStrategy, FloatArray, IntArray, VcovSpec
from impact.engine.base import Engine
from impact.engine.choose import choose_engine
from impact.errors import (
    EmptySampleError,
    ImpactWarning,
    InvalidOptionError,
)
from impact.estimators.collinear_drops import protected_error, settle_drops
from impact.estimators.feiv import feiv, split_iv
from impact.estimators.feols_engine import feols_in_engine
from impact.inference.linear_vcov import compute_vcov, frame_cluster_codes
from impact.inference.ssc import SSC
from impact.inference.vcov import parse_vcov
from impact.linear.core import fit_absorbed
from impact.linear.demean import DEMEAN_TOL, demean
from impact.linear.fixed_effects import FixedEffects, is_nested
from impact.linear.formula import parse_formula
from impact.linear.formula_multi import expand_formula
from impact.linear.model_matrix import build_design, categorical_levels, factor_values
from impact.linear.sample import prepare_sample
from impact.options import check_flag, positive_number, whole_number
from impact.results.collection import FitCollection
from impact.results.linear import FeolsResult

__all__ = ["feols"]


def _warn_crv3(cluster: int) -> None:
    warnings.warn(
        f"CRV3: leaving out cluster {cluster} makes a coefficient unidentified; its "
        "leave-one-out estimate is a minimum-norm solution and the CRV3 SE is unreliable.",
        ImpactWarning,
        stacklevel=4,
    )


def _jackknife_projected(
    yd: FloatArray, Xd: FloatArray, w: FloatArray | None
) -> Callable[[IntArray, int], FloatArray]:
    """Leave-one-cluster-out estimates on projected data (exact when FE nest in clusters)."""

    def run(codes: IntArray, G: int) -> FloatArray:
        Xw = Xd if w is None else Xd * w[:, None]
        XtX, Xty = Xw.T @ Xd, Xw.T @ yd
        out = np.empty((G, Xd.shape[1]))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(G + 1))
        for g in range(G):
            rows = order[bounds[g] : bounds[g + 1]]
            A = XtX - Xw[rows].T @ Xd[rows]
            b = Xty - Xw[rows].T @ yd[rows]
            out[g], _, rank, _ = np.linalg.lstsq(A, b, rcond=None)
            if rank < A.shape[0]:
                _warn_crv3(g)
        return out

    return run


def _jackknife_refit(
    y: FloatArray, X: FloatArray, fe: FixedEffects, w: FloatArray | None, tol: float
) -> Callable[[IntArray, int], FloatArray]:
    """Leave-one-cluster-out estimates re-projecting the fixed effects each time (exact)."""

    def run(codes: IntArray, G: int) -> FloatArray:
        out = np.empty((G, X.shape[1]))
        V = np.column_stack([y, X])
        for g in range(G):
            keep = codes != g
            sub_fe = fe.subset(keep)
            sub_w = None if w is None else w[keep]
            R = demean(V[keep], sub_fe, sub_w, tol=tol).values
            Rw = R if sub_w is None else R * sub_w[:, None]
            A = Rw[:, 1:].T @ R[:, 1:]
            out[g], _, rank, _ = np.linalg.lstsq(A, Rw[:, 1:].T @ R[:, 0], rcond=None)
            if rank < A.shape[0]:
                _warn_crv3(g)
        return out

    return run


def feols(
    formula: str,
    data: pd.DataFrame,
    *,
    vcov: VcovSpec = "iid",
    weights: str | None = None,
    ssc: SSC | None = None,
    drop_singletons: bool = True,
    fixef_tol: float = DEMEAN_TOL,
    fixef_maxiter: int = 100_000,
    demean_strategy: DemeanStrategy = "auto",
    protect: Sequence[str] = (),
    engine: str | Engine | None = None,
) -> FeolsResult:
    """Least squares with high-dimensional fixed effects (fixest-style formula).

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 | fe1 + fe2"``. Right-hand side: columns, ``a:b``, ``C(k)``,
        ``i(rel_time, ref=-1)``, ``log(x)``/``log1p``/``exp``/``sqrt``/``abs``; ``0``
        or ``- 1`` drops the intercept. After ``|``: fixed effects, ``a^b`` for the
        interaction of two. Without fixed effects an intercept is included.
        ``a*b`` is ``a + b + a:b``. Several outcomes (``"y1 + y2 ~ x"``) or one stepwise
        function among the regressors (``sw(a, b)``: one at a time; ``csw(a, b)``:
        cumulated; ``csw0(a, b)``: cumulated after none) give a
        :class:`~impact.results.collection.FitCollection` of one fit per model (a tuple
        that :func:`impact.etable` takes).
        ``"y ~ x | fe | d ~ z1 + z2"`` (or ``"y ~ x | d ~ z"``) is two-stage least squares
        with the fixed effects projected out (``fit.first_stage``: each first stage's
        Wald F of the excluded instruments).
    data : DataFrame, str, Path, DuckDB relation, pyarrow Table/Dataset or polars frame
        Never modified. A Parquet path or glob, a relation or an Arrow/polars table is
        read by DuckDB, where the whole fit runs (see ``engine``).
    vcov : str or dict
        ``"iid"`` (default, as pyfixest), ``"hetero"`` (HC1), ``{"cluster": "firm_id"}``,
        ``{"cluster": ["firm_id", "year"]}`` (Cameron–Gelbach–Miller multi-way), or
        ``{"CRV3": "region"}`` (leave-one-cluster-out jackknife).
    weights : str, optional
        Column of analytic weights (>= 0; zero-weight rows are dropped and counted).
    ssc : SSC, optional
        Small-sample correction; default :meth:`SSC.fixest`.
    drop_singletons : bool
        Drop singleton fixed-effect groups iteratively (reghdfe/fixest rule).
    fixef_tol, fixef_maxiter : float, int
        Convergence settings of the iterative demeaning strategy.
    demean_strategy : {"auto", "map", "schur"}
        ``"auto"`` uses exact strategies where the FE structure allows.
    protect : sequence of str
        Regressors that must not be dropped as collinear (a :class:`CollinearityError`
        is raised instead).
    engine : {None, "numpy", "duckdb", "pandas"} or Engine
        Where the fit runs. ``None``: a pandas frame in memory (numpy), anything else in
        DuckDB. The engine path (``"duckdb"``, or an
        :class:`~impact.engine.DuckDBEngine` with your connection and memory limit)
        absorbs one large fixed effect plus small ones exactly in two passes (SCALE.md
        §2.3a), or any number of large ones by alternating projections (engine passes
        to ``fixef_tol``), computes iid, HC1 and one- or multi-way CRV1, and never brings
        the rows to Python: the result reports its passes and collected bytes (``engine_use``)
        and has no residuals, fitted values or fixed effects. Numeric regressors, their
        transforms and products, and ``C()``/``i()`` terms; CRV3 needs the in-memory
        path. ``"pandas"`` runs the engine algorithm on a frame (checks).

    Returns
    -------
    FeolsResult

    Notes
    -----
    Conventions (``docs/conventions.md``): iid uses ``SSR/(N-K)``; HC1 uses
    ``N/(N-K)``; one-way CRV1 uses ``G/(G-1) (N-1)/(N-K)`` and ``t(G-1)``; with the
    default SSC, fixed effects nested in the cluster variable are not counted in K.

    References
    ----------
    Correia, S. (2017). Linear models with high-dimensional fixed effects: an efficient
    and feasible estimator. Working paper.
    Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2011). Robust inference with
    multiway clustering. Journal of Business & Economic Statistics, 29(2), 238–249.
    Bergé, L. (2018). Efficient estimation of maximum likelihood models with multiple
    fixed-effects: the R package FENmlm. CREA Discussion Papers.

    Examples
    --------
    Wooldridge, *Introductory Econometrics*, Example 14.1: job-training grants and the scrap rates
    of Michigan manufacturing firms, 1987-1989, with firm fixed effects. The book reports -0.080,
    -0.247, -0.252 and -0.422; clustered by firm, pyfixest (as R fixest) reports 0.1434 for
    ``grant``.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["lscrap"])
    >>> fit = impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain)
    >>> fit.coef.round(3).tolist()
    [-0.08, -0.247, -0.252, -0.422]
    >>> clustered = impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain,
    ...                          vcov={"cluster": "fcode"})
    >>> f"{clustered.se['grant']:.4f}"
    '0.1434'
    """
    call = dict(locals())
    models = expand_formula(formula)
    if models is not None:  # several outcomes or a stepwise function: one fit per model
        return FitCollection.fit_each(feols, models, data, call)
    iv = split_iv(formula)
    parsed = parse_formula(iv[0] if iv else formula)
    request = parse_vcov(vcov)
    ssc = SSC.fixest() if ssc is None else ssc
    drop_singletons = check_flag("drop_singletons", drop_singletons)
    fixef_tol = positive_number("fixef_tol", fixef_tol)
    fixef_maxiter = whole_number("fixef_maxiter", fixef_maxiter, 1)
    if iv is not None:
        if request.kind == "CRV3" or engine not in (None, "pandas"):
            raise InvalidOptionError("IV formulas run in memory, with iid, hetero or CRV1.")
        return feiv(
            formula, data, iv, request=request, weights=weights, ssc=ssc,
            drop_singletons=drop_singletons, fixef_tol=fixef_tol, fixef_maxiter=fixef_maxiter,
        )  # fmt: skip
    chosen = choose_engine(data, engine)
    if chosen is not None:
        if demean_strategy != "auto":  # was ignored: the engine picks its own strategy
            raise InvalidOptionError(
                f"demean_strategy={demean_strategy!r} applies to in-memory fits; the engine "
                "path picks its own (exact two-pass fit, or alternating projections for large "
                "fixed effects): leave it at 'auto'."
            )
        with chosen.scope():  # the fit's tables and views are dropped once it returns
            return feols_in_engine(
                chosen, data, formula, parsed, request, weights=weights, ssc=ssc,
                drop_singletons=drop_singletons, protect=protect, fixef_tol=fixef_tol,
                fixef_maxiter=fixef_maxiter,
            )  # fmt: skip
    sample = prepare_sample(
        data, parsed, weights=weights, clusters=request.clusters, drop_singletons=drop_singletons
    )
    frame, fe, w = sample.frame, sample.fe, sample.weights
    design = build_design(frame, parsed, has_fixef=fe is not None)
    y = factor_values(frame, parsed.depvar)
    if design.X.shape[1] == 0:
        raise EmptySampleError(f"formula {formula!r} has no regressor to estimate.")
    try:
        core = fit_absorbed(
            y, design.X, fe, w, tol=fixef_tol, maxiter=fixef_maxiter, strategy=demean_strategy
        )
    except EmptySampleError as exc:
        err = protected_error(design.names, protect)
        if err is not None:
            raise err from exc
        raise
    keep = core.keep
    names, dropped = settle_drops(list(design.names), keep, core.reasons, protect, stacklevel=2)
    Xd, X, yd = core.Xd, design.X[:, keep], core.yd
    fit = core
    u = fit.resid
    wu = u if w is None else u * w
    N, k = len(y), len(names)
    ssr = float(wu @ u)
    scores = Xd * wu[:, None]
    clusters = frame_cluster_codes(frame, request.clusters)
    jack = None
    if request.kind == "CRV3":
        nested = fe is None or all(
            is_nested(c, clusters[0], n) for c, n in zip(fe.codes, fe.n_levels, strict=True)
        )
        jack = (
            _jackknife_projected(yd, Xd, w) if nested else _jackknife_refit(y, X, fe, w, fixef_tol)
        )
    vres = compute_vcov(
        request,
        ssc,
        bread=fit.bread,
        scores=scores,
        ssr_over_n=ssr / N,
        N=N,
        k=k,
        fe=fe,
        clusters=clusters,
        jackknife=jack,
        beta=fit.beta,
        fe_rank=core.fe_rank,
    )
    se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
    sw = float(w.sum()) if w is not None else float(N)
    ybar = float((y if w is None else y * w).sum() / sw)
    dev = y - ybar
    tss = float(dev @ (dev if w is None else dev * w))
    tss_within = float(yd @ (yd if w is None else yd * w))
    fe_rank = core.fe_rank
    cat_levels = categorical_levels(frame, parsed)
    sample.log.announce("feols")
    return FeolsResult(
        formula=formula,
        depvar=parsed.depvar.label,
        coef=pd.Series(fit.beta, index=names, name="estimate"),
        se=pd.Series(se, index=names, name="std_error"),
        vcov=pd.DataFrame(vres.V, index=names, columns=names),
        nobs=N,
        df_resid=N - k - fe_rank,
        df_t=vres.small.df_t,
        n_clusters=dict(vres.n_clusters),
        vcov_label=request.label,
        ssc=ssc,
        small_sample=vres.small,
        fixef_names=parsed.fixef_names,
        fixef_sizes=dict(zip(fe.names, fe.n_levels, strict=True)) if fe is not None else {},
        r2=1 - ssr / tss if tss > 0 else float("nan"),
        r2_within=1 - ssr / tss_within if (fe is not None and tss_within > 0) else float("nan"),
        ssr=ssr,
        collinear=tuple(dropped),
        vcov_psd_fixed=vres.psd_fixed,
        sample_log=sample.log,
        demean_strategy=core.strategy,
        _parsed=parsed,
        _row_index=frame.index,
        _y=y,
        _resid=u,
        _xbeta=X @ fit.beta,
        _fe=fe,
        _weights=w,
        _cat_levels=cat_levels,
        _Xd=Xd,
        _yd=yd,
        _data=data,
    )
