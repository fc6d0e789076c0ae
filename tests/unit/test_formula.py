"""Formula parsing and the regressor matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import FormulaError
from impact.linear.formula import parse_formula
from impact.linear.model_matrix import build_design


def test_parse_parts():
    p = parse_formula(
        "log(y) ~ x1 + x2:x3 + C(k) + i(rel, ref=-1) + i(rel, z, ref=[-1, 0]) | a + a^b"
    )
    assert p.depvar.func == "log" and p.depvar.var == "y"
    assert [t.columns for t in p.terms] == [("x1",), ("x2", "x3"), ("k",), ("rel",), ("rel", "z")]
    assert p.terms[3].factors[0].ref == (-1,)
    assert p.terms[4].factors[0].ref == (-1, 0)
    assert p.fixef == (("a",), ("a", "b")) and p.fixef_names == ("a", "a^b")
    assert p.intercept


@pytest.mark.parametrize("rhs", ["x - 1", "0 + x", "-1 + x"])
def test_no_intercept(rhs):
    assert not parse_formula(f"y ~ {rhs}").intercept


def test_negative_reference_is_not_a_minus():
    p = parse_formula("y ~ i(rel, ref=-1)")
    assert p.intercept and p.terms[0].factors[0].ref == (-1,)


def test_interacting_two_categoricals_is_an_error():
    with pytest.raises(FormulaError, match="fe1\\^fe2"):
        parse_formula("y ~ C(a):C(b)")


def test_design_columns():
    df = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "k": ["b", "a", "c", "a"],
            "rel": [-2, -1, 0, 1],
            "z": [2.0, 3.0, 5.0, 7.0],
        }
    )
    p = parse_formula("y ~ x + C(k) + i(rel, ref=-1) + i(rel, z, ref=[-1, 0]) + x:z")
    d = build_design(df, p, has_fixef=False)
    assert d.names == (
        "Intercept",
        "x",
        "C(k)[T.b]",
        "C(k)[T.c]",
        "rel::-2",
        "rel::0",
        "rel::1",
        "rel::-2:z",
        "rel::1:z",
        "x:z",
    )
    expected = np.array(
        [
            [1, 1, 1, 0, 1, 0, 0, 2, 0, 2],
            [1, 2, 0, 0, 0, 0, 0, 0, 0, 6],
            [1, 3, 0, 1, 0, 1, 0, 0, 0, 15],
            [1, 4, 0, 0, 0, 0, 1, 0, 7, 28],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(d.X, expected)


def test_full_dummies_without_intercept_or_fe():
    df = pd.DataFrame({"k": ["a", "b", "a"]})
    d = build_design(df, parse_formula("y ~ 0 + C(k)"), has_fixef=False)
    assert d.names == ("C(k)[T.a]", "C(k)[T.b]")
