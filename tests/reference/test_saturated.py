"""Sun-Abraham's saturated cohort x period regression from cell sufficient statistics,
against pyfixest's dummy-variable regression on unbalanced panels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_PEER, assert_close
from peer_inputs import binned_rel_time, saturated_cells_design
from peer_inputs import ours_saturated as _ours
from peer_inputs import staggered_panel as _staggered

import impact

pf = pytest.importorskip("pyfixest")

#: pyfixest's alternating projections stop at its fixef_tol; set tight so the comparison
#: measures our algebra, not its iteration error.
PYFIXEST_FIXEF_TOL = 1e-12


def _dummy_reference(df, *, cluster):
    """pyfixest: y ~ one dummy per treated (cohort, period) cell except ref | unit + year."""
    d = saturated_cells_design(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols(
            "y ~ i(cell, ref=-1) | unit + year",
            data=d,
            vcov={"CRV1": cluster},
            fixef_tol=PYFIXEST_FIXEF_TOL,
        )
    names = ref.coef().index
    cells = np.array([int(n.split("[T.")[-1].rstrip("]").split("::")[-1]) for n in names])
    return cells, ref.coef().to_numpy(), np.asarray(ref._vcov), ref


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cluster", ["unit", "region"])
def test_saturated_fit_equals_pyfixest_dummies(seed, cluster):
    df = _staggered(seed)
    cells_ref, coef_ref, V_ref, ref = _dummy_reference(df, cluster=cluster)
    cells, fit = _ours(df, cluster)
    order = np.argsort(cells)
    assert list(cells[order]) == sorted(cells_ref)
    pos = {c: i for i, c in enumerate(cells_ref)}
    ix = np.array([pos[c] for c in cells[order]])
    assert_close(fit.estimate[order], coef_ref[ix], rtol=RTOL_PEER, atol=1e-10)
    assert_close(fit.vcov[np.ix_(order, order)], V_ref[np.ix_(ix, ix)], rtol=RTOL_PEER, atol=1e-12)
    assert fit.n_obs == ref._N


def test_event_study_sun_abraham_aggregates_the_cells_with_unit_shares():
    """event_study's Sun-Abraham = cohort-share weighted averages of pyfixest's cells."""
    df = _staggered(5)
    cells_ref, coef_ref, V_ref, _ = _dummy_reference(df, cluster="unit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.event_study(
            df, y="y", unit="unit", time="year", cohort="g", estimator="sun_abraham", window=(-8, 8)
        )
    unit = pd.factorize(df["unit"])[0]
    keep = impact.estimators.saturated.drop_two_way_singletons(unit, (df["year"] - 2000).to_numpy())
    d = df[keep]
    g, yr = cells_ref // 10_000, cells_ref % 10_000
    n = np.array([((d["g"] == a) & (d["year"] == b)).sum() for a, b in zip(g, yr, strict=True)])
    rel = yr - g
    tab = res.table.set_index("rel_time")
    for r in np.unique(rel):
        w = np.where(rel == r, n, 0) / n[rel == r].sum()
        assert_close(tab.loc[r, "estimate"], w @ coef_ref, rtol=RTOL_PEER, atol=1e-10)
        assert_close(tab.loc[r, "std_error"], np.sqrt(w @ V_ref @ w), rtol=RTOL_PEER)
    assert res.n_obs == len(d)


def test_cohort_never_observed_at_its_reference_period_is_a_typed_error():
    """A cohort never observed at its reference period cannot be tied to the controls:
    since the one staggered design (docs/conventions.md) this is an error naming the
    cohort, no longer a warning with the cohort's cells left out."""
    df = _staggered(3, drop=0.0, singles=0)
    lost = df["g"] == 2004
    df = df[~(lost & (df["year"] <= 2003))]  # cohort 2004 only observed once treated
    with pytest.raises(impact.errors.ImpactError, match="not observed for cohort 2004"):
        impact.event_study(
            df, y="y", unit="unit", time="year", cohort="g", estimator="sun_abraham", window=(-8, 8)
        )


@pytest.mark.parametrize("cluster", ["unit", "region"])
def test_twfe_event_study_from_cells_equals_pyfixest(cluster):
    """Binned relative-time dummies with unit and year effects, solved from cell
    statistics (unbalanced panel, singletons), against pyfixest's dummy regression."""
    from impact.estimators.saturated import RestrictedFit

    df = _staggered(4)
    window = (-3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.event_study(
            df,
            y="y",
            unit="unit",
            time="year",
            cohort="g",
            window=window,
            vcov={"cluster": cluster},
        )
        d = binned_rel_time(df, "g", None, window)
        ref = pf.feols(
            "y ~ i(rel, ref=-1) | unit + year",
            data=d,
            vcov={"CRV1": cluster},
            fixef_tol=PYFIXEST_FIXEF_TOL,
        )
    assert isinstance(res.fit, RestrictedFit)
    tab = res.table[res.table["rel_time"] != -1]
    names = [
        f"rel::{float(r)}" if f"rel::{float(r)}" in ref.coef().index else f"rel::{r}"
        for r in tab["rel_time"]
    ]
    assert_close(tab["estimate"].to_numpy(), ref.coef()[names].to_numpy(), rtol=RTOL_PEER)
    assert_close(tab["std_error"].to_numpy(), ref.se()[names].to_numpy(), rtol=RTOL_PEER)
    assert res.n_obs == ref._N


def test_sun_abraham_cell_path_equals_the_dummy_regression_on_an_unbalanced_panel(monkeypatch):
    """Cohort 5 misses a pre-period (not its reference): the cell path's estimates and SEs,
    with the small-sample K of the parameters the dummy regression estimates, equal the
    feols dummy path's at every event time."""
    from impact.estimators import es_regressions as er

    rng = np.random.default_rng(1)
    rows = [(i, t, [np.nan, 3, 5, 6][i % 4]) for i in range(60) for t in range(8)]
    df = pd.DataFrame(rows, columns=["id", "t", "g"])
    df["y"] = rng.normal(size=len(df)) + (df["t"] >= df["g"]) * 1.0 + df["id"] * 0.1
    df = df.sample(frac=0.8, random_state=3).sort_index()
    df = df[~((df["g"] == 5) & (df["t"] == 3))]
    kw = {"y": "y", "unit": "id", "time": "t", "cohort": "g", "estimator": "sun_abraham"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = impact.event_study(df, **kw, window=(-3, 3))
        monkeypatch.setattr(er, "_unit_level_cluster", lambda *a, **k: None)
        slow = impact.event_study(df, **kw, window=(-3, 3))
    assert type(fast.fit) is not type(slow.fit)  # cell statistics vs dummy regression
    assert list(fast.table["rel_time"]) == list(slow.table["rel_time"])
    assert_close(fast.table["estimate"].to_numpy(), slow.table["estimate"].to_numpy(), rtol=1e-10)
    assert_close(fast.table["std_error"].to_numpy(), slow.table["std_error"].to_numpy(), rtol=1e-10)
