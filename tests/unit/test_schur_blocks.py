"""The Schur projection's weighted cross-table ``C' diag(1/wb) C`` assembled block by small
dimension (dense few-level blocks, sparse many-level ones) equals the one sparse product,
in every order of few- and many-level dimensions; and demeaning on such a design equals
the dummy-variable regression (statsmodels-free: numpy least squares on the dummies)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import RTOL_CLOSED_FORM, assert_close

import impact.linear.schur as schur
from impact.linear.demean import demean
from impact.linear.fixed_effects import build_fixed_effects


@pytest.mark.parametrize("levels", [(80, 5, 90), (5, 90), (90, 5), (90, 70), (4, 6)])
def test_blockwise_cross_table_equals_the_sparse_product(monkeypatch, levels):
    monkeypatch.setattr(schur, "DENSE_CROSSTAB_LEVELS", 10)
    rng = np.random.default_rng(sum(levels))
    n, nb = 4000, 300
    big = rng.integers(0, nb, n)
    w = rng.uniform(0.5, 2.0, n)
    offsets = np.cumsum([0, *levels])
    rows = np.concatenate([big] * len(levels))
    cols = np.concatenate(
        [rng.integers(0, k, n) + o for k, o in zip(levels, offsets, strict=False)]
    )
    C = sp.csr_matrix((np.tile(w, len(levels)), (rows, cols)), shape=(nb, int(offsets[-1])))
    wb = np.bincount(big, weights=w, minlength=nb)
    ref = (C.T @ sp.diags(1.0 / wb) @ C).toarray()
    assert_close(schur._sparse_cwc(C, wb, offsets), ref, rtol=RTOL_CLOSED_FORM, atol=1e-12)


def test_demeaning_on_many_level_small_effects_equals_dummy_regression(monkeypatch):
    monkeypatch.setattr(schur, "DENSE_CROSSTAB_LEVELS", 10)
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {"firm": rng.integers(0, 200, n), "year": rng.integers(0, 8, n),
         "ind_year": rng.integers(0, 40, n)}
    )  # fmt: skip
    fe = build_fixed_effects(frame, [["firm"], ["year"], ["ind_year"]])
    w = rng.uniform(0.5, 2.0, n)
    V = rng.normal(size=(n, 2))
    got = demean(V, fe, w, strategy="schur").values
    D = np.column_stack(
        [pd.get_dummies(frame[c], dtype=float).to_numpy() for c in ["firm", "year", "ind_year"]]
    )
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(D * sw[:, None], V * sw[:, None], rcond=None)[0]
    assert_close(got, V - D @ coef, rtol=RTOL_CLOSED_FORM, atol=RTOL_CLOSED_FORM)  # values O(1)
