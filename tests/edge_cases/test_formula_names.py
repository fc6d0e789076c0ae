"""Column names that are not plain identifiers reach formulas quoted, never as other terms."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import FormulaError
from impact.linear.formula import formula_name, parse_fixed_effects, parse_formula

#: Same data, different column names: estimates agree to rounding only.
RENAME_TOL = 1e-10


def test_backticks_quote_any_name():
    f = parse_formula(
        "`log emp` ~ `a + b` + log(`x|y`) + i(`r=t`, ref=-1) | `firm id` + `s^x`^year"
    )
    assert f.depvar.var == "log emp"
    assert [t.factors[0].var for t in f.terms] == ["a + b", "x|y", "r=t"]
    assert f.terms[1].factors[0].func == "log" and f.terms[2].factors[0].ref == (-1,)
    assert f.fixef == (("firm id",), ("s^x", "year"))
    assert parse_fixed_effects("`a b`^t + c") == (("a b", "t"), ("c",))


@pytest.mark.parametrize("bad", ["`y ~ x", "y ~ `x", "y ~ x | `f", "`` ~ x", "y ~ x ~ z"])
def test_bad_quoting_is_a_formula_error(bad):
    with pytest.raises(FormulaError):
        parse_formula(bad)


def test_formula_name():
    assert formula_name("log_emp") == "log_emp"
    assert formula_name("log emp") == "`log emp`"
    for bad in ("", "a`b", None):
        with pytest.raises(FormulaError):
            formula_name(bad)


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(3)
    n, t = 120, 6
    firm = np.repeat(np.arange(n), t)
    year = np.tile(np.arange(2000, 2000 + t), n)
    cohort = np.repeat(rng.choice([2002.0, 2004.0, np.nan], n), t)
    a, b = rng.normal(size=n * t), rng.normal(size=n * t)
    y = 0.3 * (year >= cohort) + 0.5 * a - 0.2 * b + rng.normal(size=n * t)
    return pd.DataFrame(
        {"firm": firm, "year": year, "g": cohort, "y": y, "a": a, "b": b, "a + b": a * b}
    )


@pytest.mark.parametrize("estimator", ["twfe", "sun_abraham"])
def test_a_column_named_like_a_formula_is_that_column(panel, estimator):
    """covariates=['a + b'] must use the column 'a + b', not columns a and b."""
    renamed = panel.rename(columns={"a + b": "ab", "firm": "firm id", "y": "log y"})
    kw = dict(time="year", cohort="g", estimator=estimator, window=(-2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = impact.event_study(panel, y="y", unit="firm", covariates=["a + b"], **kw)
        same = impact.event_study(
            renamed.rename(columns={"firm id": "firm", "log y": "y"}),
            y="y", unit="firm", covariates=["ab"], **kw,
        )  # fmt: skip
        quoted = impact.event_study(
            renamed.rename(columns={"ab": "a + b"}), y="log y", unit="firm id",
            covariates=["a + b"], **kw,
        )  # fmt: skip
        other = impact.event_study(panel, y="y", unit="firm", covariates=["a", "b"], **kw)
    est = got.table["estimate"].to_numpy()
    assert np.allclose(est, same.table["estimate"], atol=RENAME_TOL, equal_nan=True)
    assert np.allclose(est, quoted.table["estimate"], atol=RENAME_TOL, equal_nan=True)
    assert not np.allclose(est, other.table["estimate"], atol=1e-4, equal_nan=True)


def test_a_name_ending_in_a_newline_is_quoted_not_stripped():
    assert formula_name("x\n") == "`x\n`"
    assert parse_formula("y ~ x + " + formula_name("x\n")).columns == ("y", "x", "x\n")


def test_quotes_inside_string_literals_are_not_backticks():
    f = parse_formula('y ~ i(k, ref="a`b") + x')
    assert f.terms[0].factors[0].ref == ("a`b",) and f.terms[1].factors[0].var == "x"
