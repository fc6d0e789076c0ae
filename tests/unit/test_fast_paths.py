"""Fast paths give the same numbers as the general code they short-cut."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from impact.linear.logit import logit_fit
from impact.linear.poisson import is_sparse_design, sparse_gram

#: Floating-point agreement of two routes to the same number.
EXACT = 1e-10


def test_logit_closed_form_for_one_binary_regressor_equals_newton():
    rng = np.random.default_rng(3)
    n = 500
    x = rng.integers(0, 2, n).astype(float)
    d = (rng.random(n) < 0.2 + 0.3 * x).astype(float)
    w = rng.random(n) + 0.5
    fast = logit_fit(np.column_stack([np.ones(n), x]), d, w)
    # a constant of 2 is the same model but leaves the closed form to Newton's method
    newton = logit_fit(np.column_stack([np.full(n, 2.0), x]), d, w)
    assert fast.iterations == 0 and newton.iterations > 0
    assert np.allclose(fast.coef, newton.coef * [2, 1], atol=EXACT)
    assert np.allclose(fast.fitted, newton.fitted, atol=EXACT)
    # a group without treated units is separation: no closed form; Newton's method runs
    # to the quasi-separation stop with fitted probabilities of 0 in that group
    res = logit_fit(np.column_stack([np.ones(n), x]), d * x, w)
    assert res.iterations > 0 and res.fitted[x == 0].max() < 1e-6
    assert np.isclose(res.fitted[x == 1][0], np.average(d[x == 1], weights=w[x == 1]))


def test_sparse_gram_equals_the_dense_product():
    rng = np.random.default_rng(1)
    n, k = 3000, 80
    X = np.zeros((n, k))
    X[np.arange(n), rng.integers(0, k, n)] = 1.0
    X[np.arange(n), rng.integers(0, k, n)] = 1.0
    z, w = rng.normal(size=n), rng.random(n)
    R = np.column_stack([z, X])
    dense = (R * w[:, None]).T @ R
    assert is_sparse_design(X) and not is_sparse_design(R[:, :10])
    assert np.allclose(sparse_gram(sparse.csr_array(X), z, w), dense, rtol=EXACT, atol=EXACT)


def test_att_gt_from_period_means_equals_the_cell_by_cell_formula():
    """The unconditional never-treated fast path (period means computed once) gives each
    cell's difference of weighted mean changes and its influence function, as the
    cell-by-cell formula written out here, on a weighted panel with a small cohort."""
    from impact.estimators.att_gt_cells import gt_cells
    from impact.estimators.att_gt_means import cells_from_means

    rng = np.random.default_rng(5)
    n, T = 400, 6
    cohort = rng.choice([2.0, 4.0, 5.0, np.nan, np.nan], n)
    cohort[:2] = 3.0  # a cohort of two units
    Y = rng.normal(size=(n, T)) + np.arange(T)
    w = rng.uniform(0.5, 2.0, n)
    w /= w.mean()
    never = np.flatnonzero(np.isnan(cohort))
    periods = np.arange(T)
    cells = gt_cells(periods, np.unique(cohort[~np.isnan(cohort)]), "varying", 0)
    cells += gt_cells(periods, np.unique(cohort[~np.isnan(cohort)]), "universal", 0)
    att, inf, n_treat, n_ctrl, empty, gram = cells_from_means(
        Y, cohort, never, w, cells, {p: p for p in periods}, 1
    )
    assert not empty
    # the cells' cross-products from the groups' second moments equal inf' inf
    direct = inf.T @ inf
    np.testing.assert_allclose(gram, direct, rtol=EXACT, atol=EXACT * np.abs(direct).max())
    for c, (g, t, s) in enumerate(cells):
        if t == s:  # the universal base period's reference cell
            assert att[c] == 0 and not inf[:, c].any()
            continue
        ti = np.flatnonzero(cohort == g)
        dy1, dy0 = Y[ti, t] - Y[ti, s], Y[never, t] - Y[never, s]
        mu1, mu0 = np.average(dy1, weights=w[ti]), np.average(dy0, weights=w[never])
        assert abs(att[c] - (mu1 - mu0)) <= 1e-12
        want = np.zeros(n)
        want[ti] = n / w[ti].sum() * w[ti] * (dy1 - mu1)
        want[never] = -n / w[never].sum() * w[never] * (dy0 - mu0)
        np.testing.assert_allclose(inf[:, c], want, rtol=0, atol=1e-10)
        assert (n_treat[c], n_ctrl[c]) == (len(ti), len(never))


def test_att_gt_from_period_means_skips_small_cells_in_the_moments():
    """A cohort below min_cell_units leaves its cells empty: zero influence columns and
    zero rows and columns of the moment cross-products."""
    from impact.estimators.att_gt_cells import gt_cells
    from impact.estimators.att_gt_means import cells_from_means

    rng = np.random.default_rng(8)
    n, T = 120, 5
    cohort = rng.choice([2.0, 3.0, np.nan], n)
    cohort[cohort == 3.0] = np.nan
    cohort[:3] = 3.0  # three units: below min_cell_units = 5
    Y = rng.normal(size=(n, T))
    w = np.ones(n)
    cells = gt_cells(np.arange(T), np.array([2.0, 3.0]), "varying", 0)
    never = np.flatnonzero(np.isnan(cohort))
    att, inf, *_, empty, gram = cells_from_means(
        Y, cohort, never, w, cells, {p: p for p in range(T)}, 5
    )
    small = [c for c, cell in enumerate(cells) if cell[0] == 3.0]
    assert {e[0] for e in empty} == {3.0} and np.isnan(att[small]).all()
    assert not gram[small].any() and not gram[:, small].any()
    direct = inf.T @ inf
    np.testing.assert_allclose(gram, direct, rtol=EXACT, atol=EXACT * np.abs(direct).max())
