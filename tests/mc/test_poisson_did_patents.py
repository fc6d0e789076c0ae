"""Monte Carlo: Poisson ETWFE recovers the proportional effect on patents (scenario S2).

Patents are Poisson counts around an expected count whose log has parallel trends
(DGP.md §0 rule 7, §4.10); the truth is the generator's total proportional effect on
the expected count over members' post-joining firm-years, sum mu(D,S) / sum mu(0,0) - 1.
Controls are out-of-cell never-treated firms; sector-by-year effects absorb the sector
trends of the random-within-cell regime. Checks: bias within 4 Monte Carlo SEs and
95% coverage within 3.5 binomial SEs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets.cluster.generate import cluster_panel

pytestmark = pytest.mark.slow

#: Replications of the default-size panel (~2,000 incumbent firms).
N_REPS = 50
MC_BOUND = 4.0
BINOMIAL_BOUND = 3.5


def _replication(seed: int) -> tuple[float, float, float]:
    df, truth = cluster_panel(2000, seed=seed, scenario="S2")
    df = df.assign(out_of_cell=~df["cluster_cell"].astype(bool))
    fy = truth.firm_year
    post = fy[
        fy["join_year"].notna() & (fy["year"] >= fy["join_year"]) & fy["alive_DS"].astype(bool)
    ]
    true_ratio = float(post["patent_mu_DS"].sum() / post["patent_mu_00"].sum() - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.etwfe(
            df,
            y="patents",
            unit="firm_id",
            time="year",
            cohort="join_year",
            control_pool="out_of_cell",
            fixed_effects="sector^year",
        )
    agg = res.aggregate("simple").table.iloc[0]
    return float(agg["ratio"]), float(agg["ratio_se"]), true_ratio


@pytest.fixture(scope="module")
def draws() -> pd.DataFrame:
    rows = [_replication(3000 + rep) for rep in range(N_REPS)]
    return pd.DataFrame(rows, columns=["estimate", "se", "truth"])


def test_poisson_etwfe_recovers_the_proportional_effect_on_patents(draws):
    err = draws["estimate"] - draws["truth"]
    mcse = err.std() / np.sqrt(len(err))
    assert abs(err.mean()) <= MC_BOUND * mcse, (err.mean(), mcse)
    cover = np.mean(np.abs(err) <= 1.959964 * draws["se"])
    assert abs(cover - 0.95) <= BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / N_REPS), cover
