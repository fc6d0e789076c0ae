"""``impact.prodest``: production-function estimation and total factor productivity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.productivity.basis import input_terms, term_names
from impact.productivity.bootstrap import BlockBootstrap, DrawCallback, firm_block_bootstrap
from impact.productivity.by_group import prodest_by
from impact.productivity.data import ProductionData, log_column, production_data
from impact.productivity.fitting import ANALYTIC, METHODS, FitOptions, fit_point, refit_coef
from impact.productivity.rivals import warn_rivals
from impact.results.productivity import ProdestByResult, ProdestResult

__all__ = ["prodest"]

Method = Literal["ols", "fe", "op", "lp", "acf", "wooldridge"]


def prodest(
    data: pd.DataFrame,
    *,
    output: str,
    free: str | Sequence[str],
    state: str | Sequence[str],
    proxy: str | None = None,
    unit: str,
    time: str,
    method: Method = "acf",
    form: Literal["cobb_douglas", "translog"] = "cobb_douglas",
    controls: str | Sequence[str] | None = None,
    exog_instruments: str | Sequence[str] | None = None,
    treatment: str | None = None,
    group_trends: str | None = None,
    in_logs: bool = True,
    vcov: Literal["bootstrap", "analytic"] | None = None,
    n_boot: int = 199,
    seed: int = 0,
    poly_degree: int = 3,
    markov_degree: int = 3,
    instruments: Literal["extended", "just"] = "extended",
    control_function: Literal["acf", "lp"] = "acf",
    n_restarts: int = 4,
    gmm_steps: int = 1,
    start: Sequence[float] | None = None,
    by: str | None = None,
    min_firms: int = 30,
    progress: bool | DrawCallback = False,
) -> ProdestResult | ProdestByResult:
    """Estimate a production function (Cobb-Douglas or translog) and log TFP.

    Parameters
    ----------
    data : DataFrame
        Firm-year panel; never modified.
    output, free, state, proxy : str
        Log output (value added), log free inputs (labour), log state inputs (capital),
        log proxy (materials for LP/ACF/Wooldridge, investment for OP).
    unit, time : str
        Firm and (integer) period columns. Lags are looked up by period number.
    method : {"acf", "lp", "op", "wooldridge", "ols", "fe"}
        ``"acf"``: Ackerberg-Caves-Frazer two-step (first stage ``phi(l, k, m)``, then
        GMM on the innovation of a polynomial Markov process). ``"lp"``/``"op"``:
        Levinsohn-Petrin / Olley-Pakes (free inputs from the first stage; OP drops and
        counts zero-investment rows). ``"wooldridge"``: one-step GMM (see
        :mod:`impact.productivity.wooldridge`). ``"ols"``: least squares with period
        effects. ``"fe"``: firm and period effects.
    form : {"cobb_douglas", "translog"}
        Translog adds every square and cross product of the log inputs; output
        elasticities then vary by observation (``result.elasticities``). Translog and
        gross output (the proxy also listed in ``free``) are available for OLS, FE, ACF
        and Wooldridge (LP/OP take the free inputs' coefficients from a first stage that
        cannot hold them). Gross output with a flexible materials input is not identified
        by proxy methods alone (Gandhi, Navarro and Rivers 2020): read such estimates
        with care.
    controls : str or list, optional
        Columns entering the first stage and the law of motion linearly.
    exog_instruments : str or list, optional
        Excluded instruments that are exogenous to the productivity innovation, typically
        input prices such as the firm's real wage. They are added to the second-stage
        moments (ACF/LP/OP) and to both Wooldridge equations. With a static labour
        choice the ACF moments also accept ``b_l`` near 1 (``y - l`` then tracks the
        wage, itself a Markov process); the current wage is correlated with that root's
        innovation and not with productivity's, so it removes the spurious root.
    treatment : str, optional
        0/1 column (e.g. cluster membership) entering the law of motion now and one
        period earlier (De Loecker 2013), so a policy that shifts productivity does not
        bias the elasticities.
    group_trends : str, optional
        Column (e.g. sector) whose indicators and group-specific linear trends are added
        to the controls: productivity with sector-specific trends otherwise leaves a trend
        in the innovation.
    in_logs : bool
        ``True`` (default): the columns are logs (an infinite value, the log of zero,
        raises). ``False``: the columns are levels and are logged; zero or negative
        values raise :class:`~impact.errors.NonPositiveInputError` naming the column.
    vcov : {"bootstrap", "analytic"}, optional
        Default: analytic (firm-clustered) for OLS, FE and Wooldridge, bootstrap otherwise
        (ACF/LP/OP have no analytic variance here).
    n_boot, seed, progress : int, int, bool or callable
        Firm-block bootstrap draws (each re-estimates every step, starting from the
        point estimate), the seed of their spawned random streams, a progress line on
        stderr (True) or a callback ``progress(done, n_boot)`` after each draw.
    poly_degree, markov_degree : int
        Degree of the first-stage polynomial and of the Markov law of motion (ACF/LP/OP).
    instruments : {"extended", "just"}
        Second-stage instruments of ACF/LP/OP: ``"just"`` the state inputs at t and (ACF)
        free inputs at t - 1; ``"extended"`` (default) adds the state inputs at t - 1 and
        all squares and cross products, which separates spurious roots of the moments.
    control_function : {"acf", "lp"}
        Wooldridge: control function in (free, state, proxy) (default, valid when the
        proxy depends on labour) or in (state, proxy) only (the original form).
    gmm_steps : {1, 2}
        Wooldridge: one-step (block 2SLS weight, default) or two-step efficient GMM.
    n_restarts : int
        Extra optimiser starts (random perturbations of the start, seeded by ``seed``).
    start : sequence of float, optional
        Starting elasticities (free then state inputs) of ACF/LP/OP; default OLS.
    by : str, optional
        Estimate separately for each value of this column (e.g. sector); returns a
        :class:`~impact.results.productivity.ProdestByResult`. A group with fewer than
        ``min_firms`` firms, or whose estimation raises, gives a NaN row and a warning.

    Returns
    -------
    ProdestResult, or ProdestByResult with ``by``

    Raises
    ------
    NonPositiveInputError, ColumnNotFoundError, InvalidOptionError, EmptySampleError
        Bad input.
    ConvergenceError
        No optimiser start converged, or more than 10% of bootstrap draws failed.

    Warns
    -----
    MultipleMinimaWarning
        Another converged minimum at different coefficients fits about equally well
        (Hansen J within 3.84): the elasticities are weakly identified.
    SampleDropWarning
        Rows were dropped (missing values, zero investment), with counts.

    Examples
    --------
    The shipped synthetic panel's true output elasticities are 0.6 (labour) and 0.3 (capital);
    Wooldridge's one-step GMM, materials as the proxy and the wage as an excluded instrument,
    recovers them.

    >>> import impact
    >>> firms = impact.datasets.load("cluster_panel").dropna(subset=["log_va", "log_materials"])
    >>> res = impact.prodest(firms, output="log_va", free="log_emp", state="log_k",
    ...                      proxy="log_materials", unit="firm_id", time="year",
    ...                      method="wooldridge", exog_instruments="log_wage")
    >>> res.coef.round(1).tolist()
    [0.6, 0.3]
    """
    if by is not None:
        kw = {k: v for k, v in locals().items() if k not in ("data", "by", "min_firms", "seed")}
        return prodest_by(prodest, data, by, unit, min_firms, seed, kw)
    if method not in METHODS:
        raise InvalidOptionError(f"method must be one of {METHODS}, got {method!r}.")
    if method in ("op", "lp", "acf", "wooldridge") and proxy is None:
        raise InvalidOptionError(f"method={method!r} needs a proxy column.")
    vcov = vcov or ("analytic" if method in ANALYTIC else "bootstrap")
    if vcov == "analytic" and method not in ANALYTIC:
        raise InvalidOptionError(
            f"method={method!r} has no analytic variance here; use vcov='bootstrap'."
        )
    d = production_data(
        data,
        output=output,
        free=free,
        state=state,
        proxy=proxy if method not in ("ols", "fe") else None,
        unit=unit,
        time=time,
        controls=controls,
        exog_instruments=exog_instruments if method not in ("ols", "fe") else None,
        treatment=treatment,
        group_trends=group_trends,
        in_logs=in_logs,
        drop_nonpositive_proxy=method == "op",
        form=form,
    )
    if method in ("lp", "op") and (d.form == "translog" or d.proxy_in_free):
        raise InvalidOptionError(
            f"method={method!r} supports value-added Cobb-Douglas only; use 'acf' or "
            "'wooldridge' for translog or gross output."
        )
    d.log.announce("prodest")
    ones = np.ones(d.n)
    opts = FitOptions(
        method=method,
        poly_degree=poly_degree,
        markov_degree=markov_degree,
        instruments=instruments,
        control_function=control_function,
        n_restarts=n_restarts,
        gmm_steps=gmm_steps,
    )
    pt = fit_point(
        d,
        ones,
        opts,
        start=None if start is None else np.asarray(start, dtype=float),
        rng=np.random.default_rng(seed),
        analytic=vcov == "analytic",
    )
    coef, vc, phi, boot = pt.coef, pt.vcov, pt.phi, None
    if pt.restarts is not None:
        warn_rivals(pt.restarts, coef, method, pt.overid)

    def refit(w: FloatArray) -> FloatArray:
        return refit_coef(d, w, opts, pt)

    if vcov == "bootstrap":
        boot = _bootstrap(refit, d, n_boot, seed, progress)
        vc = np.atleast_2d(np.cov(boot.draws, rowvar=False))
    names = d.term_names
    vcov_df = pd.DataFrame(vc, index=names, columns=names)
    label = (
        f"firm-block bootstrap ({len(boot.draws)} draws)"
        if boot is not None
        else f"clustered by {unit}"
    )
    tfp, omega, elas = _productivity(data, d, coef, phi, output, in_logs)
    # returns to scale: mean over the estimation sample of the summed elasticities
    grad = elasticity_matrix(d.inputs, d.form).sum(axis=1).mean(axis=0)
    return ProdestResult(
        method=method,
        coef=pd.Series(coef, index=names),
        se=pd.Series(np.sqrt(np.diag(vc)), index=names),
        vcov=vcov_df,
        nobs=d.n,
        n_firms=d.n_units,
        depvar=output,
        tfp=tfp,
        omega=omega,
        elasticities=elas,
        rts_gradient=grad,
        form=d.form,
        objective=pt.objective,
        j_stat=pt.j_stat,
        rho=pt.rho,
        restarts=pt.restarts,
        bootstrap=boot,
        vcov_label=label,
        sample_log=d.log,
        unit=unit,
        time=time,
    )


def _bootstrap(
    refit: Callable[[FloatArray], FloatArray],
    d: ProductionData,
    n_boot: int,
    seed: int,
    progress: bool | DrawCallback,
) -> BlockBootstrap:
    if n_boot < 2:
        raise InvalidOptionError(f"n_boot must be at least 2, got {n_boot}.")
    return firm_block_bootstrap(
        refit, d.unit, d.n_units, n_boot=n_boot, seed=seed, progress=progress
    )


def _productivity(
    data: pd.DataFrame,
    d: ProductionData,
    coef: FloatArray,
    phi: FloatArray | None,
    output: str,
    in_logs: bool,
) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Log TFP on every row with output and inputs; omega on the estimation sample;
    output elasticities of the inputs on every row (constant for Cobb-Douglas)."""
    y = log_column(data, output, in_logs)
    x = np.column_stack([log_column(data, c, in_logs) for c in d.input_names])
    tfp = pd.Series(y - input_terms(x, d.form) @ coef, index=data.index, name="tfp")
    e = elasticity_matrix(x, d.form) @ coef
    e[~np.isfinite(x).all(axis=1)] = np.nan  # an input missing: no elasticity
    elas = pd.DataFrame(e, index=data.index, columns=list(d.input_names))
    if phi is None:
        return tfp, tfp.rename("omega"), elas
    om = np.full(len(data), np.nan)
    om[d.rows] = phi - d.design @ coef
    return tfp, pd.Series(om, index=data.index, name="omega"), elas


def elasticity_matrix(x: FloatArray, form: str) -> FloatArray:
    """``(n, p_inputs, p_terms)`` derivatives of the terms: elasticities = this @ coef.

    Cobb-Douglas: the identity (elasticity j = b_j). Translog: d(x_j x_k)/dx_j.
    """
    n, p = x.shape
    k = len(term_names(tuple(str(j) for j in range(p)), form))
    out = np.zeros((n, p, k))
    for j in range(p):
        out[:, j, j] = 1.0
    if form == "translog":
        col = p
        for a in range(p):
            for b in range(a, p):
                if a == b:
                    out[:, a, col] = 2.0 * x[:, a]
                else:
                    out[:, a, col] = x[:, b]
                    out[:, b, col] = x[:, a]
                col += 1
    return out
