"""Reference for table 7's difference test: a firm-block bootstrap of the difference.

The two subgroups share their controls, so their estimates are correlated; the
influence-function SE of the difference must match the bootstrap spread of the
difference (and differ from treating the estimates as independent only by that
correlation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from impact.datasets import cluster_panel
from impact.report.evaluation import Evaluation
from impact.report.spec import OutcomeFamily, Spec
from impact.report.table7_heterogeneity import _subgroup_sample, difference_se, subgroups

pytestmark = pytest.mark.slow

#: Bootstrap draws (each refits both subgroups, ~1 s).
DRAWS = 99
#: 99 draws estimate an sd with ~7% relative error; [0.75, 1.33] is a ~4-sigma band.
RATIO = (0.75, 1.33)


def _difference(ev: Evaluation, data: pd.DataFrame):
    member = ~np.isnan(data[ev.names.cohort].to_numpy())
    sub = Evaluation(data, ev.spec, ev.names)
    pair = subgroups(sub)["founder"]
    fits = []
    for _, mask in pair:
        keep, covs = _subgroup_sample(sub, mask, member)
        gt = sub.fit_att_gt(data[keep], "log_emp", covariates=covs)
        fits.append((gt.aggregate("simple"), gt))
    return fits


def test_difference_se_matches_a_firm_bootstrap():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, _ = cluster_panel(n_firms=800, seed=11, scenario="S4")
        spec = Spec(
            families=(OutcomeFamily("jobs", ("log_emp",), "log", ("cs",)),),
            production=None, tables=(), figures=(),
        )  # fmt: skip
        ev = Evaluation.build(df, spec)
        fits = _difference(ev, ev.data)
        clusters = ev.data.groupby("firm_id")["firm_id"].first()
        se = difference_se(fits[0], fits[1], clusters)
        rows = list(ev.data.groupby("firm_id").indices.values())
        rng = np.random.default_rng(20261127)
        diffs = []
        for _ in range(DRAWS):
            draw = rng.integers(0, len(rows), len(rows))
            take = np.concatenate([rows[j] for j in draw])
            new_id = np.repeat(np.arange(len(draw)), [len(rows[j]) for j in draw])
            boot = ev.data.iloc[take].assign(firm_id=new_id).reset_index(drop=True)
            a, b = _difference(ev, boot)
            diffs.append(a[0].estimate - b[0].estimate)
    sd = float(np.std(diffs, ddof=1))
    independent = float(np.hypot(fits[0][0].std_error, fits[1][0].std_error))
    print(f"IF SE {se:.4f}, bootstrap sd {sd:.4f}, independent {independent:.4f}")
    assert RATIO[0] < se / sd < RATIO[1]
