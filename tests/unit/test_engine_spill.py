"""The engine path over Parquet shards larger than DuckDB's memory limit (slow): about
1.2 million firm-years of the cluster panel, fitted with a 96 MB limit so that DuckDB
spills to disk, against the in-memory fits of the same rows (feols TWFE, att_gt, and the
Sun-Abraham and imputation event studies); and a limit too small to finish."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import spilling_engine

import impact
from impact.datasets.cluster.parquet import write_cluster_panel_parquet
from impact.errors import EngineMemoryError

pytest.importorskip("duckdb")
pytestmark = pytest.mark.slow

#: The conformance tolerance of tests/unit/test_engine_*.py (sums in another order).
ENGINE_RTOL = 1e-10
COLUMNS = ["firm_id", "year", "log_va", "log_emp", "log_k", "join_year", "region"]
DID = {"y": "log_emp", "unit": "firm_id", "time": "year", "cohort": "join_year"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("register")
    write_cluster_panel_parquet(folder / "panel", 80_000, columns=COLUMNS, shard_firms=20_000)
    glob = str(folder / "panel" / "part-*.parquet")
    frame = pd.read_parquet(folder / "panel")
    assert len(frame) > 1_000_000
    return glob, frame, folder


def _quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def test_spilling_fits_equal_the_in_memory_fits(shards):
    glob, frame, folder = shards
    engine = spilling_engine(folder, "96MB")
    fml = "log_va ~ log_emp + log_k | firm_id + year"
    a = _quiet(impact.feols, fml, frame, vcov={"cluster": "firm_id"})
    b = _quiet(impact.feols, fml, glob, vcov={"cluster": "firm_id"}, engine=engine)
    np.testing.assert_allclose(b.coef, a.coef, rtol=ENGINE_RTOL)
    np.testing.assert_allclose(b.se, a.se, rtol=ENGINE_RTOL)
    assert b.sample_log == a.sample_log
    a = _quiet(impact.att_gt, frame, **DID, vcov={"cluster": "region"})
    b = _quiet(impact.att_gt, glob, **DID, vcov={"cluster": "region"}, engine=engine)
    for kind in ("simple", "dynamic"):
        x, y = a.aggregate(kind), b.aggregate(kind)
        np.testing.assert_allclose([y.estimate, y.std_error], [x.estimate, x.std_error],
                                   rtol=ENGINE_RTOL)  # fmt: skip
    for estimator in ("sun_abraham", "imputation"):
        a = _quiet(impact.event_study, frame, **DID, estimator=estimator)
        b = _quiet(impact.event_study, glob, **DID, estimator=estimator, engine=engine)
        np.testing.assert_allclose(b.table["estimate"], a.table["estimate"], rtol=ENGINE_RTOL,
                                   atol=1e-14)  # fmt: skip
        np.testing.assert_allclose(b.table["std_error"], a.table["std_error"], rtol=ENGINE_RTOL)
        assert (b.sample_log, b.n_obs) == (a.sample_log, a.n_obs)


def test_a_memory_limit_too_small_is_a_typed_error_naming_the_fix(shards):
    glob, _, folder = shards
    with pytest.raises(EngineMemoryError, match="memory_limit.*temp_directory"):
        _quiet(impact.event_study, glob, **DID, engine=spilling_engine(folder, "24MB"))
