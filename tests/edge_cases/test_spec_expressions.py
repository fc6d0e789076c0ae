"""Issue 23, slice 1: spec expressions are data — parsed by a whitelisted grammar, never
evaluated as code. Hostile expressions give typed errors and write nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st

from impact import errors
from impact.report.spec import derive_column


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "log_va": rng.normal(size=20),
            "log_emp": rng.normal(size=20),
            "emp": rng.uniform(1, 9, 20),
        }
    )


def hostile(path: str) -> list[str]:
    return [
        f"log_emp.to_csv('{path}')",
        "log_emp.__class__.__init__.__globals__",
        "__import__('os').system('true')",
        "log_emp.__class__",
        "log_emp.values",
        "log_emp[0]",
        "log_emp[log_emp > 0]",
        "lambda: 1",
        "(lambda x: x)(log_emp)",
        "'text'",
        "b'bytes'",
        "log_emp if emp else log_va",
        "[log_emp]",
        "{log_emp: 1}",
        "log_emp == log_va",
        "log_emp > 0",
        "log_emp and log_va",
        "not log_emp",
        "~log_emp",
        "log_emp // 2",
        "log_emp % 2",
        "log_emp @ log_va",
        "log_emp << 1",
        "log(log_emp, 2)",
        "log(x=log_emp)",
        "open('/etc/passwd')",
        "eval('1')",
        "exec('x=1')",
        "getattr(log_emp, 'to_csv')",
        "np.log(log_emp)",
        "pd.read_csv('x')",
        "__builtins__",
        "f'{log_emp}'",
        "(x := log_emp)",
        "log_emp; log_va",
        "`log_emp",
        "x" * 600,
        "1 + 2",
        "True + log_emp",
        "1j * log_emp",
    ]


@pytest.mark.parametrize("i", range(40))
def test_hostile_expressions_are_typed_errors_and_write_nothing(df, tmp_path, i):
    target = tmp_path / "pwn.csv"
    expr = hostile(str(target))[i]
    with pytest.raises(errors.ExpressionError):
        derive_column(df, "y", expr)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_allowed_expressions_equal_numpy(df):
    a, b, e = df["log_va"].to_numpy(), df["log_emp"].to_numpy(), df["emp"].to_numpy()
    cases = {
        "log_va - log_emp": a - b,
        "-log_emp + 2 * log_va / 3": -b + 2 * a / 3,
        "log(emp) - sqrt(emp) ** 2 + exp(abs(log_va))": np.log(e)
        - np.sqrt(e) ** 2
        + np.exp(np.abs(a)),
        "log1p(emp) * (log_va - 1.5e-1)": np.log1p(e) * (a - 0.15),
        "`log_va` - `log_emp`": a - b,
    }
    for expr, want in cases.items():
        assert_close(derive_column(df, "y", expr).to_numpy(), want, rtol=RTOL_CLOSED_FORM)
    before = df.copy()
    derive_column(df, "y", "log_va - log_emp")
    pd.testing.assert_frame_equal(df, before)


def test_unknown_column_is_named(df):
    with pytest.raises(errors.ColumnNotFoundError, match="log_vaa"):
        derive_column(df, "y", "log_vaa - log_emp")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzzed_expressions_raise_only_impact_errors(text):
    data = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    try:
        derive_column(data, "y", text)
    except errors.ImpactError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.sampled_from(["u", "v", "2", "0.5"]),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(["log", "exp", "sqrt", "abs", "log1p", "-"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
        ),
        max_leaves=6,
    )
)
def test_grammar_expressions_match_python_arithmetic(expr):
    """Every expression of the grammar evaluates as numpy arithmetic would."""
    data = pd.DataFrame({"u": [1.0, 2.0], "v": [3.0, 0.25]})
    env = {
        "u": data["u"].to_numpy(),
        "v": data["v"].to_numpy(),
        "log": np.log,
        "exp": np.exp,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "log1p": np.log1p,
    }
    try:
        got = derive_column(data, "y", expr).to_numpy()
    except errors.ExpressionError:  # a constant expression names no column
        assert "u" not in expr and "v" not in expr
        return
    with np.errstate(all="ignore"):
        want = np.asarray(eval(expr, {"__builtins__": {}}, env), dtype=float)  # test oracle only
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    assert_close(got[ok], want[ok], rtol=RTOL_CLOSED_FORM)
