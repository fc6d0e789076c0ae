"""ETWFE fitted on (cohort, period[, category]) cells (speed issue): the cell sums and the
cell-held scores equal their row forms, and the fit equals least squares on the row design
(statsmodels, independent of our code) with its clustered, iid and HC1 variances."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import ENGINES, RTOL_CLOSED_FORM, RTOL_ITERATIVE, assert_close

import impact
import impact.estimators.etwfe_cells as etwfe_cells
import impact.inference.cell_scores as cell_scores
from impact.estimators.etwfe_cells import design_cells
from impact.inference.cell_scores import CellScores


def _panel(seed: int, n_units: int = 240, n_years: int = 8) -> pd.DataFrame:
    """Unbalanced, shuffled staggered panel with sectors, regions and a count outcome."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_units)
    cohort = rng.choice([2003.0, 2004.0, 2006.0, np.nan], n_units)[unit]
    treated = (year >= np.nan_to_num(cohort, nan=1e9)).astype(float)
    alpha = rng.normal(size=n_units)[unit]
    y = alpha + 0.1 * (year - 2000) + 0.5 * treated + rng.normal(size=unit.size)
    counts = rng.poisson(np.exp(0.3 + 0.2 * alpha + 0.3 * treated))
    df = pd.DataFrame(
        {
            "unit": unit,
            "year": year,
            "cohort": cohort,
            "y": y,
            "count": counts.astype(float),
            "sector": rng.choice(["a", "b", "c"], n_units)[unit],
            "region": rng.integers(0, 25, n_units)[unit],
        }
    )
    keep = rng.uniform(size=len(df)) > 0.12
    return df.loc[keep].sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("with_cat", [True, False])
def test_design_cells_are_the_groups_of_rows(monkeypatch, dense, with_cat):
    df = _panel(1)
    if not dense:  # the sorting route for sparse key ranges
        monkeypatch.setattr(etwfe_cells, "DENSE_KEY_FACTOR", 0)
    g = (df["cohort"] - 2000).to_numpy()
    t = (df["year"] - 2000).to_numpy()
    cat = df["sector"].to_numpy() if with_cat else None
    y = df["y"].to_numpy()
    dc = design_cells(g, t, cat, y)
    # each row's cell carries the row's labels
    assert_close(dc.g[dc.code], g, rtol=0)  # NaN == NaN in assert_close
    assert (dc.t[dc.code] == t).all()
    if with_cat:
        assert (dc.cat[dc.code] == cat).all()
    keys = ["g", "t", "c"] if with_cat else ["g", "t"]
    frame = pd.DataFrame({"g": np.nan_to_num(g, nan=-1), "t": t, "c": df["sector"], "y": y})
    ref = frame.groupby(keys)["y"].agg(["size", "sum"])
    assert len(ref) == len(dc.n)
    got = pd.DataFrame({"g": np.nan_to_num(dc.g, nan=-1), "t": dc.t, "n": dc.n, "s": dc.ysum})
    if with_cat:
        got["c"] = dc.cat
    got = got.set_index(keys).loc[ref.index]
    assert (got["n"].to_numpy() == ref["size"].to_numpy()).all()
    assert_close(got["s"].to_numpy(), ref["sum"].to_numpy(), rtol=RTOL_CLOSED_FORM)


@pytest.mark.parametrize("dense", [True, False])
def test_cell_scores_equal_the_row_scores(monkeypatch, dense):
    if not dense:
        monkeypatch.setattr(cell_scores, "DENSE_CLUSTER_CELLS", 0)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 5))
    code = rng.integers(0, 30, 5000)
    resid = rng.normal(size=5000)
    clusters = rng.integers(0, 70, 5000)
    rows = X[code] * resid[:, None]
    s = CellScores(X, code, resid)
    assert_close(s.cross(), rows.T @ rows, rtol=RTOL_CLOSED_FORM)
    ref = np.zeros((70, 5))
    np.add.at(ref, clusters, rows)
    assert_close(s.cluster_sums(clusters, 70), ref, rtol=RTOL_CLOSED_FORM, atol=1e-12)


def _row_design(df: pd.DataFrame, res) -> pd.DataFrame:
    """Intercept, cohort dummies (never = base), sector-by-year dummies (first dropped)
    and the fit's cell indicators, built from the frame."""
    X = pd.DataFrame({"const": 1.0}, index=df.index)
    X = X.join(pd.get_dummies(df["cohort"], prefix="g", dtype=float))
    sy = df["sector"] + "_" + df["year"].astype(str)
    X = X.join(pd.get_dummies(sy, prefix="sy", drop_first=True, dtype=float))
    for c in [c for c in res.coef.index if c.startswith("cell::")]:
        g, t = (int(v) for v in c.split("::")[1].split(":"))
        X[c] = ((df["cohort"] == g) & (df["year"] == t)).astype(float)
    return X


@pytest.mark.parametrize("control", ["notyet", "never"])
def test_linear_etwfe_equals_row_least_squares(control):
    """Cell coefficients and their clustered (region), iid and hetero SEs equal
    statsmodels' OLS on the row design (cluster: G/(G-1) (N-1)/(N-K), as fixest; hetero:
    HC1)."""
    sm = pytest.importorskip("statsmodels.api")
    df = _panel(2)
    kw = dict(y="y", unit="unit", time="year", cohort="cohort", family="linear")
    kw |= dict(control=control, fixed_effects="sector^year")
    res = impact.etwfe(df, vcov={"cluster": "region"}, **kw)
    X = _row_design(df, res)
    cells = [c for c in X.columns if c.startswith("cell::")]
    ols = sm.OLS(df["y"], X)
    clustered = ols.fit(cov_type="cluster", cov_kwds={"groups": df["region"]})
    assert res.n_obs == len(df)
    assert_close(res.coef[cells].to_numpy(), clustered.params[cells].to_numpy(),
                 rtol=RTOL_CLOSED_FORM)  # fmt: skip
    se = np.sqrt(np.diag(res.vcov))[[list(res.coef.index).index(c) for c in cells]]
    assert_close(se, clustered.bse[cells].to_numpy(), rtol=RTOL_CLOSED_FORM)
    iid = impact.etwfe(df, vcov="iid", **kw)
    se = np.sqrt(np.diag(iid.vcov))[[list(iid.coef.index).index(c) for c in cells]]
    assert_close(se, ols.fit().bse[cells].to_numpy(), rtol=RTOL_CLOSED_FORM)
    hetero = impact.etwfe(df, vcov="hetero", **kw)  # cell-held scores' meat: N / (N - K)
    se = np.sqrt(np.diag(hetero.vcov))[[list(hetero.coef.index).index(c) for c in cells]]
    assert_close(se, ols.fit(cov_type="HC1").bse[cells].to_numpy(), rtol=RTOL_CLOSED_FORM)


def test_poisson_etwfe_keeps_a_treated_cell_of_zeros_at_the_boundary():
    """A treated cell whose outcomes are all zero is separated by its own indicator: the
    fit is at the boundary (treated mean 0, proportional effect -1) and the cell stays in
    the sample and the aggregates (the estimand counts its firm-years); every other cell
    equals the fit on the frame without its rows (the likelihood's limit)."""
    df = _panel(4)
    zero = (df["cohort"] == 2003) & (df["year"] == 2005)
    df.loc[zero, "count"] = 0.0
    kw = dict(y="count", unit="unit", time="year", cohort="cohort", family="poisson")
    res = impact.etwfe(df, **kw)
    assert res.n_obs == len(df)
    assert res.sample_log.dropped("separation_relu") == 0
    cell = ((res.cells["cohort"] == 2003) & (res.cells["period"] == 2005)).to_numpy()
    assert_close(res.cells.loc[cell, "ratio"].to_numpy(), [-1.0], rtol=0, atol=RTOL_ITERATIVE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = impact.etwfe(df.loc[~zero], **kw)
    assert_close(res.cells.loc[~cell, "estimate"].to_numpy(), ref.cells["estimate"].to_numpy(),
                 rtol=RTOL_ITERATIVE)  # fmt: skip


def test_poisson_etwfe_drops_separated_comparison_cells():
    """Comparison (never-treated) rows of a category-period whose outcomes are all zero
    are separated by the category-by-period dummy: dropped and counted; the cell
    effects equal the fit without them."""
    df = _panel(5)
    zero = df["cohort"].isna() & (df["sector"] == "b") & (df["year"] == 2001)
    df.loc[(df["sector"] == "b") & (df["year"] == 2001), "count"] = 0.0
    kw = dict(y="count", unit="unit", time="year", cohort="cohort", family="poisson",
              fixed_effects="sector^year")  # fmt: skip
    res = impact.etwfe(df, **kw)
    assert res.sample_log.dropped("separation_relu") >= int(zero.sum()) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = impact.etwfe(df.loc[~zero], **kw)
    assert_close(res.cells["estimate"].to_numpy(), ref.cells["estimate"].to_numpy(),
                 rtol=RTOL_ITERATIVE)  # fmt: skip


@pytest.mark.parametrize("engine", [None, *ENGINES])
def test_fepois_finds_a_separating_dummy_among_many_zeros(engine):
    """A dummy that is 1 only on zero outcomes separates its rows, also when most outcomes
    are zero elsewhere (n0 in the thousands): the check solved an unscaled Gram of
    condition number 1e16 and found nothing, and the dummy's coefficient came out -21."""
    rng = np.random.default_rng(0)
    n_f, n_t = 3000, 10
    year = np.tile(np.arange(n_t), n_f)
    sector = rng.integers(0, 5, n_f)[np.repeat(np.arange(n_f), n_t)]
    x = rng.normal(size=n_f * n_t)
    y = rng.poisson(np.exp(-0.3 + 0.2 * x)).astype(float)
    d = ((sector == 2) & (year == 4)).astype(float)
    y[d == 1] = 0.0
    df = pd.DataFrame({"year": year, "x": x, "d": d, "y": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.fepois("y ~ x + d | year", df, engine=engine)
        ref = impact.fepois("y ~ x | year", df.loc[d == 0], engine=engine)
    assert fit.nobs == int((d == 0).sum())
    assert "d" not in fit.coef.index
    assert_close(fit.coef["x"], ref.coef["x"], rtol=RTOL_ITERATIVE)


def test_a_singular_weighted_step_is_a_typed_convergence_error():
    """The IRLS step's weighted within regression on a singular Gram (here two equal
    columns, kept as the final step keeps them) raises ConvergenceError, not numpy's
    LinAlgError (a review found it on cell designs with counts up to 1e14)."""
    from impact.errors import ConvergenceError
    from impact.linear.poisson import _weighted_fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    X = np.column_stack([np.ones(50), x, x])
    with pytest.raises(ConvergenceError, match="numerically singular"):
        _weighted_fit(rng.normal(size=50), X, None, np.ones(50), 1e-12, False)


def test_boundary_cell_counterfactual_survives_a_very_negative_effect():
    """The untreated mean of a cell comes from eta - tau directly: with tau = -800 the
    treated mean underflows to 0 and exp(800) overflows, and mu1 * exp(-tau) was NaN."""
    from impact.design.grid import PeriodGrid
    from impact.results.etwfe_effects import cell_effects

    X = np.array([[1.0, 1.0], [1.0, 0.0]])
    names = ["(Intercept)", "cell::1:1"]
    beta = np.array([0.5, -800.0])
    e = cell_effects("poisson", [(1.0, 1)], X, names, beta, np.array([1.0, 1.0]),
                     np.array([1, 0]), PeriodGrid(0, 1, 2), np.array([3, 4]))  # fmt: skip
    assert_close(e.att, [-np.exp(0.5)], rtol=RTOL_CLOSED_FORM)
    assert_close(e.s0, [3 * np.exp(0.5)], rtol=RTOL_CLOSED_FORM)
