"""Instrumental variables with high-dimensional fixed effects: two-stage least squares on
the data with the fixed effects projected out (fixest's ``y ~ exog | fe | endog ~ z``).

The outcome, the exogenous regressors, the endogenous regressors and the instruments are
demeaned together by the fixed effects (weighted when weights are given); then
``X_hat = Z (Z'WZ)^-1 Z'WX`` with ``Z = [exog, instruments]`` and ``X = [exog, endog]``,
``b = (X_hat'WX)^-1 X_hat'Wy``. The residuals use the observed ``X``; the variance is the
sandwich of :func:`impact.feols` with the bread ``(X_hat'WX_hat)^-1`` and the scores
``X_hat w u`` (iid: ``sigma^2`` times the bread), with the same small-sample corrections.
Each endogenous regressor's first stage reports the Wald F of the excluded instruments
under the model's variance (pyfixest's ``_f_stat_1st_stage``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impact.errors import CollinearityError, FormulaError, InvalidOptionError
from impact.inference.linear_vcov import compute_vcov, frame_cluster_codes
from impact.inference.ssc import SSC
from impact.inference.vcov import VcovRequest
from impact.linear.demean import demean
from impact.linear.fixed_effects import count_fixef_rank
from impact.linear.formula import ParsedFormula, parse_formula, split_top
from impact.linear.model_matrix import build_design, factor_values
from impact.linear.sample import prepare_sample
from impact.results.linear import FeolsResult

__all__ = ["feiv", "split_iv", "two_stage"]


def split_iv(formula: str) -> tuple[str, str, str] | None:
    """``(main formula, endogenous, instruments)`` of ``y ~ x | fe | d ~ z`` or
    ``y ~ x | d ~ z``; None without an instrumental part."""
    if not isinstance(formula, str) or "~" not in formula:
        return None
    sides = split_top(formula, "~")
    if len(sides) != 3:
        return None
    lhs, middle, inst = sides
    parts = split_top(middle, "|")
    if len(parts) < 2:
        raise FormulaError(
            f"an IV formula reads 'y ~ x | fe | d ~ z' or 'y ~ x | d ~ z': {formula!r}"
        )
    endog = parts[-1]
    main = f"{lhs} ~ {parts[0] or '1'}" + (f" | {parts[1]}" if len(parts) == 3 else "")
    if len(parts) > 3:
        raise FormulaError(f"an IV formula has at most three parts: {formula!r}")
    return main, endog, inst


def _plain(side: str, what: str, rest: str) -> ParsedFormula:
    parsed = parse_formula(f"_ ~ 0 + {side}")
    for t in parsed.terms:
        if len(t.factors) != 1 or t.factors[0].kind != "num":
            raise FormulaError(f"{what} must be numeric columns, got {side!r} in {rest!r}.")
    return parsed


def two_stage(
    y: np.ndarray, X: np.ndarray, Z: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted two-stage least squares of ``y`` on ``X`` with instruments ``Z`` (every
    array already free of the fixed effects).

    Returns
    -------
    beta : ndarray
        ``(X_hat' W X)^-1 X_hat' W y``.
    X_hat : ndarray
        ``Z (Z'WZ)^-1 Z'WX``: the first-stage fitted regressors (the variance's design).
    u : ndarray
        ``y - X beta`` with the observed ``X``.

    Raises
    ------
    CollinearityError
        ``Z`` does not have full column rank, or the instruments do not identify ``X``.
    """
    if _rank(Z, w) < Z.shape[1]:
        raise CollinearityError("the exogenous regressors and instruments are collinear.")
    X_hat = Z @ np.linalg.solve(Z.T @ (Z * w[:, None]), Z.T @ (X * w[:, None]))
    if _rank(X_hat, w) < X.shape[1]:
        raise CollinearityError("the instruments do not identify the endogenous regressors.")
    beta = np.linalg.solve(X_hat.T @ (X * w[:, None]), X_hat.T @ (y * w))
    return beta, X_hat, y - X @ beta


def _rank(A: np.ndarray, w: np.ndarray) -> int:
    """Rank of the weighted columns of ``A`` after scaling each to unit norm (the scale of
    a variable must not decide whether it is collinear)."""
    B = A * np.sqrt(w)[:, None]
    norms = np.linalg.norm(B, axis=0)
    if (norms == 0).any():
        return int((norms > 0).sum())
    return int(np.linalg.matrix_rank(B / norms, tol=1e-10 * np.sqrt(len(B))))


def _wald_f(b: np.ndarray, V: np.ndarray) -> float:
    q = len(b)
    try:
        return float(b @ np.linalg.solve(V, b)) / q
    except np.linalg.LinAlgError:
        return float("nan")


def feiv(formula: str, data: pd.DataFrame, parts: tuple[str, str, str], *, request: VcovRequest,
         weights: str | None, ssc: SSC, drop_singletons: bool, fixef_tol: float,
         fixef_maxiter: int) -> FeolsResult:  # fmt: skip
    """Two-stage least squares of an IV formula (see the module docstring)."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError("IV formulas run in memory on a pandas DataFrame.")
    main, endog_text, inst_text = parts
    parsed = parse_formula(main)
    endog, inst = _plain(endog_text, "endogenous regressors", formula), _plain(
        inst_text, "instruments", formula)  # fmt: skip
    d_names = [t.factors[0].var for t in endog.terms]
    z_names = [t.factors[0].var for t in inst.terms]
    if len(z_names) < len(d_names):
        raise FormulaError(
            f"{len(d_names)} endogenous regressors need at least as many instruments, got "
            f"{len(z_names)}: {formula!r}."
        )
    every = parse_formula(main.split("|")[0] + " + " + " + ".join(d_names + z_names)
                          + ("|" + main.split("|", 1)[1] if "|" in main else ""))  # fmt: skip
    sample = prepare_sample(data, every, weights=weights, clusters=request.clusters,
                            drop_singletons=drop_singletons)  # fmt: skip
    frame, fe, w = sample.frame, sample.fe, sample.weights
    design = build_design(frame, parsed, has_fixef=fe is not None)
    y = factor_values(frame, parsed.depvar)
    D = frame[d_names].to_numpy(dtype=float)
    Z = frame[z_names].to_numpy(dtype=float)
    V = np.column_stack([y, design.X, D, Z])
    if fe is not None:
        dm = demean(V, fe, w, tol=fixef_tol, maxiter=fixef_maxiter)
        R, fe_rank = dm.values, dm.fe_rank if dm.fe_rank is not None else count_fixef_rank(fe)
    else:
        R, fe_rank = V, 0
    kx, kd = design.X.shape[1], len(d_names)
    yd, Xe = R[:, 0], R[:, 1 : 1 + kx]
    Dd, Zd = R[:, 1 + kx : 1 + kx + kd], R[:, 1 + kx + kd :]
    sw = np.ones(len(y)) if w is None else w
    Zf, Xf = np.column_stack([Xe, Zd]), np.column_stack([Xe, Dd])
    beta, Xh, u = two_stage(yd, Xf, Zf, sw)
    wu = u * sw
    N, k = len(y), Xf.shape[1]
    bread = np.linalg.inv(Xh.T @ (Xh * sw[:, None]))
    clusters = frame_cluster_codes(frame, request.clusters)
    vres = compute_vcov(request, ssc, bread=bread, scores=Xh * wu[:, None],
                        ssr_over_n=float(wu @ u) / N, N=N, k=k, fe=fe, clusters=clusters,
                        beta=beta, fe_rank=fe_rank)  # fmt: skip
    names = [*design.names, *d_names]
    first = _first_stages(Zf, Dd, sw, kx, d_names, request, ssc, N, fe, clusters, fe_rank)
    se = np.sqrt(np.clip(np.diag(vres.V), 0.0, None))
    X_obs = np.column_stack([design.X, D])
    ybar = float((y * sw).sum() / sw.sum())
    tss = float(((y - ybar) ** 2 * sw).sum())
    ssr = float(wu @ u)
    sample.log.announce("feols")
    full = parse_formula(main.split("|")[0] + " + " + " + ".join(d_names)
                         + ("|" + main.split("|", 1)[1] if "|" in main else ""))  # fmt: skip
    return FeolsResult(
        formula=formula, depvar=parsed.depvar.label,
        coef=pd.Series(beta, index=names, name="estimate"),
        se=pd.Series(se, index=names, name="std_error"),
        vcov=pd.DataFrame(vres.V, index=names, columns=names), nobs=N,
        df_resid=N - k - fe_rank, df_t=vres.small.df_t, n_clusters=dict(vres.n_clusters),
        vcov_label=request.label, ssc=ssc, small_sample=vres.small,
        fixef_names=parsed.fixef_names,
        fixef_sizes=dict(zip(fe.names, fe.n_levels, strict=True)) if fe is not None else {},
        r2=1 - ssr / tss if tss > 0 else float("nan"), r2_within=float("nan"), ssr=ssr,
        collinear=(), vcov_psd_fixed=vres.psd_fixed, sample_log=sample.log,
        demean_strategy="iv", _parsed=full, _row_index=frame.index, _y=y, _resid=u,
        _xbeta=X_obs @ beta, _fe=fe, _weights=w, _cat_levels={}, _Xd=Xh, _yd=yd, _data=data,
        first_stage=first,
    )  # fmt: skip


def _first_stages(Zf, Dd, sw, kx, d_names, request, ssc, N, fe, clusters, fe_rank) -> dict:
    """Per endogenous regressor: its first-stage coefficients on the excluded
    instruments and their Wald F under the model's variance."""
    out = {}
    bread = np.linalg.inv(Zf.T @ (Zf * sw[:, None]))
    for j, name in enumerate(d_names):
        g = bread @ (Zf.T @ (Dd[:, j] * sw))
        v = Dd[:, j] - Zf @ g
        vres = compute_vcov(request, ssc, bread=bread, scores=Zf * (v * sw)[:, None],
                            ssr_over_n=float((v * sw) @ v) / N, N=N, k=Zf.shape[1], fe=fe,
                            clusters=clusters, beta=g, fe_rank=fe_rank)  # fmt: skip
        ex = slice(kx, Zf.shape[1])
        out[name] = {"f_stat": _wald_f(g[ex], vres.V[ex, ex]), "coef": g[ex],
                     "vcov": request.label}  # fmt: skip
    return out
