"""Spark columns of the engine's expressions and column kinds of Spark types (the pieces of
:class:`~impact.engine.spark_engine.SparkEngine` that are pure functions)."""

from __future__ import annotations

import ast
from typing import Any

from impact.engine.base import Kind, TypeNames
from impact.engine.expressions import Expression
from impact.errors import InvalidOptionError

__all__ = ["column_ref", "pyspark_functions", "spark_column", "spark_kind"]

#: Spark's simple type names (``dtypes`` spells integers ``int``).
_TYPES = TypeNames(
    numbers=("tinyint", "smallint", "int", "bigint", "float", "double", "decimal"),
    boolean="boolean",
    text="string",
)


def pyspark_functions() -> Any:
    try:
        from pyspark.sql import functions
    except ImportError:
        raise InvalidOptionError(
            "the Spark engine needs pyspark: pip install 'impact[spark]' (or pyspark)."
        ) from None
    return functions


def spark_kind(dtype: str) -> Kind:
    """The :data:`~impact.engine.base.Kind` of a Spark column of simple type ``dtype``."""
    return _TYPES.kind(dtype)


def spark_column(expr: Expression) -> Any:
    """The Spark column of a checked expression: every column read as DOUBLE, literals as
    ``lit`` values, ``/`` as ``try_divide`` (missing where the divisor is zero)."""
    F = pyspark_functions()

    def col(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp):
            left, right = col(node.left), col(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return F.try_divide(left, right)
            return F.pow(left, right)
        if isinstance(node, ast.UnaryOp):
            inner = col(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.Constant):
            return F.lit(float(node.value))
        if isinstance(node, ast.Name):
            return F.col(column_ref(expr.quoted.get(node.id, node.id))).cast("double")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            arg = col(node.args[0])
            name = node.func.id
            if name == "log":
                return F.log(arg)
            if name == "log1p":
                return F.log1p(arg)
            if name == "exp":
                return F.exp(arg)
            if name == "sqrt":
                return F.sqrt(arg)
            return F.abs(arg)
        raise InvalidOptionError(f"expression {expr.text!r}: {type(node).__name__}")

    return col(expr.tree)


def column_ref(name: str) -> str:
    """A column name as ``F.col`` reads it: backticks quote it whole (dots and spaces are
    part of the name, never a struct field); a backtick inside is doubled."""
    return "`" + name.replace("`", "``") + "`"
