"""The report's ETWFE Poisson on patents (table 5) against statsmodels' GLM on the row
dummy design.

The report's patents panel has all-zero cells: treated cohort-period cells (left at the
boundary by :func:`impact.etwfe`), a cohort whose reference period g - 1 is all zero
(its effects are unidentified and its rows dropped) and comparison rows separated by
the dummies (dropped and counted). statsmodels knows none of these rules: its IRLS on
the full row design drives the separated coefficients towards minus infinity, and the
identified cell effects converge to the values at the supremum of the likelihood. The
test checks that etwfe's cell effects and proportional simple ATT are those values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import RTOL_ITERATIVE, assert_close

from impact.report.evaluation import Evaluation
from impact.report.replication import default_inputs, load_spec

sm = pytest.importorskip("statsmodels.api")

#: statsmodels IRLS: separated coefficients fall by about one per iteration, so their
#: rows' fitted means (and their pull on the other coefficients) shrink geometrically;
#: the relative deviance change falls below GLM_TOL long before the means underflow
#: (which would make the IRLS weights invalid) and leaves the identified coefficients
#: within 1e-12 of the supremum on this panel.
GLM_TOL = 1e-10
GLM_MAXITER = 100

#: A comparison row whose GLM mean is below this at convergence is separated
#: (the others' means are at least ~1e-3 on this panel).
SEPARATED_MEAN = 1e-12

pytestmark = pytest.mark.slow


def _row_design(ev, y_name):
    """Rows and dummies of Wooldridge's Poisson ETWFE as the report specifies it:
    intercept, cohort dummies, sector-by-year dummies and one dummy per cohort-period
    cell except g - 1 (control="never"); never-treated firms outside the control pool
    and cohorts first treated after the panel's last year are left out."""
    c = ev.spec.columns
    d = ev.data[np.isfinite(ev.data[y_name].to_numpy(float))]
    t = d[c.time].to_numpy(int)
    g = d[c.cohort].to_numpy(float)
    never = ~np.isfinite(g) | (g > t.max())
    keep = ~never | d[ev.names.pool].to_numpy(bool)
    d, t, g, never = d[keep], t[keep], g[keep], never[keep]
    g = np.where(never, -1, g).astype(int)
    cells = sorted({(a, b) for a, b in zip(g, t, strict=True) if a != -1 and b != a - 1})
    sy = d[c.sector].astype(str).to_numpy() + "_" + t.astype(str)
    sy_levels = sorted(set(sy))[1:]
    cohorts = sorted(set(g) - {-1})
    cols = [np.ones(len(d))]
    cols += [(g == a).astype(float) for a in cohorts]
    cols += [(sy == s).astype(float) for s in sy_levels]
    cols += [((g == a) & (t == b)).astype(float) for a, b in cells]
    X = np.column_stack(cols)
    first_cell = 1 + len(cohorts) + len(sy_levels)
    return d[y_name].to_numpy(float), X, g, t, cells, first_cell


def test_report_etwfe_poisson_patents_equals_glm_at_the_supremum():
    spec = load_spec(None)
    frame, truth = default_inputs()
    ev = Evaluation.build(frame, spec, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ev.etwfe_poisson("patents")
    y, X, g, t, cells, first = _row_design(ev, "patents")
    # unidentified cells (their cohort's g - 1 rows are all zero) are not estimated by
    # etwfe; their rows carry no information on the other coefficients
    identified = {
        (int(a), int(b)) for a, b in zip(res.cells["cohort"], res.cells["period"], strict=True)
    }
    cell_of_row = {ab: j for j, ab in enumerate(cells)}
    rows = np.array(
        [(a, b) not in cell_of_row or (a, b) in identified for a, b in zip(g, t, strict=True)]
    )
    used = X[rows].any(axis=0)  # the unidentified cells' dummies are empty now
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the separated directions do not converge
        fit = sm.GLM(y[rows], X[rows][:, used], family=sm.families.Poisson()).fit(
            maxiter=GLM_MAXITER, tol=GLM_TOL
        )
    beta = np.zeros(X.shape[1])
    beta[used] = fit.params
    tau = dict(zip(cells, beta[first:], strict=True))
    y_rows, g_rows, t_rows = y[rows], g[rows], t[rows]
    positive = {ab for ab in identified if y_rows[(g_rows == ab[0]) & (t_rows == ab[1])].sum() > 0}
    for ab in sorted(positive):
        assert_close(res.coef[f"cell::{ab[0]}:{ab[1]}"], tau[ab], rtol=RTOL_ITERATIVE)
    # proportional simple ATT over treated firm-years: fitted means against the same
    # linear predictor without the cell effects (treated all-zero cells: mean 0)
    eta = X[rows] @ beta
    eta0 = X[rows][:, :first] @ beta[:first]
    post = (g_rows != -1) & (t_rows >= g_rows)
    mu1 = np.exp(eta[post])
    mu0 = np.exp(eta0[post])
    ratio = (mu1 - mu0).mean() / mu0.mean()
    simple = res.aggregate("simple").table.iloc[0]
    assert_close(simple["ratio"], ratio, rtol=RTOL_ITERATIVE)
    # rows: etwfe drops the comparison rows separated by the dummies (their GLM means
    # vanish) and keeps the treated all-zero cells at the boundary
    in_cell = np.array([(a, b) in cell_of_row for a, b in zip(g_rows, t_rows, strict=True)])
    separated = ~in_cell & (np.asarray(fit.fittedvalues) < SEPARATED_MEAN)
    assert separated.any()
    assert res.n_obs == int(rows.sum() - separated.sum())
    # each kind of drop is one record, whatever the number of refits (it was one per pass)
    steps = [r.step for r in res.sample_log.records]
    assert steps.count("unidentified_cells") == 1 and steps.count("separation_relu") == 1
    assert res.sample_log.dropped("unidentified_cells") == int((~rows).sum())
    assert res.sample_log.dropped("separation_relu") == int(separated.sum())
