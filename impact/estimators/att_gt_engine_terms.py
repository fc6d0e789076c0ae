"""The expressions and small types the engine ``att_gt`` with covariates builds on: the
comparison groups' column names, products and linear indices of columns, and the
collected sums read back as vectors and symmetric matrices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from impact.design.engine_panel import P
from impact.engine.expressions import expression
from impact.linear.engine_fit import literal
from impact.linear.engine_sample import LONG_EXPRESSION

__all__ = [
    "WEIGHT",
    "Group",
    "change",
    "dot",
    "long_expressions",
    "pairs",
    "product",
    "symmetric",
    "vector",
]

#: The unit weight column of the engine panel.
WEIGHT = f"{P}w"


@dataclass
class Group:
    """Cells sharing their units (treated cohort, control set, periods observed) and base
    period: one propensity fit and one outcome-regression Gram."""

    index: int
    cells: list[int] = field(default_factory=list)
    xs: list[str] = field(default_factory=list)  # "1" and the base-period covariates

    @property
    def m(self) -> str:  # member of the group's comparison (0/1)
        return f"{P}m{self.index}"

    @property
    def d(self) -> str:  # treated member (0/1)
        return f"{P}d{self.index}"

    @property
    def ps(self) -> str:
        return f"{P}ps{self.index}"

    @property
    def trim(self) -> str:
        return f"{P}tr{self.index}"


def product(*factors: str) -> str:
    """The product of expression ``factors`` (a factor ``1`` left out)."""
    return " * ".join(f for f in factors if f != "1") or "1"


def dot(xs: list[str], coef: np.ndarray) -> str:
    """The linear index ``sum_a coef_a xs_a`` (``xs`` may hold ``"1"``)."""
    return "(" + " + ".join(product(literal(b), x) for x, b in zip(xs, coef, strict=True)) + ")"


def long_expressions(exprs: dict[str, str]) -> dict[str, Any]:
    """Checked expressions of internal length (estimators' long sums)."""
    return {k: expression(v, max_length=LONG_EXPRESSION) for k, v in exprs.items()}


def pairs(xs: list[str]) -> list[tuple[int, int]]:
    """``(a, b)`` with ``a <= b``: the entries of a symmetric matrix over ``xs``."""
    return [(a, b) for a in range(len(xs)) for b in range(a, len(xs))]


def symmetric(row: pd.Series, name: str, k: int) -> np.ndarray:
    """The symmetric matrix of the collected sums ``{name}_{a}_{b}``."""
    M = np.empty((k, k))
    for a in range(k):
        for b in range(a, k):
            M[a, b] = M[b, a] = float(row[f"{name}_{a}_{b}"])
    return M


def vector(row: pd.Series, name: str, k: int) -> np.ndarray:
    """The vector of the collected sums ``{name}_{a}``."""
    return np.array([float(row[f"{name}_{a}"]) for a in range(k)])


def change(place: tuple) -> str:
    """The outcome change of a cell placed at ``(group, t slot, base slot)``."""
    _, jt, js = place
    return f"({P}y{jt} - {P}y{js})"
