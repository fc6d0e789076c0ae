"""Monte Carlo on the synthetic cluster-firm panel, scenario S2 (DGP.md §4.10).

S2: dynamic, size- and cohort-heterogeneous effects, staggered waves, random selection
within cluster cells, no spillovers. Cluster cells are chosen on specialisation and
high-tech status, and sectors have their own trends, so every estimator conditions on
sector (sector-by-year effects, or sector indicators in CS's outcome regression).
Entry and exit are switched off so the panel is balanced and CS, Sun-Abraham and
imputation target the same cohort-size weighted ATT(e) that the generator reports.

Checks: the three recover the true ATT(e) (bias within 4 Monte Carlo SEs, coverage
within 3.5 binomial SEs of 0.95, or above for imputation's conservative variance);
static TWFE with the same sector-by-year effects is biased downward by more than 4
Monte Carlo SEs relative to the true overall ATT ("forbidden comparisons").
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets.cluster.generate import cluster_panel

pytestmark = pytest.mark.slow

#: Replications (each simulates a fresh panel of ~1,800 firms x 16 years).
N_REPS = 150
N_FIRMS = 600
#: Bias bound in Monte Carlo standard errors (VERIFICATION.md §2).
MC_BOUND = 4.0
BINOMIAL_BOUND = 3.5
EVENT_TIMES = (0, 1, 2, 3)
OUTCOME = "log_emp"


def _replication(seed: int) -> list[tuple]:
    df, truth = cluster_panel(
        N_FIRMS, seed=seed, scenario="S2", entry_rate=0.0, random_exit=0.0, exit_quantile=0.0
    )
    # out-of-cell never-treated firms are the controls
    df = df[df["join_year"].notna() | ~df["cluster_cell"].astype(bool)]
    ev = truth.att_event
    ev = ev[ev["outcome"] == OUTCOME].set_index("event_time")["att_total"]
    ov = truth.att_overall
    simple = float(
        ov.loc[(ov["outcome"] == OUTCOME) & (ov["aggregation"] == "simple"), "att_total"].iloc[0]
    )
    sectors = pd.get_dummies(df["sector"], prefix="sector", drop_first=True).astype(float)
    d = pd.concat([df, sectors], axis=1)
    kw = {"y": OUTCOME, "unit": "firm_id", "time": "year", "cohort": "join_year"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = impact.att_gt(
            d, **kw, method="reg", covariates=list(sectors.columns), base_period="universal"
        )
        cs = gt.aggregate("dynamic", min_e=-3, max_e=3).table.set_index("rel_time")
        tables = {"cs": cs}
        for est in ("sun_abraham", "imputation"):
            res = impact.event_study(
                df, **kw, estimator=est, fixed_effects="sector^year", window=(-3, 3)
            )
            tables[est] = res.table.set_index("rel_time")
        member = (df["year"] >= df["join_year"]).astype(float)
        twfe = impact.feols(
            f"{OUTCOME} ~ member | firm_id + sector^year",
            data=df.assign(member=member),
            vcov={"cluster": "firm_id"},
        )
    rows = []
    for name, tab in tables.items():
        for e in EVENT_TIMES:
            rows.append((name, f"e={e}", tab.loc[e, "estimate"], tab.loc[e, "std_error"], ev[e]))
    rows.append(("static twfe", "overall", twfe.coef["member"], twfe.se["member"], simple))
    return rows


@pytest.fixture(scope="module")
def draws() -> pd.DataFrame:
    rows = [(rep, *r) for rep in range(N_REPS) for r in _replication(1000 + rep)]
    return pd.DataFrame(rows, columns=["rep", "estimator", "target", "estimate", "se", "truth"])


def _mc(d: pd.DataFrame) -> tuple[float, float]:
    err = d["estimate"] - d["truth"]
    return float(err.mean()), float(err.std() / np.sqrt(len(err)))


@pytest.mark.parametrize("estimator", ["cs", "sun_abraham", "imputation"])
def test_heterogeneity_robust_estimators_recover_the_truth(draws, estimator):
    half = BINOMIAL_BOUND * np.sqrt(0.95 * 0.05 / N_REPS)
    for target, d in draws[draws["estimator"] == estimator].groupby("target"):
        bias, mcse = _mc(d)
        assert abs(bias) <= MC_BOUND * mcse, (target, bias, mcse)
        cover = np.mean(np.abs(d["estimate"] - d["truth"]) <= 1.959964 * d["se"])
        assert cover >= 0.95 - half, (target, cover)
        if estimator != "imputation":  # BJS's variance is conservative by design
            assert cover <= 0.95 + half, (target, cover)


def test_static_twfe_is_visibly_biased_downward(draws):
    bias, mcse = _mc(draws[draws["estimator"] == "static twfe"])
    assert bias < -MC_BOUND * mcse, (bias, mcse)
