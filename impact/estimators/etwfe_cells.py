"""ETWFE on cells: the rows of a sample grouped by (cohort, period[, category]).

Every regressor of the extended two-way fixed-effects regression (intercept, cohort and
period dummies, category-by-period dummies, treated-cell indicators) is a function of the
row's (cohort, period, category) cell. Least squares on cell means weighted by the cells'
counts, and Poisson pseudo-likelihood on cell means with the counts as weights, have the
row regressions' coefficients and bread; the row scores ``x_c(i) e_i`` need only the
residuals and the cell code of each row (:class:`impact.inference.cell_scores.CellScores`).
So the fit holds ``cells x k`` regressors instead of ``rows x k`` (SCALE.md §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray
from impact.data.panel import compact_codes

__all__ = ["DesignCells", "design_cells", "treated_cells"]

#: Cell keys are renumbered by a counting pass when their range is at most this many
#: times the rows (else by sorting).
DENSE_KEY_FACTOR = 4


@dataclass(frozen=True)
class DesignCells:
    """A sample's (cohort, period[, category]) cells.

    Attributes
    ----------
    code : ndarray of intp (rows,)
        Each row's cell.
    g : ndarray (cells,)
        Cohort (grid position; NaN for never-treated).
    t : ndarray of int (cells,)
        Period (grid position).
    cat : ndarray or None (cells,)
        Category (the user's values), when category-by-period effects are asked for.
    n : ndarray of int (cells,)
        Rows of each cell.
    ysum : ndarray (cells,)
        Sum of the outcome over each cell's rows.
    """

    code: IntArray
    g: FloatArray
    t: IntArray
    cat: np.ndarray | None
    n: IntArray
    ysum: FloatArray


def design_cells(g: FloatArray, t: IntArray, cat: np.ndarray | None, y: FloatArray) -> DesignCells:
    """Group rows by (cohort, period[, category]): codes, cell labels, counts, outcome sums.

    Parameters
    ----------
    g : ndarray
        Cohort grid positions (NaN for never-treated).
    t : ndarray of int
        Period grid positions.
    cat : ndarray or None
        Category values (no missing values).
    y : ndarray
        Outcome.
    """
    never = np.isnan(g)
    cohorts = np.unique(g[~never])
    g_code = np.where(never, 0, np.searchsorted(cohorts, np.where(never, 0.0, g)) + 1)
    t_min = int(t.min())
    t_code = t.astype(np.int64) - t_min
    n_t = int(t_code.max()) + 1
    if cat is None:
        cat_code, cat_values = np.zeros(len(t), dtype=np.int64), None
    else:
        cat_code, cat_values = pd.factorize(cat)
    n_cat = max(int(cat_code.max()) + 1, 1)
    key = (g_code.astype(np.int64) * n_t + t_code) * n_cat + cat_code
    size = (len(cohorts) + 1) * n_t * n_cat
    if size <= DENSE_KEY_FACTOR * max(len(key), 1):
        code, old = compact_codes(key, size)
    else:
        old, code = np.unique(key, return_inverse=True)
        code = code.astype(np.intp, copy=False)
    c_cat, rest = old % n_cat, old // n_cat
    c_t, c_g = rest % n_t + t_min, rest // n_t
    g_cell = np.where(c_g == 0, np.nan, cohorts[np.maximum(c_g - 1, 0)] if len(cohorts) else 0.0)
    n = np.bincount(code, minlength=len(old))
    ysum = np.bincount(code, weights=y, minlength=len(old))
    cats = None if cat_values is None else np.asarray(cat_values)[c_cat]
    return DesignCells(code, g_cell.astype(float), c_t.astype(np.int64), cats, n, ysum)


def treated_cells(g: FloatArray, t: IntArray, control: str) -> list[tuple[float, int]]:
    """The (cohort, period) pairs that get an effect: t >= g, and for ``control="never"``
    every cohort period except g - 1 (placebo effects before g)."""
    treated = ~np.isnan(g)
    return sorted(
        {
            (float(cg), int(ct))
            for cg, ct in zip(g[treated], t[treated], strict=True)
            if (ct >= cg) or (control == "never" and ct != cg - 1)
        }
    )
