"""What a linear fit does with collinear regressors: drop and warn, or refuse a
protected one (the coefficient the user asked for)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from impact._typing import BoolArray
from impact.errors import CollinearityError, CollinearityWarning
from impact.linear.collinear import describe_drops

__all__ = ["protected_error", "settle_drops"]


def protected_error(names: Sequence[str], protect: Sequence[str]) -> CollinearityError | None:
    """The error for the first protected name among ``names`` (None if there is none)."""
    hit = [n for n in names if n in set(protect)]
    if not hit:
        return None
    return CollinearityError(
        f"the coefficient of interest {hit[0]!r} is collinear with the fixed effects or other "
        "regressors and cannot be estimated; check that it varies within the fixed-effect groups."
    )


def settle_drops(
    names: Sequence[str],
    keep: BoolArray,
    reasons: Sequence[str],
    protect: Sequence[str],
    *,
    stacklevel: int,
) -> tuple[list[str], list[str]]:
    """The kept and the dropped names; a dropped protected name is a
    :class:`CollinearityError`, other drops a :class:`CollinearityWarning`."""
    dropped = [n for n, k in zip(names, keep, strict=True) if not k]
    err = protected_error(dropped, protect)
    if err is not None:
        raise err
    if dropped:
        warnings.warn(
            "dropped collinear regressors: " + describe_drops(names, keep, reasons),
            CollinearityWarning,
            stacklevel=stacklevel + 1,
        )
    return [n for n, k in zip(names, keep, strict=True) if k], dropped
