"""Poisson separation of a small design by linear programming (exact).

Rows with a zero outcome are separated when some combination ``z = X g`` is zero on
every row with a positive outcome, non-negative on every zero row and positive on them
(Santos Silva & Tenreyro 2010; Correia, Guimarães & Zylkin 2021): their fitted mean is
zero at the supremum of the likelihood. For a design of a few thousand rows (ETWFE's
cells) the set is found exactly by linear programs: maximise ``sum z`` over the zero rows
not yet found, with ``0 <= z <= 1`` there and ``z = 0`` on positive rows; a row with
``z > 0`` at the optimum is separated; repeat until a program finds no new row. A
separable row still unfound makes the optimum positive (its own ``z`` is feasible), so
the loop ends with the largest separated set. The ReLU iterations of
:func:`impact.linear.poisson.relu_separation` can need thousands of steps on such
designs when ``z`` decays slowly to zero; the programs do not.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from impact._typing import BoolArray, FloatArray
from impact.errors import ConvergenceError

__all__ = ["LP_SEPARATION_TOL", "lp_separation"]

#: A zero row is separated when its ``z`` (scaled to at most 1) exceeds this at the
#: optimum: far above HiGHS's feasibility tolerance (1e-7 relative), far below any
#: genuine separating combination of 0/1 dummies.
LP_SEPARATION_TOL = 1e-6


def lp_separation(y: FloatArray, X: FloatArray) -> BoolArray:
    """Rows separated by the columns of ``X`` (True: to be removed).

    Raises
    ------
    ConvergenceError
        The linear program solver fails.
    """
    zero = y == 0
    if not zero.any() or X.shape[1] == 0:
        return np.zeros(len(y), dtype=bool)
    scale = np.abs(X).max(axis=0)
    Xs = X / np.where(scale > 0, scale, 1.0)
    Xz = sp.csr_array(Xs[zero])  # dummy designs: mostly zeros
    Xp = sp.csr_array(Xs[~zero])
    found = np.zeros(Xz.shape[0], dtype=bool)
    bounds = [(None, None)] * X.shape[1]
    a_ub = sp.vstack([-Xz, Xz], format="csr")  # -z <= 0 and z <= 1 on every zero row
    b_ub = np.r_[np.zeros(Xz.shape[0]), np.ones(Xz.shape[0])]
    eq = {"A_eq": Xp, "b_eq": np.zeros(Xp.shape[0])} if Xp.shape[0] else {}
    while not found.all():
        c = -np.asarray(Xz[np.flatnonzero(~found)].sum(axis=0)).ravel()
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs", **eq)
        if res.status != 0:
            raise ConvergenceError(f"the separation check's linear program failed: {res.message}")
        new = (Xz @ res.x > LP_SEPARATION_TOL) & ~found
        if not new.any():
            break
        found |= new
    out = np.zeros(len(y), dtype=bool)
    out[np.flatnonzero(zero)[found]] = True
    return out
