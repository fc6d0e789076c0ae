"""Monte Carlo on the synthetic cluster-firm panel, scenario S10 (DGP.md §4.5, §4.10).

S10 is S2 (dynamic, size- and cohort-heterogeneous effects, random selection within
cluster cells, no spillovers) with members that leave their cluster at 3% a year and do
not re-join: membership switches off. ``did_multiplegt`` on the yearly ``member`` status
of the firms in cluster cells (members and the not-yet-members of the same cells) targets
``switch_event``'s truth: the mean effect of the path each joiner took (stayers and
leavers alike) ``l - 1`` years after joining, relative to the year before.

Checks: effects 1-4 and placebos 1-2 unbiased (within 4 Monte Carlo SEs of the truth,
placebos of zero), and the 95% intervals cover at 0.95 within 3.5 binomial SEs, or above
(the variance is conservative).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.datasets.cluster.generate import cluster_panel
from impact.datasets.cluster.truth import switch_event

pytestmark = pytest.mark.slow

#: Replications (each simulates ~1,200 firms x 16 years; ~0.4 s each).
N_REPS = 300
N_FIRMS = 1200
#: Bias bound in Monte Carlo standard errors (VERIFICATION.md §2).
MC_BOUND = 4.0
BINOMIAL_BOUND = 3.5
EFFECTS, PLACEBOS = (1, 2, 3, 4), (-1, -2)
OUTCOME = "log_emp"


def _replication(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df, truth = cluster_panel(N_FIRMS, seed=seed, scenario="S10")
    tr = switch_event(truth.firm_year)
    tr = tr[tr["outcome"] == OUTCOME].set_index("effect")["effect_mean"]
    cells = df[df["cluster_cell"].astype(bool)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did_multiplegt(
            cells, y=OUTCOME, unit="firm_id", time="year", treatment="member",
            effects=len(EFFECTS), placebo=len(PLACEBOS),
        )  # fmt: skip
    tab = res.table.set_index("effect").loc[[*EFFECTS, *PLACEBOS]]
    target = np.r_[tr.loc[list(EFFECTS)].to_numpy(), np.zeros(len(PLACEBOS))]
    return tab["estimate"].to_numpy(), tab["std_error"].to_numpy(), target


def test_effects_of_a_membership_that_switches_off_recover_the_truth():
    draws = [_replication(20261205 + r) for r in range(N_REPS)]
    est, se, target = (np.array(x) for x in zip(*draws, strict=True))
    err = est - target
    bias = err.mean(axis=0)
    mc_se = err.std(axis=0, ddof=1) / np.sqrt(N_REPS)
    assert (np.abs(bias) < MC_BOUND * mc_se).all(), (bias, mc_se)
    cover = (np.abs(err) <= 1.959963984540054 * se).mean(axis=0)
    floor = 0.95 - BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / N_REPS)
    assert (cover >= floor).all(), cover
    assert target[:, 1:4].mean() > 0.01  # the effects are not all zero
