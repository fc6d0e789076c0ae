"""att_gt with covariates and never-treated controls on a complete panel takes ``inf' inf``
from blocks (the controls' cross-product plus one block per cohort); the reference is the
same fit with the blocks switched off (``influence_vcov`` on the full influence matrix)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
import impact.estimators.att_gt_cells as cells_mod


def _panel(seed: int, n: int = 600, years: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n), years)
    year = np.tile(np.arange(2010, 2010 + years), n)
    g = rng.choice([2012.0, 2013.0, 2015.0, np.nan, np.nan], n)[unit]
    x1 = rng.normal(size=n)[unit]
    x2 = rng.uniform(size=n)[unit]
    treated = np.isfinite(g) & (year >= g)
    y = 0.5 * x1 + 0.1 * (year - 2010) * x2 + 0.3 * treated + rng.normal(size=unit.size)
    return pd.DataFrame({"u": unit, "t": year, "g": g, "x1": x1, "x2": x2, "y": y})


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.att_gt(df, y="y", unit="u", time="t", cohort="g", **kw)


@pytest.mark.parametrize("method", ["dr", "ipw", "reg", "dr_improved"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_block_gram_equals_the_full_product(monkeypatch, method, base_period):
    df = _panel(3)
    kw = dict(covariates=["x1", "x2"], method=method, base_period=base_period)
    calls = []
    real = cells_mod.block_gram
    monkeypatch.setattr(cells_mod, "block_gram", lambda c, t: calls.append(1) or real(c, t))
    fast = _fit(df, **kw)
    # calibrated DR estimates its cells outside the groups: no blocks (the first version
    # took them and gave SE 0)
    assert len(calls) == (0 if method == "dr_improved" else 1)
    # the reference path: without the blocks the full product is taken
    monkeypatch.setattr(cells_mod, "block_gram", lambda controls, treated: None)
    ref = _fit(df, **kw)
    a, b = fast.table, ref.table
    se = a["std_error"].to_numpy()
    reference = np.isnan(se)  # the universal base period's cells (0 by construction)
    assert reference.sum() == (3 if base_period == "universal" else 0)
    assert np.all(se[~reference] > 0)
    assert_close(a["estimate"].to_numpy(), b["estimate"].to_numpy(), rtol=RTOL_CLOSED_FORM)
    assert_close(se[~reference], b["std_error"].to_numpy()[~reference], rtol=RTOL_CLOSED_FORM)
    agg_a, agg_b = fast.aggregate("dynamic"), ref.aggregate("dynamic")
    assert_close(agg_a.std_error, agg_b.std_error, rtol=RTOL_CLOSED_FORM)
