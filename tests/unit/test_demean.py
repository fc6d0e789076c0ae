"""The demeaning strategies agree with each other and with an explicit projection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, assert_close

from impact.linear.demean import demean, fixef_coefficients
from impact.linear.fixed_effects import build_fixed_effects, count_fixef_rank


def _data(seed, n=600):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"f": rng.integers(0, 80, n), "t": rng.integers(0, 9, n), "k": rng.integers(0, 5, n)}
    )
    return df, rng.normal(size=(n, 3)), rng.uniform(0.2, 3.0, n)


def _explicit(V, df, cols, w):
    D = np.column_stack([pd.get_dummies(df[c], dtype=float).to_numpy() for c in cols])
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(D * sw[:, None], V * sw[:, None], rcond=None)[0]
    return V - D @ coef


@pytest.mark.parametrize("cols", [["f"], ["f", "t"], ["f", "t", "k"], ["t", "f"]])
@pytest.mark.parametrize("strategy", ["auto", "map"])
def test_matches_explicit_projection(cols, strategy):
    df, V, w = _data(1)
    fe = build_fixed_effects(df, [[c] for c in cols])
    res = demean(V, fe, w, strategy=strategy)
    ref = _explicit(V, df, cols, w)
    exact = res.strategy in ("oneway", "schur")
    assert_close(
        res.values, ref, rtol=0, atol=(1e-12 if exact else RTOL_ITERATIVE) * np.abs(V).max()
    )


def test_schur_chosen_for_one_large_plus_small():
    df, V, _ = _data(2)
    fe = build_fixed_effects(df, [["f"], ["t"]])
    assert demean(V, fe).strategy == "schur"


def test_fixef_coefficients_reproduce_the_fe_component():
    df, V, w = _data(3)
    fe = build_fixed_effects(df, [["f"], ["t"], ["k"]])
    d = V[:, 0] - demean(V[:, :1], fe, w).values[:, 0]
    coefs = fixef_coefficients(d, fe, w)
    rebuilt = sum(c[code] for c, code in zip(coefs, fe.codes, strict=True))
    assert_close(rebuilt, d, rtol=0, atol=1e-8)
    assert coefs[1][0] == 0 and coefs[2][0] == 0


def test_rank_counts_connected_components():
    # two disconnected blocks: firms {0,1} x years {0,1} and firms {2,3} x years {2,3}
    df = pd.DataFrame({"f": [0, 0, 1, 1, 2, 2, 3, 3], "t": [0, 1, 0, 1, 2, 3, 2, 3]})
    fe = build_fixed_effects(df, [["f"], ["t"]])
    assert count_fixef_rank(fe) == 4 + 4 - 2
    D = np.column_stack([pd.get_dummies(df[c], dtype=float) for c in "ft"])
    assert np.linalg.matrix_rank(D) == 6


def test_disconnected_design_schur_exact():
    df = pd.DataFrame({"f": [0, 0, 1, 1, 2, 2, 3, 3, 3], "t": [0, 1, 0, 1, 2, 3, 2, 3, 4]})
    V = np.arange(9, dtype=float)[:, None] ** 1.5
    fe = build_fixed_effects(df, [["f"], ["t"]])
    res = demean(V, fe, strategy="schur")
    ref = _explicit(V, df, ["f", "t"], np.ones(9))
    assert_close(res.values, ref, rtol=0, atol=RTOL_CLOSED_FORM * np.abs(V).max())


def test_sparse_crosstab_path_equals_dense(monkeypatch):
    import impact.linear.schur as schur

    df, V, w = _data(4)
    fe = build_fixed_effects(df, [["f"], ["t"], ["k"]])
    dense = demean(V, fe, w)
    monkeypatch.setattr(schur, "DENSE_CROSSTAB_CELLS", 0)
    sparse = demean(V, fe, w)
    assert dense.strategy == sparse.strategy == "schur"
    assert_close(sparse.values, dense.values, rtol=0, atol=RTOL_CLOSED_FORM * np.abs(V).max())
