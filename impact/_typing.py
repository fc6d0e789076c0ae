"""Literal option types and array aliases, in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

VcovName = Literal["iid", "hetero", "HC1"]
VcovSpec: TypeAlias = str | Mapping[str, str | Sequence[str]] | None
TableFormat = Literal["dataframe", "markdown", "latex", "html"]
Dialect = Literal["duckdb", "spark"]
DemeanStrategy = Literal["auto", "map", "schur"]
