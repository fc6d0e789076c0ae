"""The restrictions of Rambachan & Roth (2023) on the parallel-trends violation ``delta``
as polyhedra ``{delta : A delta <= d}``, on the event-time coefficients without the
reference period (``n_pre`` pre-period, then ``n_post`` post-period entries).

Pure functions of the sizes and bounds. The full vector they are built on has the
reference period (``delta_0 = 0``) at position ``n_pre``; :func:`_drop_reference` removes
that column at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact._typing import FloatArray

__all__ = [
    "Polyhedron",
    "relative_magnitude_polyhedra",
    "shape_rows",
    "smoothness_polyhedron",
]

#: Bias directions and monotonicity directions the restrictions can be combined with.
BIAS_DIRECTIONS = ("positive", "negative")
MONOTONE_DIRECTIONS = ("increasing", "decreasing")


@dataclass(frozen=True)
class Polyhedron:
    """``{delta : A delta <= d}``; ``label`` names the piece of a union."""

    A: FloatArray
    d: FloatArray
    label: str


def _first_differences(n_pre: int, n_post: int) -> FloatArray:
    """Rows ``delta_{r+1} - delta_r`` over the full vector (reference included)."""
    n = n_pre + n_post + 1
    D = np.zeros((n - 1, n))
    idx = np.arange(n - 1)
    D[idx, idx], D[idx, idx + 1] = -1.0, 1.0
    return D


def _second_differences(n_pre: int, n_post: int) -> FloatArray:
    """Rows ``delta_{r+1} - 2 delta_r + delta_{r-1}`` over the full vector."""
    n = n_pre + n_post + 1
    D = np.zeros((n - 2, n))
    idx = np.arange(n - 2)
    D[idx, idx], D[idx, idx + 1], D[idx, idx + 2] = 1.0, -2.0, 1.0
    return D


def _drop_reference(A: FloatArray, n_pre: int) -> FloatArray:
    return np.delete(A, n_pre, axis=1)


def shape_rows(
    n_pre: int, n_post: int, bias: str | None, monotonicity: str | None
) -> tuple[FloatArray, FloatArray]:
    """Rows (full vector) and bounds of the sign and monotonicity restrictions.

    ``bias="positive"``: every post-period violation is >= 0 (``"negative"``: <= 0);
    ``monotonicity="increasing"``: the violation never falls from one period to the next,
    pre-periods and reference included (``"decreasing"``: never rises).
    """
    n = n_pre + n_post + 1
    rows = [np.zeros((0, n))]
    if bias is not None:
        sign = -1.0 if bias == "positive" else 1.0
        B = np.zeros((n_post, n))
        B[np.arange(n_post), n_pre + 1 + np.arange(n_post)] = sign
        rows.append(B)
    if monotonicity is not None:
        sign = -1.0 if monotonicity == "increasing" else 1.0
        rows.append(sign * _first_differences(n_pre, n_post))
    A = np.vstack(rows)
    return A, np.zeros(len(A))


def _finish(A: FloatArray, d: FloatArray, n_pre: int, label: str) -> Polyhedron:
    A = _drop_reference(A, n_pre)
    keep = np.any(np.abs(A) > 1e-12, axis=1)
    return Polyhedron(A=A[keep], d=d[keep], label=label)


def smoothness_polyhedron(
    n_pre: int, n_post: int, M: float, bias: str | None = None, monotonicity: str | None = None
) -> Polyhedron:
    """``Delta^SD(M)``: every second difference of the violation within ``[-M, M]``,
    intersected with the sign/monotonicity restrictions asked for."""
    D2 = _second_differences(n_pre, n_post)
    S, s = shape_rows(n_pre, n_post, bias, monotonicity)
    A = np.vstack([D2, -D2, S])
    d = np.concatenate([np.full(2 * len(D2), float(M)), s])
    return _finish(A, d, n_pre, "smoothness")


def relative_magnitude_polyhedra(
    n_pre: int,
    n_post: int,
    Mbar: float,
    bias: str | None = None,
    monotonicity: str | None = None,
) -> list[Polyhedron]:
    """``Delta^RM(Mbar)`` as the union of polyhedra, one per pre-period first difference
    ``s`` that attains the largest pre-period change and its sign:
    ``|delta_{t+1} - delta_t| <= Mbar * sign * (delta_{s+1} - delta_s)`` for post-period
    changes (``t >= 0``) and ``|delta_{r+1} - delta_r| <= sign * (delta_{s+1} - delta_s)``
    for pre-period ones; each intersected with the sign/monotonicity restrictions.
    The pre-period changes are the ``n_pre`` differences up to the reference period."""
    D1 = _first_differences(n_pre, n_post)
    S, s_d = shape_rows(n_pre, n_post, bias, monotonicity)
    factor = np.concatenate([np.ones(n_pre), np.full(n_post, float(Mbar))])
    pieces = []
    for s in range(n_pre):
        for sign, name in ((1.0, "+"), (-1.0, "-")):
            bound = factor[:, None] * (sign * D1[s])[None, :]
            A = np.vstack([D1 - bound, -D1 - bound, S])
            d = np.concatenate([np.zeros(2 * len(D1)), s_d])
            pieces.append(_finish(A, d, n_pre, f"s={s - n_pre}{name}"))
    return pieces
