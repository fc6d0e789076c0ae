"""Gardner's two-stage DiD (did2s) event study with the GMM-corrected variance.

The first stage is imputation's (:func:`impact.estimators.imputation.first_stage`): unit
and period effects fitted on untreated observations. The second stage regresses the
residualised outcome on relative-time dummies of treated units; its variance accounts for
the first stage (Butts & Gardner 2022).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.data.samplelog import SampleLog
from impact.estimators.imputation import FirstStageSpec, dummy_sums, first_stage
from impact.inference.clusters import check_cluster_count, cluster_codes, cluster_sums

__all__ = ["Did2sFit", "did2s_fit"]


@dataclass(frozen=True)
class Did2sFit:
    """Second-stage coefficients by relative time, their GMM variance and its pieces.

    ``scores`` (clusters x coefficients) are the cluster sums of the corrected moment
    times the bread, so ``vcov = scores' scores``; like the estimates they are linear in
    the outcome given the design. ``score_scale`` is the root sum of squares of single
    observations' terms (the scale of rounding noise); ``rows`` the user's rows in the
    sample and ``row_cluster`` their cluster codes.
    """

    rel_times: np.ndarray
    estimate: FloatArray
    vcov: FloatArray
    sample_log: SampleLog
    n_units: int
    n_clusters: int
    #: treated observations behind each coefficient
    counts: FloatArray | None = None
    # the row-level pieces (None for a fit summed by unit type in a query engine)
    scores: FloatArray | None = field(default=None, repr=False)
    score_scale: FloatArray | None = field(default=None, repr=False)
    rows: np.ndarray | None = field(default=None, repr=False)
    row_cluster: np.ndarray | None = field(default=None, repr=False)
    row_rel: FloatArray | None = field(default=None, repr=False)  # event time (NaN: never)
    row_untreated: np.ndarray | None = field(default=None, repr=False)
    row_imputable: np.ndarray | None = field(default=None, repr=False)


def did2s_fit(
    data: pd.DataFrame,
    spec: FirstStageSpec,
    *,
    reference: int = -1,
    cluster: str | None = None,
    static: bool = False,
) -> Did2sFit:
    """Gardner (2021) two-stage DiD event study with the GMM-corrected variance.

    Stage 1 fits unit and period effects on untreated observations; stage 2 regresses the
    residualised outcome of every observation on relative-time dummies of treated units
    (all relative times but ``reference``; never-treated units have none). Post-treatment
    coefficients equal the imputation estimates. The variance accounts for the first stage
    (Butts & Gardner 2022): ``(X2'X2)^-1 sum_c psi_c psi_c' (X2'X2)^-1`` with
    ``psi_c = sum_c X2 e2 - sum_{c, untreated} (X10 A) e1`` and
    ``A = (X10'X10)^-1 X1'X2``; clusters are units unless ``cluster`` is given.
    ``spec.fixed_effects="category^time"`` replaces the period effects of stage 1 by
    category-by-period effects; ``spec.absorb`` replaces its unit effects by effects of a
    coarser group (R ``did2s``'s ``first_stage = ~ 0 | state + year``). ``static=True``
    has one second-stage regressor, the treatment indicator (rel_times is then ``[0]``).

    Returns
    -------
    Did2sFit

    References
    ----------
    Gardner, J. (2021). Two-stage differences in differences. Working paper.
    Butts, K., & Gardner, J. (2022). did2s: Two-stage difference-in-differences. The R
    Journal, 14(3), 162–173.
    """
    fs = first_stage(data, spec, (cluster,) if cluster else ())
    ucode, tcode, n_u, n_t, period, g = fs.ucode, fs.tcode, fs.n_u, fs.n_t, fs.period, fs.cohort
    u0, t0, alpha, lam, yv = fs.u0, fs.t0, fs.alpha, fs.lam, fs.y
    ok, untreated = fs.imputable, fs.untreated
    keep, log = fs.keep, fs.log
    idx = np.flatnonzero(ok)
    ytil = yv[idx] - alpha[ucode[idx]] - lam[tcode[idx]]
    rel = period[idx] - g[idx]
    if static:  # one regressor: treated (rel >= -anticipation) vs everything else
        rel = np.where(rel >= -fs.anticipation, 0.0, np.nan)
    dummy = ~np.isnan(rel) & (rel != reference)
    rel_times = np.unique(rel[dummy]).astype(int)
    col = np.full(len(idx), -1)
    col[dummy] = np.searchsorted(rel_times, rel[dummy])
    k = len(rel_times)
    counts = np.bincount(col[dummy], minlength=k).astype(float)
    beta = np.bincount(col[dummy], weights=ytil[dummy], minlength=k) / counts
    e2 = ytil - np.where(dummy, beta[np.maximum(col, 0)], 0.0)
    # A = (X10'X10)^-1 X1'X2 from the per-unit and per-cell counts of the dummies X2
    u_all, t_all = ucode[idx], tcode[idx]
    a_x, l_x = fs.system.solve(
        dummy_sums(u_all[dummy], col[dummy], n_u, k), dummy_sums(t_all[dummy], col[dummy], n_t, k)
    )
    e1 = fs.resid0
    if cluster:
        c_row = cluster_codes(data[cluster].to_numpy()[keep], cluster)[0]
    else:
        c_row = fs.uid
    c = c_row[idx]
    n_c = int(c.max()) + 1
    check_cluster_count(n_c, cluster or spec.unit, "did2s")
    c0 = c_row[untreated]
    psi = dummy_sums(c[dummy], col[dummy], n_c, k, e2[dummy])
    scale2 = np.bincount(col[dummy], weights=e2[dummy] ** 2, minlength=k)
    for j in range(k):  # column by column: no (observations x k) matrix
        term0 = (a_x[u0, j] + l_x[t0, j]) * e1
        psi[:, j] -= cluster_sums(term0, c0, n_c)[:, 0]
        scale2[j] += term0 @ term0
    scores = psi / counts
    return Did2sFit(
        rel_times, beta, scores.T @ scores, log, int(fs.uid.max()) + 1, n_c, counts=counts,
        scores=scores, score_scale=np.sqrt(scale2) / counts, rows=keep, row_cluster=c_row,
        row_rel=period - g, row_untreated=untreated, row_imputable=ok,
    )  # fmt: skip
