"""One production-function fit by any method, on prepared data with row weights.

Shared by :func:`impact.prodest` (point estimate and bootstrap draws) and
:func:`impact.tfp_did` (re-estimation in every two-stage bootstrap draw).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError
from impact.estimators.feols import feols
from impact.productivity.control_function import fit_control_function
from impact.productivity.data import ProductionData
from impact.productivity.wooldridge import fit_wooldridge

__all__ = ["FitOptions", "PointFit", "fit_point", "refit_coef", "refit_point"]

METHODS = ("ols", "fe", "op", "lp", "acf", "wooldridge")
ANALYTIC = ("ols", "fe", "wooldridge")


@dataclass(frozen=True)
class FitOptions:
    """Estimator settings (see :func:`impact.prodest` for their meaning)."""

    method: str = "acf"
    poly_degree: int = 3
    markov_degree: int = 3
    instruments: str = "extended"
    control_function: str = "acf"
    n_restarts: int = 4
    gmm_steps: int = 1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidOptionError(f"method must be one of {METHODS}, got {self.method!r}.")

    @property
    def cf_kwargs(self) -> dict:
        return {
            "method": self.method,
            "poly_degree": self.poly_degree,
            "markov_degree": self.markov_degree,
            "instruments": self.instruments,
        }


@dataclass(frozen=True, eq=False)
class PointFit:
    """Estimates of one fit; ``nan``/``None`` where a method has no such quantity."""

    coef: FloatArray
    phi: FloatArray | None
    vcov: FloatArray | None
    objective: float = float("nan")
    j_stat: float = float("nan")
    rho: float = float("nan")
    restarts: pd.DataFrame | None = None
    overid: int = 0


def _linear_frame(d: ProductionData, w: FloatArray) -> pd.DataFrame:
    cols = {"y": d.y, "unit": d.unit, "period": d.period, "w": w}
    design = d.design
    for j in range(design.shape[1]):
        cols[f"x{j}"] = design[:, j]
    for j in range(d.controls.shape[1]):
        cols[f"c{j}"] = d.controls[:, j]
    return pd.DataFrame(cols)


def fit_linear(
    d: ProductionData, w: FloatArray, method: str, analytic: bool
) -> tuple[FloatArray, FloatArray | None]:
    """OLS (period effects) or within (firm and period effects) through :func:`feols`."""
    frame = _linear_frame(d, w)
    names = [f"x{j}" for j in range(len(d.term_names))]
    rhs = names + [f"c{j}" for j in range(d.controls.shape[1])]
    fe = "unit + period" if method == "fe" else "period"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-weight (undrawn) firms are expected here
        fit = feols(
            f"y ~ {' + '.join(rhs)} | {fe}",
            frame,
            vcov={"cluster": "unit"} if analytic else "iid",
            weights="w",
        )
    coef = fit.coef[names].to_numpy()
    return coef, (fit.vcov.loc[names, names].to_numpy() if analytic else None)


def fit_point(
    d: ProductionData,
    w: FloatArray,
    opts: FitOptions,
    *,
    start: FloatArray | None = None,
    rng: np.random.Generator | None = None,
    analytic: bool = False,
) -> PointFit:
    """The point estimate (with ``opts.n_restarts`` extra starts for ACF/LP/OP).

    ``start`` defaults to OLS; ``analytic`` asks OLS/FE/Wooldridge for their covariance.
    """
    method = opts.method
    if method in ("ols", "fe"):
        coef, vc = fit_linear(d, w, method, analytic)
        return PointFit(coef=coef, phi=None, vcov=vc)
    if method == "wooldridge":
        wf = fit_wooldridge(
            d,
            w,
            control_function=opts.control_function,  # type: ignore[arg-type]
            poly_degree=opts.poly_degree,
            steps=opts.gmm_steps,
            with_vcov=analytic,
        )
        vc = wf.vcov if analytic else None
        return PointFit(coef=wf.coef, phi=wf.phi, vcov=vc, objective=wf.objective, rho=wf.rho)
    b0 = fit_linear(d, w, "ols", False)[0] if start is None else np.asarray(start, float)
    if len(b0) != len(d.term_names):
        raise InvalidOptionError(f"start has {len(b0)} values; give one per term {d.term_names}.")
    fit = fit_control_function(
        d, w, start=b0, n_restarts=opts.n_restarts, rng=rng, **opts.cf_kwargs
    )
    chosen = np.array([np.allclose(c, fit.coef[-len(c) :]) for c in fit.restarts["coef"]])
    ok = fit.restarts["converged"].to_numpy() & chosen
    return PointFit(
        coef=fit.coef,
        phi=fit.phi,
        vcov=None,
        objective=fit.objective,
        j_stat=float(fit.restarts.loc[ok, "j_stat"].min()),
        restarts=fit.restarts,
        overid=fit.overid,
    )


def refit_point(d: ProductionData, w: FloatArray, opts: FitOptions, point: PointFit) -> PointFit:
    """A bootstrap draw's fit: one start at the point estimate (rho searched near it)."""
    if opts.method in ("ols", "fe"):
        return PointFit(coef=fit_linear(d, w, opts.method, False)[0], phi=None, vcov=None)
    if opts.method == "wooldridge":
        wf = fit_wooldridge(
            d,
            w,
            control_function=opts.control_function,  # type: ignore[arg-type]
            poly_degree=opts.poly_degree,
            steps=opts.gmm_steps,
            with_vcov=False,
            rho_near=point.rho,
        )
        return PointFit(coef=wf.coef, phi=wf.phi, vcov=None, rho=wf.rho)
    fit = fit_control_function(d, w, start=point.coef, n_restarts=0, **opts.cf_kwargs)
    return PointFit(coef=fit.coef, phi=fit.phi, vcov=None)


def refit_coef(d: ProductionData, w: FloatArray, opts: FitOptions, point: PointFit) -> FloatArray:
    """Coefficients of a bootstrap draw (see :func:`refit_point`)."""
    return refit_point(d, w, opts, point).coef
