"""Monte Carlo with known truth (no effect, scenario S0): size of the few-cluster tests in
the two few-cluster designs of the synthetic panel (DGP.md S9).

feols of log employment on the cell's launch (every firm of a launched cell treated from
its launch year) with cell and year effects. The wild cluster bootstrap (WCR, Webb
weights) and the randomization test (launch years re-assigned across cells) must reject
at 5% within 0.05 +- 3.5 binomial SE at 500 replications ([0.016, 0.084], as
VERIFICATION.md). Where only 12 of 96 cells launched, cell-clustered CRV1 must reject more
than 0.084. The replications are seeded, so the rates are fixed numbers (measured: 12
cells: CRV1 0.084, wild 0.072, randomization 0.042; 96 cells: CRV1 0.088, wild 0.042,
randomization 0.028).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets.cluster import FEW_CELLS, FEW_TREATED_CELLS, cluster_panel

pytestmark = pytest.mark.slow

#: Replications: a rejection rate is checked to +-3.5 * sqrt(.05 * .95 / 500) = +-0.034.
N_REPS = 500
#: Binomial standard errors allowed around the nominal size.
BINOMIAL_BOUND = 3.5
ALPHA = 0.05
#: Firms per panel: enough for every cell to have firms, small enough for 500 panels.
N_FIRMS = 300
#: Wild bootstrap draws and randomization draws per replication (p = (1 + #)/(1 + 99)
#: rejects with probability exactly 0.05 under the assignment model).
B_WILD, RI_DRAWS = 399, 99
COLUMNS = ["firm_id", "year", "cell", "launch_year", "log_emp"]


def _fit(d: pd.DataFrame):
    treated = (d["year"] >= d["launch_year"]).astype(float)
    return impact.feols(
        "log_emp ~ treated | cell + year", d.assign(treated=treated), vcov={"cluster": "cell"}
    )


def _rejections(design: dict) -> dict[str, float]:
    hits = {"crv1": 0, "wild": 0, "randomization": 0}
    for r in range(N_REPS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = cluster_panel(n_firms=N_FIRMS, seed=10_000 + r, scenario="S0", **design)[0]
            d = d[COLUMNS]
            fit = _fit(d)
            wb = impact.wildboot(fit, param="treated", weights="webb", B=B_WILD, seed=r)
            ri = impact.randomization_test(
                d, _fit, term="treated", cell="cell", launch="launch_year",
                draws=RI_DRAWS, seed=r,
            )  # fmt: skip
        hits["crv1"] += bool(fit.tidy().set_index("term").loc["treated", "p_value"] < ALPHA)
        hits["wild"] += bool(wb.p_value < ALPHA)
        hits["randomization"] += bool(ri.p_value <= ALPHA)
    return {k: v / N_REPS for k, v in hits.items()}


def _bound() -> float:
    return BINOMIAL_BOUND * np.sqrt(ALPHA * (1 - ALPHA) / N_REPS)


def test_size_with_12_cells_of_which_6_launched():
    rates = _rejections(FEW_CELLS)
    for method in ("wild", "randomization"):
        assert abs(rates[method] - ALPHA) <= _bound(), rates


def test_size_with_96_cells_of_which_12_launched():
    rates = _rejections(FEW_TREATED_CELLS)
    for method in ("wild", "randomization"):
        assert abs(rates[method] - ALPHA) <= _bound(), rates
    assert rates["crv1"] > ALPHA + _bound(), rates
