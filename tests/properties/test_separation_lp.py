"""The linear-programming separation check (ETWFE's cells): separated sets known by
construction, agreement with the ReLU method where that settles, and a check that
leaves nothing separated behind."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.errors import ConvergenceError
from impact.linear.poisson import relu_separation
from impact.linear.separation_lp import lp_separation


def _dummies(codes: np.ndarray) -> np.ndarray:
    return (codes[:, None] == np.unique(codes)[None, :]).astype(float)


def test_a_group_of_zeros_is_separated_by_its_dummy():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 6, 300)
    y = rng.poisson(2.0, 300).astype(float) + 1.0
    y[group == 4] = 0.0
    X = np.column_stack([np.ones(300), _dummies(group)[:, 1:]])
    assert (lp_separation(y, X) == (group == 4)).all()


def test_no_zero_outcome_or_no_regressor_separates_nothing():
    X = np.ones((5, 1))
    assert not lp_separation(np.arange(1.0, 6.0), X).any()
    assert not lp_separation(np.zeros(5), np.empty((5, 0))).any()


def test_a_difference_of_dummies_separates():
    """``z = 1{b=1} - 1{a=1}`` on a two-way table without the (a=1, b=0) cell: zero where
    both or neither apply, positive on the (a!=1, b=1) rows whose outcomes are zero, and no
    single dummy separates them — the pattern of the report's cells."""
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 3, 400), rng.integers(0, 2, 400)
    keep = ~((a == 1) & (b == 0))
    a, b = a[keep], b[keep]
    X = np.column_stack([np.ones(len(a)), _dummies(a)[:, 1:], _dummies(b)[:, 1:]])
    z = (b == 1).astype(float) - (a == 1)
    assert (z >= 0).all()
    y = np.where(z > 0, 0.0, 1.0 + rng.poisson(1.0, len(a)))
    assert (lp_separation(y, X) == (z > 0)).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_a=st.integers(2, 5),
    n_b=st.integers(2, 5),
    zero_share=st.floats(0.1, 0.7),
)
def test_agrees_with_relu_and_leaves_nothing_behind(seed, n_a, n_b, zero_share):
    rng = np.random.default_rng(seed)
    n = 60
    a, b = rng.integers(0, n_a, n), rng.integers(0, n_b, n)
    X = np.column_stack([np.ones(n), _dummies(a)[:, 1:], _dummies(b)[:, 1:]])
    y = np.where(rng.uniform(size=n) < zero_share, 0.0, 1.0 + rng.poisson(1.0, n))
    sep = lp_separation(y, X)
    assert (y[sep] == 0).all()
    assert not lp_separation(y[~sep], X[~sep]).any()  # the largest set: nothing left
    try:
        relu = relu_separation(y, X, None, maxiter=2000)
    except ConvergenceError:
        return  # the ReLU steps may not settle; the programs need no steps
    assert (relu == sep).all()
