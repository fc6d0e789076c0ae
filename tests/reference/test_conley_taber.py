"""impact.conley_taber: with one treated cell and two periods the estimate and its error
distribution are closed forms of the cell means (the treated change minus the controls'
mean change; each control's change minus that mean); in a staggered panel the estimate is
impact's imputation estimator on the cell panel (checked against diff-diff elsewhere); the
Ferman-Pinto rescaling by hand; size with 1-3 treated cells of 40 against known truth
(slow); bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import InvalidOptionError
from impact.inference.conley_taber import ferman_pinto_scale

#: Closed forms and the same sums in another order.
EXACT = 1e-12


def _panel(seed, C=40, treated=2, T=8, effect=0.0, shock=0.5, sizes=(5, 60)):
    """Firms in cells of varying size, cell-by-year shocks; ``treated`` cells launch in
    2003-2005."""
    rng = np.random.default_rng(seed)
    size = rng.integers(sizes[0], sizes[1], C)
    launch = np.full(C, np.nan)
    launch[rng.choice(C, treated, replace=False)] = rng.integers(2003, 2006, treated)
    cell_of_firm = np.repeat(np.arange(C), size)
    F = len(cell_of_firm)
    firm = np.repeat(np.arange(F), T)
    cell = cell_of_firm[firm]
    year = np.tile(np.arange(2000, 2000 + T), F)
    L = launch[cell]
    d = (~np.isnan(L)) & (year >= np.nan_to_num(L, nan=np.inf))
    y = (
        rng.normal(size=F)[firm] + shock * rng.normal(size=(C, T))[cell, year - 2000]
        + rng.normal(size=F * T) + effect * d
    )  # fmt: skip
    return pd.DataFrame({"firm": firm, "cell": cell, "year": year, "launch": L, "y": y,
                         "d": d.astype(float)})  # fmt: skip


def _ct(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.conley_taber(d, y="y", cell="cell", time="year", launch="launch", **kw)


def test_one_treated_cell_two_periods_is_a_closed_form():
    d = _panel(1, C=30, treated=1, T=2)
    d["launch"] = np.where(d["launch"].notna(), 2001.0, np.nan)
    res = _ct(d, correction="none")
    means = d.groupby(["cell", "year"])["y"].mean().unstack()
    change = (means[2001] - means[2000]).to_numpy()
    treated = d.groupby("cell")["launch"].first().notna().to_numpy()
    m = change[~treated].mean()
    est = change[treated][0] - m
    errors = change[~treated] - m
    assert res.enumerated and res.draws == 29
    assert res.estimate == pytest.approx(est, abs=EXACT)
    np.testing.assert_allclose(np.sort(res.distribution), np.sort(errors), atol=EXACT, rtol=0)
    assert res.p_value == pytest.approx(np.mean(np.abs(errors) >= abs(est)), abs=EXACT)
    q = np.quantile(np.abs(errors), 0.95, method="higher")  # the symmetric test inverted
    assert (res.conf_low, res.conf_high) == pytest.approx((est - q, est + q), abs=EXACT)


def test_staggered_estimate_is_the_imputation_estimator_on_the_cell_panel():
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    d = _panel(2, treated=3)
    res = _ct(d)
    cells = d.groupby(["cell", "year"]).agg(y=("y", "mean"), launch=("launch", "first"))
    cells = cells.reset_index()
    imp = imputation_fit(cells, FirstStageSpec(y="y", unit="cell", time="year", cohort="launch"))
    assert res.estimate == pytest.approx(imp.overall, abs=EXACT)
    assert res.n_treated_cells == 3 and res.n_control_cells == 37
    assert res.enumerated and res.draws == 37 * 36 * 35
    # inside the interval the p-value of H0: effect = value is at least alpha, outside not
    for value, inside in ((res.conf_low, True), (res.conf_high + 1e-9, False)):
        p = np.mean(np.abs(res.distribution) >= abs(res.estimate - value) - 1e-12)
        assert (p >= 0.05) == inside
    assert "Ferman-Pinto" in res.summary()


def test_ferman_pinto_rescaling():
    """Draws whose squares follow ``2 + 3 / size`` exactly: the fit recovers (2, 3) and
    each draw is rescaled to the treated cell's size; equal sizes change nothing."""
    sizes = np.array([5.0, 10.0, 20.0, 40.0, 80.0])
    D = np.sqrt(2 + 3 / sizes)[None, :] * np.array([[1, -1, 1, 1, -1]])
    out = ferman_pinto_scale(D, np.array([8.0]), sizes)
    want = D * np.sqrt((2 + 3 / 8.0) / (2 + 3 / sizes))
    np.testing.assert_allclose(out, want, rtol=1e-10)
    d = _panel(3, sizes=(20, 21))  # every cell 20 firms
    a, b = _ct(d), _ct(d, correction="none")
    np.testing.assert_allclose(np.sort(a.distribution), np.sort(b.distribution), rtol=1e-10)


def test_bad_input():
    d = _panel(4)
    cases = [
        (d.assign(launch=np.where(d["firm"] == 0, 2004.0, d["launch"])), "varies within"),
        (d[~((d["cell"] == 3) & (d["year"] == 2001))], "balanced"),
        (d.assign(launch=np.nan), "no cell launches"),
        (d.assign(launch=np.where(d["launch"].notna(), 2000.0, np.nan)), "first period"),
        (d.assign(launch=np.where(d["cell"] < 30, 2004.0, np.nan)), "control cells"),
        (d.assign(year=d["year"].astype(str)), "must hold numbers"),
        (d.assign(launch=d["launch"].astype(str)), "must hold numbers"),
    ]
    for frame, match in cases:
        with pytest.raises(InvalidOptionError, match=match):
            _ct(frame)
    for kw, match in ((dict(draws=10), "draws"), (dict(correction="fp"), "correction"),
                      (dict(alpha=1.5), "alpha")):  # fmt: skip
        with pytest.raises(InvalidOptionError, match=match):
            _ct(d, **kw)
    with pytest.raises(InvalidOptionError, match="y="):
        impact.conley_taber(d, y="nope", cell="cell", time="year", launch="launch")
    small = _panel(5, C=8, treated=2)
    with pytest.warns(impact.errors.FewClustersWarning, match="control cells"):
        impact.conley_taber(small, y="y", cell="cell", time="year", launch="launch")
    d0 = d.copy()
    _ct(d)
    pd.testing.assert_frame_equal(d, d0)


@pytest.mark.slow
@pytest.mark.parametrize("treated", [1, 2, 3])
def test_size_with_few_treated_cells(treated):
    """Known truth (no effect), 500 replications, 40 cells of 5-60 firms with cell-by-year
    shocks: Conley-Taber with the Ferman-Pinto correction rejects at 5% within [0.016,
    0.084] (measured: 0.072, 0.058, 0.074 with 1, 2, 3 treated cells; without the
    correction 0.062, 0.056, 0.072), while the cell-clustered TWFE t-test rejects far too
    often (0.75, 0.34, 0.30)."""
    reps, ct, crv = 500, 0, 0
    for r in range(reps):
        d = _panel(r, treated=treated)
        ct += _ct(d, draws=999, seed=r).p_value < 0.05
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crv += (
                impact.feols("y ~ d | cell + year", d, vcov={"cluster": "cell"}).pvalue["d"] < 0.05
            )
    assert 0.016 <= ct / reps <= 0.084, (ct / reps, crv / reps)
    assert crv / reps > 0.15, (ct / reps, crv / reps)
