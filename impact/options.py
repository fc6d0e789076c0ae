"""Checks of scalar options shared by every estimator and diagnostic.

Each function returns the value in its canonical Python type or raises
:class:`~impact.errors.InvalidOptionError` naming the option and the value given, so a
wrong ``alpha``, ``seed`` or count reads the same in every function of the package.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from impact.errors import InvalidOptionError

__all__ = [
    "check_alpha",
    "check_choice",
    "check_flag",
    "check_frame_and_names",
    "check_seed",
    "positive_number",
    "real_number",
    "whole_number",
]


def real_number(name: str, value: object) -> float:
    """``value`` as a finite float; bools, strings and other objects are refused."""
    if isinstance(value, bool | np.bool_ | str) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise InvalidOptionError(f"{name} must be a number, got {value!r}.")
    if not np.isfinite(float(value)):
        raise InvalidOptionError(f"{name} must be finite, got {value!r}.")
    return float(value)


def positive_number(name: str, value: object) -> float:
    """A finite number strictly above 0 (a tolerance, a bandwidth)."""
    out = real_number(name, value)
    if not out > 0:
        raise InvalidOptionError(f"{name} must be > 0, got {value!r}.")
    return out


def check_alpha(alpha: object, name: str = "alpha") -> float:
    """A significance level strictly between 0 and 1."""
    if isinstance(alpha, bool | np.bool_ | str) or not isinstance(
        alpha, int | float | np.integer | np.floating
    ):
        raise InvalidOptionError(f"{name} must be in (0, 1), got {alpha!r}.")
    if not 0 < float(alpha) < 1:  # NaN fails this too
        raise InvalidOptionError(f"{name} must be in (0, 1), got {alpha!r}.")
    return float(alpha)


def whole_number(name: str, value: object, low: int, *, optional: bool = False) -> int | None:
    """``value`` as an ``int`` of at least ``low`` (``None`` passes when ``optional``)."""
    if optional and value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral) or int(value) < low:
        raise InvalidOptionError(f"{name} must be a whole number >= {low}, got {value!r}.")
    return int(value)


def check_seed(seed: object, *, optional: bool = False) -> int | None:
    """A random seed: a whole number >= 0 (``None`` passes when ``optional``)."""
    if optional and seed is None:
        return None
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, Integral) or int(seed) < 0:
        raise InvalidOptionError(f"seed must be an integer >= 0, got {seed!r}.")
    return int(seed)


def check_flag(name: str, value: object) -> bool:
    """``True`` or ``False`` (numpy booleans accepted, 0/1 and strings refused)."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidOptionError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_frame_and_names(
    data: object, who: str, names: dict, optional: tuple[str, ...] = ()
) -> None:
    """``data`` is a pandas DataFrame (the in-memory estimators' input) and every role in
    ``names`` is a column name (``None`` allowed for the roles in ``optional``)."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidOptionError(
            f"{who} runs in memory on a pandas DataFrame, got {type(data).__name__} "
            "(polars: .to_pandas(); a DuckDB relation: .df())."
        )
    for name, value in names.items():
        if not (isinstance(value, str) or (value is None and name in optional)):
            raise InvalidOptionError(f"{name} must be a column name, got {value!r}.")


def check_choice(name: str, value: object, allowed: tuple) -> None:
    """``value`` must be one of ``allowed`` (compared only when it is a str or None)."""
    hashable = value is None or isinstance(value, str)
    if not hashable or value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise InvalidOptionError(f"{name} must be one of {shown}, got {value!r}.")
