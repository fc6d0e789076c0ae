"""Size of the two pre-trend tests of a Callaway-Sant'Anna fit under the null.

Panels with parallel trends holding exactly (unit and period effects, no treatment
effect, 600 never-treated units, 12 periods) and staggered cohorts:

- the dynamic aggregation's test of the pre-treatment event-time effects (what the
  report shows) rejects at its nominal 5% with small and with large cohorts;
- the test over every pre-treatment ATT(g,t) cell (R did's pre-test) rejects in nearly
  every draw when cohorts have a few units (4 and 6 units, 7 and 8 pre-periods): its
  covariance is estimated from each cohort's own units. That is why it warns and why
  the report does not use it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.slow

#: Replications per design (each fits one att_gt on 7,200-8,400 rows, ~0.1 s).
N_REPS = 200
#: Rejection rates are checked within this many binomial standard errors of 5%.
BINOMIAL_BOUND = 3.5
#: The cell-level test with cohorts of 4 and 6 units: measured 100% rejections.
CELL_TEST_SMALL_COHORTS_MIN_REJECTION = 0.5
SMALL = {8: 4, 9: 6, 10: 200}
LARGE = {8: 100, 9: 100, 10: 200}


def _panel(rng: np.random.Generator, sizes: dict[int, int]) -> pd.DataFrame:
    n_never, n_periods = 600, 12
    cohort = np.concatenate(
        [np.full(n, float(g)) for g, n in sizes.items()] + [np.full(n_never, np.nan)]
    )
    n = len(cohort)
    unit = np.repeat(np.arange(n), n_periods)
    time = np.tile(np.arange(n_periods), n)
    y = rng.normal(size=n)[unit] + 0.1 * time + rng.normal(size=n * n_periods)
    return pd.DataFrame({"u": unit, "t": time, "g": cohort[unit], "y": y})


def _rejections(sizes: dict[int, int], seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    cells, event_times = [], []
    for _ in range(N_REPS):
        gt = impact.att_gt(_panel(rng, sizes), y="y", unit="u", time="t", cohort="g")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", impact.errors.FewClustersWarning)
            cells.append(gt.pretrend_test()["p_value"] < 0.05)
        event_times.append(gt.aggregate("dynamic").pretrend_test()["p_value"] < 0.05)
    return float(np.mean(cells)), float(np.mean(event_times))


@pytest.mark.parametrize(("sizes", "seed"), [(SMALL, 1), (LARGE, 2)], ids=["small", "large"])
def test_event_time_pretrend_test_has_its_size(sizes, seed):
    cells, event_times = _rejections(sizes, seed)
    half = BINOMIAL_BOUND * np.sqrt(0.05 * 0.95 / N_REPS)
    assert abs(event_times - 0.05) <= half, event_times
    if sizes is SMALL:
        assert cells >= CELL_TEST_SMALL_COHORTS_MIN_REJECTION, cells
