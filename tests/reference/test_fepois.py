"""fepois against statsmodels' GLM Poisson with dummy variables (exact) and pyfixest's
fepois (its conventions), with weights, offsets and one to three fixed effects; the
DuckDB engine path against pyfixest directly too."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from helpers import QUERY_ENGINES, RTOL_ITERATIVE, RTOL_ITERATIVE_SE, assert_close
from peer_inputs import FEPOIS_FES as FES
from peer_inputs import count_panel as _count_panel

import impact

pf = pytest.importorskip("pyfixest")
sm = pytest.importorskip("statsmodels.api")

#: Exact reference (GLM on dummies, both IRLS run to ~machine precision): coefficients.
RTOL_GLM = 1e-8
#: pyfixest's IRLS and demeaning, run with tight tolerances (1e-13 / 1e-12).
PYFIXEST_TOLS = {"fixef_tol": 1e-13, "iwls_tol": 1e-12, "iwls_maxiter": 100}


def _ref_vcov(v):
    return {"CRV1": v["cluster"]} if isinstance(v, dict) else v


@pytest.mark.parametrize("fe", FES)
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("offset", [None, "log_expo"])
def test_fepois_equals_glm_with_dummies(fe, weights, offset):
    """Coefficients and the iid / HC0 sandwich (SSC.none()) equal dummy-variable GLM."""
    df = _count_panel(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.fepois(
            f"cnt ~ x1 + x2 | {fe}",
            df,
            weights=weights,
            offset=offset,
            vcov="hetero",
            ssc=impact.SSC.none(),
        )
    d = df.loc[fit._row_index]
    dummies = [
        pd.get_dummies(d[c].astype(str), prefix=c, drop_first=j > 0, dtype=float)
        for j, c in enumerate([f.strip() for f in fe.split("+")])
    ]
    X = pd.concat([d[["x1", "x2"]], *dummies], axis=1)
    glm = sm.GLM(
        d["cnt"],
        X,
        family=sm.families.Poisson(),
        offset=d[offset] if offset else None,
        freq_weights=d[weights] if weights else None,
    ).fit(tol=1e-14, maxiter=200, cov_type="HC0")
    assert_close(fit.coef.to_numpy(), glm.params[["x1", "x2"]].to_numpy(), rtol=RTOL_GLM)
    if weights is None:  # freq_weights HC0 counts each weight as replicated rows
        assert_close(fit.se.to_numpy(), glm.bse[["x1", "x2"]].to_numpy(), rtol=RTOL_GLM)
    assert_close(fit.deviance, glm.deviance, rtol=RTOL_GLM)


@pytest.mark.parametrize(("seed", "engine"), [(1, None), (2, None), (1, "duckdb")])
@pytest.mark.parametrize("fe", FES)
@pytest.mark.parametrize(
    "vcov", ["iid", "hetero", {"cluster": "unit"}, {"cluster": "region"}], ids=str
)
@pytest.mark.parametrize("weights", [None, "w"])
def test_fepois_equals_pyfixest(seed, engine, fe, vcov, weights):
    """In memory and in DuckDB (separation checks and every IRLS step in the engine)."""
    if engine is not None:
        pytest.importorskip("duckdb")
    df = _count_panel(seed)
    fml = f"cnt ~ x1 + x2 | {fe}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.fepois(fml, data=df, vcov=_ref_vcov(vcov), weights=weights, **PYFIXEST_TOLS)
        fit = impact.fepois(fml, df, vcov=vcov, weights=weights, engine=engine)
    assert fit.nobs == ref._N
    assert_close(fit.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_ITERATIVE_SE)
    assert_close(fit.deviance, float(ref.deviance), rtol=RTOL_ITERATIVE)


@pytest.mark.parametrize("engine", [None, *QUERY_ENGINES])
def test_fepois_offset_equals_pyfixest(engine):
    if engine is not None:
        pytest.importorskip("duckdb")
    df = _count_panel(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.fepois(
            "cnt ~ x1 + x2 | unit + year",
            data=df,
            offset="log_expo",
            vcov={"CRV1": "unit"},
            **PYFIXEST_TOLS,
        )
        fit = impact.fepois(
            "cnt ~ x1 + x2 | unit + year", df, offset="log_expo", vcov={"cluster": "unit"},
            engine=engine,
        )  # fmt: skip
    assert_close(fit.coef.to_numpy(), ref.coef().to_numpy(), rtol=RTOL_ITERATIVE)
    assert_close(fit.se.to_numpy(), ref.se().to_numpy(), rtol=RTOL_ITERATIVE_SE)


def test_fepois_without_fixed_effects_equals_glm():
    df = _count_panel(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = impact.fepois("cnt ~ x1 + x2", df, vcov="iid", ssc=impact.SSC.none())
    glm = sm.GLM(df["cnt"], sm.add_constant(df[["x1", "x2"]]), family=sm.families.Poisson()).fit(
        tol=1e-14
    )
    assert_close(fit.coef.to_numpy(), glm.params.to_numpy(), rtol=RTOL_GLM)
    assert_close(fit.se.to_numpy(), glm.bse.to_numpy(), rtol=RTOL_GLM)
    assert_close(fit.loglik, glm.llf, rtol=RTOL_GLM)
