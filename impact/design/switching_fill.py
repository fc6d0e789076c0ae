"""Missing treatments of a switching design implied by their neighbours (rule 6 of
:mod:`impact.design.switching`)."""

from __future__ import annotations

import numpy as np

from impact._typing import FloatArray, IntArray

__all__ = ["fill_treatments", "first_true", "last_true"]


def first_true(mask: np.ndarray, default: int) -> IntArray:
    """Column of the first True in each row (``default`` where none)."""
    return np.where(mask.any(axis=1), mask.argmax(axis=1), default)


def last_true(mask: np.ndarray, default: int) -> IntArray:
    T = mask.shape[1]
    return np.where(mask.any(axis=1), T - 1 - mask[:, ::-1].argmax(axis=1), default)


def fill_treatments(
    Y: FloatArray, D: FloatArray, F: IntArray, d: FloatArray, present: np.ndarray, T: int
) -> tuple[FloatArray, FloatArray, IntArray, IntArray, np.ndarray]:
    """Missing treatments implied by their neighbours; uncertain switch dates.

    Returns the outcome (NaN outside the periods a group's status is known), the filled
    treatment, the switch periods (``T`` for groups kept as comparisons only) and the
    period after each group's last certain status (``T + 1`` for switchers), and the
    cells whose outcome an uncertain switch date hides.
    """
    Y, D = Y.copy(), D.copy()
    t = np.arange(T)
    Dobs = np.isfinite(D)
    t_min = first_true(Dobs, 0)
    t_max = last_true(Dobs, -1)
    Y[t[None, :] < t_min[:, None]] = np.nan
    switcher = F < T
    last = last_true(Dobs & (t[None, :] < F[:, None]), -1)
    hole = present & ~Dobs
    before = switcher[:, None] & (t > t_min[:, None]) & (t < last[:, None]) & hole
    D[before] = np.broadcast_to(d[:, None], D.shape)[before]
    uncertain = switcher & (last < F - 1)
    hidden = uncertain[:, None] & (t[None, :] > last[:, None])
    hidden_obs = hidden & np.isfinite(Y)
    Y[hidden] = np.nan
    F = np.where(uncertain, T, F)
    switcher = F < T
    rows = np.arange(len(F))
    at_switch = np.where(switcher, D[rows, np.minimum(F, T - 1)], np.nan)
    after = switcher[:, None] & (t[None, :] > F[:, None]) & hole
    D[after] = np.broadcast_to(at_switch[:, None], D.shape)[after]
    never = ~switcher
    between = never[:, None] & (t > t_min[:, None]) & (t < t_max[:, None]) & hole
    D[between] = np.broadcast_to(d[:, None], D.shape)[between]
    Y[never[:, None] & (t[None, :] > t_max[:, None])] = np.nan
    trunc = np.where(never, t_max + 1, T + 1)
    return Y, D, F, trunc, hidden_obs
