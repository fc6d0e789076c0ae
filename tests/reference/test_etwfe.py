"""etwfe against diff-diff's ETWFE (Stata jwdid conventions), and linear ETWFE against
the imputation estimator (algebraically equal on a balanced panel)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, RTOL_ITERATIVE_SE, assert_close
from peer_inputs import etwfe_counts as _counts

import impact

dd = pytest.importorskip("diff_diff")


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.etwfe(df, y="y", unit="unit", time="year", cohort="g", **kw)


@pytest.mark.parametrize("seed", [1, 2])
def test_poisson_etwfe_equals_diff_diff(seed):
    df = _counts(seed)
    res = _fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ETWFE(method="poisson").fit(
            df, outcome="y", unit="unit", time="year", first_treat="g"
        )
    cells = res.cells.set_index(["cohort", "period"])
    gt = ref.group_time_effects
    assert len(cells) == len(gt)
    for (g, t), eff in gt.items():
        row = cells.loc[(int(g), int(t))]
        assert_close(row["estimate"], eff["att"], rtol=RTOL_ITERATIVE, atol=1e-10)
        assert_close(row["std_error"], eff["se"], rtol=RTOL_ITERATIVE_SE)
    simple = res.aggregate("simple").table.iloc[0]
    assert_close(simple["estimate"], ref.overall_att, rtol=RTOL_ITERATIVE)
    assert_close(simple["std_error"], ref.overall_se, rtol=RTOL_ITERATIVE_SE)
    for kind, ours in (("group", "group"), ("calendar", "calendar"), ("event_study", "dynamic")):
        agg = ref.aggregate(kind)
        theirs = {"group": agg.group_effects, "calendar": agg.calendar_effects}.get(
            kind, agg.event_study_effects
        )
        tab = res.aggregate(ours).table.set_index("key")
        for key, eff in theirs.items():
            assert_close(tab.loc[int(key), "estimate"], eff["att"], rtol=RTOL_ITERATIVE)
            assert_close(tab.loc[int(key), "std_error"], eff["se"], rtol=RTOL_ITERATIVE_SE)


def test_proportional_effect_is_exp_tau_minus_one_per_cell():
    res = _fit(_counts(3))
    tau = np.array(
        [
            res.coef[f"cell::{g}:{t}"]
            for g, t in zip(res.cells["cohort"], res.cells["period"], strict=True)
        ]
    )
    assert_close(res.cells["ratio"].to_numpy(), np.expm1(tau), rtol=RTOL_CLOSED_FORM)
    # delta method: se(exp(tau) - 1) = exp(tau) se(tau)
    V = res.vcov
    names = list(res.coef.index)
    se_tau = np.array(
        [
            np.sqrt(V[names.index(f"cell::{g}:{t}"), names.index(f"cell::{g}:{t}")])
            for g, t in zip(res.cells["cohort"], res.cells["period"], strict=True)
        ]
    )
    assert_close(res.cells["ratio_se"].to_numpy(), np.exp(tau) * se_tau, rtol=RTOL_CLOSED_FORM)


def test_linear_etwfe_equals_imputation_on_a_balanced_panel():
    """Wooldridge (2021): pooled OLS with cohort and period dummies and treated-cell
    indicators gives the imputation estimator's cell effects; weighted by cell counts
    they are the imputation horizon averages."""
    from impact.estimators.imputation import FirstStageSpec, imputation_fit

    df = _counts(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.etwfe(df, y="ly", unit="unit", time="year", cohort="g", family="linear")
    imp = imputation_fit(df, FirstStageSpec(y="ly", unit="unit", time="year", cohort="g"))
    dyn = res.aggregate("dynamic").table.set_index("key")
    assert_close(dyn.loc[list(imp.horizons), "estimate"].to_numpy(), imp.estimate, rtol=1e-9)
    assert_close(res.aggregate("simple").table["estimate"].iloc[0], imp.overall, rtol=1e-9)
    assert np.isnan(res.cells["ratio"]).all()


def test_never_treated_controls_give_placebo_pre_period_cells():
    res = _fit(_counts(5), control="never")
    pre = res.cells[res.cells["rel_time"] < 0]
    assert len(pre) > 0 and (pre["rel_time"] != -1).all()
    dyn = res.aggregate("dynamic").table
    assert -1 not in set(dyn["key"]) and min(dyn["key"]) < -1


def test_negative_counts_are_rejected():
    df = _counts(6)
    df.loc[3, "y"] = -2.0
    with pytest.raises(impact.errors.NegativeOutcomeError):
        _fit(df)


def test_poisson_etwfe_with_category_by_period_effects_equals_glm():
    """fixed_effects='sector^year': the cell coefficients equal statsmodels' GLM Poisson
    on intercept, cell indicators, cohort dummies and sector-by-year dummies."""
    sm = pytest.importorskip("statsmodels.api")
    df = _counts(7)
    df["sector"] = np.random.default_rng(0).integers(0, 3, df["unit"].max() + 1)[df["unit"]]
    res = _fit(df, fixed_effects="sector^year")
    cells = [c for c in res.coef.index if c.startswith("cell::")]
    X = pd.DataFrame({"const": 1.0}, index=df.index)
    for c in cells:
        g, t = (int(v) for v in c.split("::")[1].split(":"))
        X[c] = ((df["g"] == g) & (df["year"] == t)).astype(float)
    X = X.join(pd.get_dummies(df["g"], prefix="g", drop_first=True, dtype=float))
    sy = df["sector"].astype(str) + "_" + df["year"].astype(str)
    X = X.join(pd.get_dummies(sy, prefix="sy", drop_first=True, dtype=float))
    glm = sm.GLM(df["y"], X, family=sm.families.Poisson()).fit(tol=1e-14, maxiter=200)
    assert_close(res.coef[cells].to_numpy(), glm.params[cells].to_numpy(), rtol=1e-7)
    plain = _fit(df)
    assert (
        abs(
            plain.aggregate("simple").table["ratio"].iloc[0]
            - res.aggregate("simple").table["ratio"].iloc[0]
        )
        > 1e-6
    )


def test_event_study_etwfe_linear_equals_sun_abraham_on_a_balanced_panel():
    """With never-treated controls, linear ETWFE saturates every cohort period but g - 1
    as Sun-Abraham does; on a balanced panel (mpdta) the event-time estimates coincide."""
    mpdta = impact.datasets.load("mpdta")
    kw = {"y": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        et = impact.event_study(mpdta, **kw, estimator="etwfe", window=(-3, 3))
        sa = impact.event_study(mpdta, **kw, estimator="sun_abraham", window=(-3, 3))
    assert list(et.table["rel_time"]) == list(sa.table["rel_time"])
    assert_close(
        et.table["estimate"].to_numpy(), sa.table["estimate"].to_numpy(), rtol=1e-9, atol=1e-12
    )
    pois = impact.event_study(
        mpdta.assign(emp=np.exp(mpdta["lemp"])),
        **{**kw, "y": "emp"},
        estimator="etwfe",
        family="poisson",
    )
    assert pois.table.loc[pois.table["rel_time"] == -1, "estimate"].iloc[0] == 0.0
