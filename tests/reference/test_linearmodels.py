"""Layer 2: feols equals linearmodels PanelOLS (entity + time effects) under matching conventions.

linearmodels counts every absorbed effect in its small-sample factor (our
``k_fixef="full"``). With ``group_debias=True`` its clustered factor is
``G/(G-1) (N-1)/(N-K)``, each multi-way term with its own G (our
``cluster_df="conventional"``); without it, it uses ``N/(N-K)``, a combination none of
our presets uses, so it is not compared.
"""

from __future__ import annotations

import warnings

import pytest
from helpers import RTOL_PEER, assert_close, random_panel

import impact

lm_panel = pytest.importorskip("linearmodels.panel")

CASES = {
    "unadjusted": ({"cov_type": "unadjusted"}, "iid", impact.SSC.fixest()),
    "robust": ({"cov_type": "robust"}, "hetero", impact.SSC.fixest()),
    "cluster-entity-debiased": (
        {"cov_type": "clustered", "cluster_entity": True, "group_debias": True},
        {"cluster": "unit"},
        impact.SSC.full(),
    ),
    "cluster-twoway-debiased": (
        {
            "cov_type": "clustered",
            "cluster_entity": True,
            "cluster_time": True,
            "group_debias": True,
        },
        {"cluster": ["unit", "year"]},
        impact.SSC(k_fixef="full", cluster_df="conventional"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weights", [False, True])
def test_feols_equals_panelols(case, weights):
    lm_kw, vcov, ssc = CASES[case]
    df = random_panel(3)
    d = df.set_index(["unit", "year"])
    model = lm_panel.PanelOLS(
        d["y"],
        d[["x1", "x2"]],
        entity_effects=True,
        time_effects=True,
        weights=d["w"] if weights else None,
    )
    ref = model.fit(**lm_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.feols(
            "y ~ x1 + x2 | unit + year",
            data=df,
            vcov=vcov,
            ssc=ssc,
            weights="w" if weights else None,
            drop_singletons=False,
        )
    assert fit.nobs == ref.nobs
    assert_close(fit.coef.to_numpy(), ref.params.to_numpy(), rtol=RTOL_PEER)
    assert_close(fit.se.to_numpy(), ref.std_errors.to_numpy(), rtol=RTOL_PEER)
