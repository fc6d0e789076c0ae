"""unique_numbers (the counting fast path of np.unique for periods and positions) equals
np.unique on any integer array, dense or sparse, including dtype."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from impact.data.timeindex import unique_numbers

DTYPES = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32])


@settings(max_examples=200, deadline=None)
@given(arrays(DTYPES, st.integers(0, 300)))
def test_equals_np_unique(values):
    got, want = unique_numbers(values), np.unique(values)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_floats_and_wide_ranges_fall_back_to_np_unique():
    huge = np.array([2**63 + 2, 2**63 + 1], dtype=np.uint64)
    for v in (np.array([2.5, 1.0, 2.5]), np.array([0, 10**15, 3], dtype=np.int64), huge):
        np.testing.assert_array_equal(unique_numbers(v), np.unique(v))
