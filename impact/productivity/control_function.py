"""Control-function estimators: Olley-Pakes, Levinsohn-Petrin and Ackerberg-Caves-Frazer.

First stage: ``phi = E[y | inputs, proxy, period, controls]`` by OLS on a polynomial.
Second stage: for candidate coefficients ``b``, productivity ``omega(b) = phi - X b``;
the innovation ``xi(b)`` is the residual of the regression of ``omega`` on a polynomial in
its lag plus period effects, controls and the law-of-motion terms (treatment, De Loecker
2013); the GMM criterion is ``g' W g`` with ``g = Z' xi / N`` and ``W = (Z'Z / N)^-1``.

- ACF: the first stage includes the free inputs in the polynomial; ``b`` covers free and
  state inputs; instruments are the state inputs at t and the free inputs at t - 1.
- LP / OP: the free inputs enter the first stage linearly (their coefficients come from
  there); ``b`` covers the state inputs; instruments are the state inputs at t.

Every function takes row weights ``w`` (firm-block bootstrap counts repeated over a firm's
rows reproduce a resampled panel exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.optimize as so
import scipy.stats as st

from impact._typing import FloatArray
from impact.errors import ConvergenceError, EmptySampleError, InvalidOptionError
from impact.productivity.basis import Projector, poly_basis, standardise, weighted_ols
from impact.productivity.data import ProductionData

__all__ = ["ControlFunctionFit", "MarkovMoments", "first_stage", "fit_control_function"]

ControlMethod = Literal["acf", "lp", "op"]

#: Least-squares tolerances (relative change of the coefficients / of the N-scaled criterion).
XTOL, FTOL = 1e-10, 1e-12
#: Two minima whose Hansen J statistics differ by less than the 95% point of chi2(1) fit
#: "about equally well": the data cannot tell them apart at conventional levels.
J_GAP = 3.84
#: Two minima whose coefficients differ by more than this are "different estimates".
DIFFERENT_COEF = 1e-3
#: Standard deviation of the random perturbations of the starting values.
RESTART_SD = 0.2


@dataclass(frozen=True, eq=False)
class ControlFunctionFit:
    """Estimates of one control-function fit.

    Attributes
    ----------
    coef : ndarray
        Coefficients of the free then state inputs.
    phi : ndarray (n,)
        First-stage prediction (log output net of the transitory shock), including the
        free inputs' part for LP/OP, so ``omega = phi - X coef`` for every method.
    objective : float
        GMM criterion at the estimate.
    restarts : DataFrame
        One row per start: starting and final coefficients, criterion, J, success.
    overid : int
        Number of over-identifying restrictions of the second stage.
    """

    coef: FloatArray
    phi: FloatArray
    objective: float
    restarts: pd.DataFrame
    overid: int


def _first_stage_design(d: ProductionData, w: FloatArray, method: ControlMethod, degree: int):
    z, _, _ = standardise(d.control_vars(include_free=method == "acf"), w)
    parts = [np.ones((d.n, 1)), poly_basis(z, degree), d.period_dummies(), d.controls]
    if method != "acf":
        parts = [d.free, *parts]
    return np.column_stack(parts)


def first_stage(
    d: ProductionData, w: FloatArray, method: ControlMethod, degree: int
) -> tuple[FloatArray, FloatArray]:
    """First-stage ``phi`` and (LP/OP) the free inputs' coefficients (empty for ACF).

    For LP/OP the returned ``phi`` excludes the free inputs' contribution.
    """
    x = _first_stage_design(d, w, method, degree)
    coef, fitted = weighted_ols(x, d.y, w)
    if method == "acf":
        return fitted, np.zeros(0)
    p_f = d.free.shape[1]
    return fitted - d.free @ coef[:p_f], coef[:p_f]


class MarkovMoments:
    """The concentrated second-stage GMM criterion ``b -> g(b)' W g(b)``.

    Period effects, controls and law-of-motion terms are partialled out once (one QR);
    each evaluation then costs a few passes over the second-stage rows.
    """

    def __init__(
        self,
        d: ProductionData,
        phi: FloatArray,
        x: FloatArray,
        z: FloatArray,
        w: FloatArray,
        markov_degree: int,
    ) -> None:
        cur = np.flatnonzero(d.lag >= 0)
        if int((w[cur] > 0).sum()) <= x.shape[1] + markov_degree + 1:
            raise EmptySampleError(
                f"only {int((w[cur] > 0).sum())} firm-years have the previous year observed; "
                "the productivity law of motion cannot be estimated."
            )
        self.prev, self.degree = d.lag[cur], markov_degree
        self.unit, self.n_units = d.unit[cur], d.n_units
        self.counts = firm_weight(d.unit, w, d.n_units)
        self.phi, self.x = phi, x
        wc = w[cur]
        c = np.column_stack([d.period_dummies(cur), d.controls[cur], d.lom[cur]])
        self.proj = Projector(c, wc)
        self.wsum = float(wc.sum())
        self.phi_c = self.proj.resid(phi[cur])
        self.x_c = self.proj.resid(x[cur])
        self.z_c = self.proj.resid(z)
        self.qt = self.proj.q.T
        self.qz = np.ascontiguousarray(np.vstack([self.qt, self.z_c.T]))
        self.zphi = self.z_c.T @ self.phi_c
        self.zx = self.z_c.T @ self.x_c
        self.w_mat = np.linalg.pinv(self.z_c.T @ self.z_c / self.wsum)

    def _rho(self, b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Law-of-motion coefficients, scaled lag powers, ``om_c`` and ``z_c' hs``."""
        lag = (self.phi - self.x @ b)[self.prev]
        n = len(lag)
        hs = np.empty((self.degree, n))  # row j: sqrt(w) * lag^(j+1)
        hs[0] = self.proj.sw * lag
        for j in range(1, self.degree):
            np.multiply(hs[j - 1], lag, out=hs[j])
        om_c = self.phi_c - self.x_c @ b
        cross = self.qz @ hs.T  # (Q' hs ; z_c' hs)
        r = self.qt.shape[0]
        qh = cross[:r]
        hh = hs @ hs.T - qh.T @ qh
        ho = hs @ om_c
        try:
            rho = np.linalg.solve(hh, ho)
        except np.linalg.LinAlgError:
            rho = np.linalg.lstsq(hh, ho, rcond=None)[0]
        return rho, hs, om_c, cross[r:].T

    def xi(self, b: FloatArray) -> FloatArray:
        """Scaled innovation residuals ``sqrt(w) * xi(b)`` on the second-stage rows."""
        rho, hs, om_c, _ = self._rho(b)
        return om_c - self.proj.resid_scaled(hs.T) @ rho

    def moments(self, b: FloatArray) -> FloatArray:
        """``g(b) = sum_i w_i z~_i xi_i / sum_i w_i`` (instruments net of period effects)."""
        rho, _, _, zh = self._rho(b)
        return (self.zphi - self.zx @ b - zh.T @ rho) / self.wsum

    def __call__(self, b: FloatArray) -> float:
        g = self.moments(np.atleast_1d(b))
        return float(g @ self.w_mat @ g)

    def j_stat(self, b: FloatArray) -> float:
        """J-type statistic at ``b``: ``N g' S^-1 g``, ``S`` the firm-clustered covariance
        of the moments at ``b``.

        Zero for just-identified moments at a root. It is evaluated at the first-step
        estimate and ignores that ``phi`` and the law of motion are estimated, so it is a
        yardstick for comparing minima (chi-squared cut-offs are a heuristic), not a
        formal over-identification test.
        """
        score = self.z_c * self.xi(b)[:, None]
        per_unit = np.stack(
            [np.bincount(self.unit, score[:, j], self.n_units) for j in range(score.shape[1])],
            axis=1,
        )
        # a firm drawn c times contributes c s s' (as c copies), not (c s)(c s)'
        per_unit /= np.sqrt(np.maximum(self.counts, 1e-300))[:, None]
        s = per_unit.T @ per_unit / self.wsum
        g = self.moments(b)
        return float(self.wsum * g @ np.linalg.pinv(s) @ g)


def firm_weight(unit: np.ndarray, w: FloatArray, n_units: int) -> FloatArray:
    """Each firm's (constant) row weight: its bootstrap count, 1 in the point estimate."""
    rows = np.bincount(unit, minlength=n_units)
    return np.bincount(unit, w, n_units) / np.maximum(rows, 1)


def _stage_two(
    d: ProductionData, method: ControlMethod, instruments: str
) -> tuple[FloatArray, FloatArray]:
    """Second-stage regressors ``X`` (all rows) and instruments ``Z`` (rows with a lag).

    ``"just"``: state inputs at t (and, for ACF, free inputs at t - 1). ``"extended"``:
    those plus the state inputs at t - 1 and all their squares and cross products. The
    excluded exogenous instruments (input prices) at t are appended to either.
    """
    cur = np.flatnonzero(d.lag >= 0)
    prev = d.lag[cur]
    if method == "acf":
        x = d.design
        base = np.column_stack([d.state[cur], d.free[prev]])
    else:
        x = d.state
        base = d.state[cur]
    if instruments == "just":
        return x, np.column_stack([base, d.exog[cur]])
    if instruments != "extended":
        raise InvalidOptionError(f"instruments must be 'just' or 'extended', got {instruments!r}.")
    z, _, _ = standardise(np.column_stack([base, d.state[prev]]), np.ones(len(cur)))
    return x, np.column_stack([poly_basis(z, 2), d.exog[cur]])


def minimise(
    crit: MarkovMoments, starts: list[FloatArray], maxiter: int, with_j: bool = True
) -> tuple[FloatArray, float, pd.DataFrame]:
    """Minimise the criterion from every start; the best converged minimum and the table.

    The criterion ``g' W g`` is the squared norm of ``L' g`` (``W = L L'``), so it is
    minimised by trust-region least squares (finite-difference Jacobian of the moments).

    Raises
    ------
    ConvergenceError
        No start converged.
    """
    # W = L L' with L from the eigen-decomposition (W is a pseudo-inverse: PSD, maybe singular)
    lam, vec = np.linalg.eigh((crit.w_mat + crit.w_mat.T) / 2)
    root = vec * np.sqrt(np.clip(lam, 0.0, None))
    scale = np.sqrt(crit.wsum)

    def resid(b: FloatArray) -> FloatArray:
        return scale * (root.T @ crit.moments(b))

    rows = []
    for j, b0 in enumerate(starts):
        res = so.least_squares(
            resid, b0, method="trf", xtol=XTOL, ftol=FTOL, gtol=FTOL, max_nfev=maxiter
        )
        rows.append(
            {
                "start": j,
                "start_coef": tuple(np.round(b0, 6)),
                "coef": tuple(res.x),
                "objective": float(crit(res.x)),
                "j_stat": crit.j_stat(res.x) if with_j else np.nan,
                "converged": bool(res.status > 0),
                "evaluations": int(res.nfev),
            }
        )
    table = pd.DataFrame(rows)
    ok = table[table["converged"]]
    if ok.empty:
        raise ConvergenceError(
            f"the GMM criterion did not converge from any of {len(starts)} starts "
            f"(best value {table['objective'].min():.3g}); try other starting values, "
            "a lower polynomial degree or more data."
        )
    # minima are compared by Hansen's J (efficient weight), not by the first-step
    # criterion whose weight ignores the innovations' heteroskedasticity
    best = ok.loc[ok["j_stat" if with_j else "objective"].idxmin()]
    return np.asarray(best["coef"], dtype=float), float(best["objective"]), table


def rival_minima(table: pd.DataFrame, coef: FloatArray, df: int) -> pd.DataFrame:
    """Converged minima at other coefficients that the moments do not reject.

    Over-identified (``df > 0``): a rival's Hansen J is below the 95% point of
    chi2(``df``). Just-identified: its J is within :data:`J_GAP` of the best (every exact
    root qualifies).
    """
    ok = table[table["converged"]]
    cut = st.chi2.ppf(0.95, df) if df > 0 else ok["j_stat"].min() + J_GAP
    far = np.array([np.abs(np.asarray(c) - coef).max() > DIFFERENT_COEF for c in ok["coef"]])
    return ok[far & (ok["j_stat"].to_numpy() <= cut)]


def fit_control_function(
    d: ProductionData,
    w: FloatArray,
    *,
    method: ControlMethod,
    start: FloatArray,
    poly_degree: int = 3,
    markov_degree: int = 3,
    n_restarts: int = 4,
    instruments: str = "extended",
    rng: np.random.Generator | None = None,
    maxiter: int = 200,
) -> ControlFunctionFit:
    """One ACF/LP/OP fit with weights ``w``.

    Parameters
    ----------
    start : ndarray
        Starting coefficients of the production-function terms (e.g. OLS).
    n_restarts : int
        Extra starts: ``start`` plus ``N(0, 0.2^2)`` perturbations drawn from ``rng``.
    """
    phi, beta_free = first_stage(d, w, method, poly_degree)
    x, z = _stage_two(d, method, instruments)
    if z.shape[1] < x.shape[1]:
        raise InvalidOptionError(
            f"{z.shape[1]} second-stage instruments for {x.shape[1]} coefficients: the "
            f"{method.upper()} moments cannot identify them; use instruments='extended' or "
            "add exog_instruments."
        )
    crit = MarkovMoments(d, phi, x, z, w, markov_degree)
    p_f = d.free.shape[1]
    b0 = np.asarray(start, dtype=float) if method == "acf" else np.asarray(start)[p_f:]
    starts = [b0]
    if n_restarts > 0:
        gen = rng if rng is not None else np.random.default_rng(0)
        starts += [b0 + gen.normal(0.0, RESTART_SD, len(b0)) for _ in range(n_restarts)]
    b, obj, table = minimise(crit, starts, maxiter, with_j=len(starts) > 1)
    coef = b if method == "acf" else np.concatenate([beta_free, b])
    if method != "acf":  # report phi with the free inputs' part, as for ACF
        phi = phi + d.free @ beta_free
    overid = z.shape[1] - x.shape[1]
    return ControlFunctionFit(coef=coef, phi=phi, objective=obj, restarts=table, overid=overid)
