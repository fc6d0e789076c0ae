"""Column expressions, read by a small whitelisted grammar — never eval'd.

Expressions come from spec files (a stranger's data) and from estimators (the sums of
products their sufficient statistics need). They are parsed with :mod:`ast` and only
these nodes are accepted: column names (identifiers, or any name in backticks), numeric
literals, ``+ - * / **``, unary minus and plus, parentheses, and one-argument calls of
``log``, ``log1p``, ``exp``, ``sqrt`` and ``abs``. A checked :class:`Expression` is
evaluated on float arrays (:meth:`Expression.evaluate`) or written as SQL with quoted
identifiers and bound literals (:meth:`Expression.to_sql`); nothing is handed to
``eval`` or ``DataFrame.eval``.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import Dialect, FloatArray
from impact.engine.identifiers import quote_identifier
from impact.errors import ColumnNotFoundError, ExpressionError, close_matches_hint

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_LENGTH",
    "Expression",
    "evaluate_expression",
    "expression",
    "parse_expression",
]

#: The functions an expression may call (the formula language's transformations).
FUNCTIONS: Mapping[str, Callable[[FloatArray], FloatArray]] = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
#: Longer expressions are refused: a column transformation fits easily, a payload need not.
MAX_EXPRESSION_LENGTH = 500

_OPS: Mapping[type, Callable[[FloatArray, FloatArray], FloatArray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
}
_ALLOWED = (
    "column names, numbers, + - * / **, unary minus, parentheses and log, log1p, exp, "
    "sqrt, abs of one argument"
)
_BACKTICK = re.compile(r"`([^`]*)`")


def _fail(expr: str, what: str) -> ExpressionError:
    return ExpressionError(f"expression {expr!r}: {what} is not allowed; allowed are {_ALLOWED}.")


def parse_expression(
    expr: object, *, max_length: int = MAX_EXPRESSION_LENGTH
) -> tuple[ast.expr, dict[str, str]]:
    """Parse and check ``expr``; return its tree and the backtick placeholders' columns.

    ``max_length`` bounds the text (spec expressions keep the default; estimators that
    write long sums of products of their own columns pass a larger bound).

    Raises
    ------
    ExpressionError
        Not a string, too long, not parseable, or any node outside the grammar.
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression must be a string, got {type(expr).__name__}.")
    if len(expr) > max_length:
        raise ExpressionError(f"expression of {len(expr)} characters is longer than {max_length}.")
    quoted: dict[str, str] = {}

    def _placeholder(m: re.Match[str]) -> str:
        key = f"_q{len(quoted)}_"
        quoted[key] = m.group(1)
        return key

    text = _BACKTICK.sub(_placeholder, expr)
    if "`" in text:
        raise _fail(expr, "an unmatched backtick")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # null bytes, depth
        raise ExpressionError(
            f"expression {expr!r} cannot be parsed; allowed are {_ALLOWED}."
        ) from None
    try:
        _check(tree.body, expr)
    except RecursionError:
        raise ExpressionError(f"expression {expr!r} is nested too deeply.") from None
    return tree.body, quoted


def _check(node: ast.AST, expr: str) -> None:
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPS:
            raise _fail(expr, f"the operator {type(node.op).__name__}")
        _check(node.left, expr)
        _check(node.right, expr)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _fail(expr, f"the operator {type(node.op).__name__}")
        _check(node.operand, expr)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _fail(expr, f"the literal {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise _fail(expr, f"the name {node.id!r}")
    elif isinstance(node, ast.Call):
        fn = node.func
        if not isinstance(fn, ast.Name) or fn.id not in FUNCTIONS:
            raise _fail(expr, "a call of anything but log, log1p, exp, sqrt or abs")
        if len(node.args) != 1 or node.keywords:
            raise _fail(expr, f"{fn.id} with other than one positional argument")
        _check(node.args[0], expr)
    else:
        raise _fail(expr, f"{type(node).__name__} ({ast.dump(node)[:40]}…)")


#: SQL spelling of each function (DuckDB and Spark SQL agree: ``ln`` is the natural log).
#: ``log1p(a)`` is written ``ln(1 + a)`` and ``a ** b`` as ``power(a, b)`` (both dialects).
_SQL_FUNCTIONS = {"log": "ln", "exp": "exp", "sqrt": "sqrt", "abs": "abs"}
_SQL_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, tree and the columns it reads.

    Attributes
    ----------
    text : str
    tree : ast.expr
    quoted : dict of str to str
        Placeholder names of backticked columns and the columns they stand for.
    """

    text: str
    tree: ast.expr
    quoted: Mapping[str, str]

    @functools.cached_property
    def columns(self) -> tuple[str, ...]:
        """The column names read, in order of appearance, without repeats."""
        calls = {id(c.func) for c in ast.walk(self.tree) if isinstance(c, ast.Call)}
        names = [
            self.quoted.get(n.id, n.id)
            for n in ast.walk(self.tree)
            if isinstance(n, ast.Name) and id(n) not in calls
        ]
        return tuple(dict.fromkeys(names))

    def evaluate(self, column: Callable[[str], FloatArray]) -> FloatArray | float:
        """The value on float arrays; ``column(name)`` gives a column's values."""

        def ev(node: ast.AST) -> FloatArray | float:
            if isinstance(node, ast.BinOp):
                return _OPS[type(node.op)](ev(node.left), ev(node.right))
            if isinstance(node, ast.UnaryOp):
                v = ev(node.operand)
                return -v if isinstance(node.op, ast.USub) else v
            if isinstance(node, ast.Constant):
                return float(node.value)
            if isinstance(node, ast.Name):
                return column(self.quoted.get(node.id, node.id))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                return FUNCTIONS[node.func.id](ev(node.args[0]))
            raise _fail(self.text, type(node).__name__)  # unreachable after _check

        with np.errstate(all="ignore"):  # log of 0 or a negative: -inf/NaN
            return ev(self.tree)

    def to_sql(self, dialect: Dialect = "duckdb") -> tuple[str, list[float]]:
        """SQL text and its parameters: every column quoted with the dialect's identifier
        quoting and read as DOUBLE (no integer division or overflow, as :meth:`evaluate`),
        every literal a bound parameter (``?``), in order."""
        params: list[float] = []

        def sql(node: ast.AST) -> str:
            if isinstance(node, ast.BinOp):
                left, right = sql(node.left), sql(node.right)
                if isinstance(node.op, ast.Pow):
                    return f"power({left}, {right})"
                return f"({left} {_SQL_OPS[type(node.op)]} {right})"
            if isinstance(node, ast.UnaryOp):
                return (
                    f"(-{sql(node.operand)})"
                    if isinstance(node.op, ast.USub)
                    else sql(node.operand)
                )
            if isinstance(node, ast.Constant):
                params.append(float(node.value))
                return "CAST(? AS DOUBLE)"
            if isinstance(node, ast.Name):  # as float, as evaluate() reads columns
                name = quote_identifier(self.quoted.get(node.id, node.id), dialect)
                return f"CAST({name} AS DOUBLE)"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "log1p":
                    params.append(1.0)
                    return f"ln(CAST(? AS DOUBLE) + {sql(node.args[0])})"
                return f"{_SQL_FUNCTIONS[node.func.id]}({sql(node.args[0])})"
            raise _fail(self.text, type(node).__name__)  # unreachable after _check

        return sql(self.tree), params


def expression(expr: object, *, max_length: int = MAX_EXPRESSION_LENGTH) -> Expression:
    """Parse and check ``expr`` (see :func:`parse_expression`); a checked
    :class:`Expression` is returned as it is."""
    if isinstance(expr, Expression):
        return expr
    tree, quoted = parse_expression(expr, max_length=max_length)
    return Expression(str(expr), tree, quoted)


def evaluate_expression(data: pd.DataFrame, expr: str) -> pd.Series:
    """Evaluate a checked expression on ``data``'s columns (not modified) as floats.

    Raises
    ------
    ExpressionError
        Outside the grammar, non-numeric columns, or no column at all (a constant).
    ColumnNotFoundError
        A name that is not a column.
    """
    ex = expression(expr)

    def column(col: str) -> FloatArray:
        if col not in data.columns:
            raise ColumnNotFoundError(
                f"expression {expr!r} names {col!r}, which is not a column of the data."
                + close_matches_hint(col, data.columns)
            )
        s = data[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise ExpressionError(f"expression {expr!r}: column {col!r} is not numeric.")
        return s.to_numpy(dtype=float, na_value=np.nan)

    out = ex.evaluate(column)
    if np.ndim(out) == 0:
        raise ExpressionError(f"expression {expr!r} names no column: it is a constant.")
    return pd.Series(np.asarray(out, dtype=float), index=data.index)
