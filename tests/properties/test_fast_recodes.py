"""Counting fast paths equal the general routines they replace: ``compact_codes`` (codes
renumbered after a row subset, e.g. fixed effects) equals ``pd.factorize(sort=True)``; integer grid
positions equal the float route; the Poisson deviance from the linear predictor equals
the deviance from the means."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from impact.data.panel import compact_codes
from impact.data.timeindex import PeriodGrid
from impact.linear.poisson import poisson_deviance

#: Two routes to the same floating-point number (summation order only).
EXACT = 1e-12


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), arrays(np.intp, st.integers(1, 200), elements=st.integers(0, n - 1)))))  # fmt: skip
def test_compact_codes_equals_sorted_factorize(case):
    n_levels, codes = case
    new, uniq = compact_codes(codes, n_levels)
    want_codes, want_uniq = pd.factorize(codes, sort=True)
    np.testing.assert_array_equal(new, want_codes)
    np.testing.assert_array_equal(uniq, want_uniq)
    assert new.dtype == np.intp


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-3000, 3000),
    st.integers(1, 7),
    arrays(np.int64, st.integers(1, 50), elements=st.integers(0, 40)),
)
def test_integer_grid_positions_equal_the_float_route(origin, step, k):
    grid = PeriodGrid(origin=origin, step=step, size=int(k.max()) + 1)
    numbers = origin + step * k
    got = grid.int_positions(numbers)
    np.testing.assert_array_equal(got, np.round(grid.positions(numbers)).astype(np.intp))
    np.testing.assert_array_equal(got, k)
    assert numbers[0] == origin + step * k[0]  # the caller's array is not modified


def test_poisson_deviance_from_the_linear_predictor_equals_from_the_means():
    rng = np.random.default_rng(4)
    eta = rng.normal(0.5, 1.5, 5000)
    mu = np.exp(eta)
    y = rng.poisson(mu).astype(float)  # zeros included
    w = rng.uniform(0.2, 3.0, len(y))
    from scipy.special import xlogy

    want = poisson_deviance(y, mu, w)
    got = poisson_deviance(y, mu, w, eta=eta, ylogy=xlogy(y, y))
    assert abs(got - want) <= EXACT * abs(want)
