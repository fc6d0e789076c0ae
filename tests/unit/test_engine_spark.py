"""Spark's own properties (issue 18's done-when): fits on a Spark DataFrame equal the
in-memory fits whatever the number of partitions (1, 7, 64) and the row order; a Spark
DataFrame missing a column, or with repeated (unit, period) rows, gives the in-memory
path's typed errors; every fit reports its passes and the bytes it collected.

The in-memory fits are themselves checked against pyfixest and R did (tests/reference).
Marked ``spark``: the CI step with the spark extra runs them (classic, then Connect)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, RTOL_ITERATIVE, RTOL_ITERATIVE_SE, assert_close, random_panel

import impact
from impact.errors import ColumnNotFoundError, DuplicateRowsError, EngineError, ImpactWarning

pytestmark = pytest.mark.spark

FORMULA = "y ~ x1 + x2 | unit + year"
ES = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return random_panel(11, n_units=80)


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return impact.datasets.load("mpdta")


def _spark(session, frame: pd.DataFrame, partitions: int, seed: int):
    """``frame`` in a random row order, as a Spark DataFrame of ``partitions`` partitions."""
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return session.createDataFrame(shuffled).repartition(partitions)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return fn(*args, **kw)


@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_fits_do_not_depend_on_partitions_or_row_order(spark_session, panel, mpdta, partitions):
    want = impact.feols(FORMULA, panel, vcov={"cluster": "region"}, weights="w")
    sdf = _spark(spark_session, panel, partitions, seed=partitions)
    got = impact.feols(FORMULA, sdf, vcov={"cluster": "region"}, weights="w")
    assert_close(got.coef, want.coef, rtol=RTOL_CLOSED_FORM)
    assert_close(got.se, want.se, rtol=RTOL_CLOSED_FORM)
    assert got.nobs == want.nobs and got.engine_use.engine == "spark"
    assert got.engine_use.passes > 0 and got.engine_use.bytes_collected > 0

    want_gt = _quiet(impact.att_gt, mpdta, **ES, vcov={"cluster": "countyreal"})
    got_gt = _quiet(impact.att_gt, _spark(spark_session, mpdta, partitions, seed=partitions + 1),
                    **ES, vcov={"cluster": "countyreal"})  # fmt: skip
    assert_close(got_gt.table["estimate"], want_gt.table["estimate"], rtol=RTOL_CLOSED_FORM)
    assert_close(got_gt.table["std_error"], want_gt.table["std_error"], rtol=RTOL_CLOSED_FORM)
    a, b = want_gt.aggregate("dynamic"), got_gt.aggregate("dynamic")
    assert_close([b.estimate, b.std_error], [a.estimate, a.std_error], rtol=RTOL_CLOSED_FORM)
    use = got_gt.engine_use
    assert use.engine == "spark" and use.passes > 0 and use.bytes_collected > 0


def test_bad_spark_frames_give_the_in_memory_errors(spark_session, panel, mpdta):
    no_x2 = panel.drop(columns=["x2"])
    with pytest.raises(ColumnNotFoundError, match="'x2'") as memory:
        impact.feols(FORMULA, no_x2)
    with pytest.raises(ColumnNotFoundError, match="'x2'") as spark:
        impact.feols(FORMULA, spark_session.createDataFrame(no_x2))
    assert type(spark.value) is type(memory.value)

    dup = pd.concat([mpdta, mpdta.iloc[:4]], ignore_index=True)
    with pytest.raises(DuplicateRowsError):
        impact.att_gt(dup, **ES)
    sdup = spark_session.createDataFrame(dup)
    with pytest.raises(DuplicateRowsError, match="more than one row"):
        impact.att_gt(sdup, **ES)
    with pytest.raises(DuplicateRowsError, match="more than one row"):
        impact.event_study(sdup, **ES, estimator="sun_abraham")


def test_bootstrap_draws_are_made_on_the_driver_from_the_seed(spark_session, mpdta):
    """The multiplier bootstrap with clusters draws from the seed on the driver: Spark's
    bands equal the in-memory bands for the same seed (and differ for another)."""
    kw = dict(**ES, vcov={"cluster": "countyreal"}, bootstrap=199, seed=3)
    want = _quiet(impact.att_gt, mpdta, **kw)
    sdf = _spark(spark_session, mpdta, 7, seed=0)
    got = _quiet(impact.att_gt, sdf, **kw)
    assert_close(got.table["band_high"], want.table["band_high"], rtol=RTOL_CLOSED_FORM)
    other = _quiet(impact.att_gt, sdf, **{**kw, "seed": 4})
    assert not np.allclose(other.table["band_high"], want.table["band_high"], rtol=1e-6)


def test_alternating_projections_run_on_classic_and_connect_sessions(spark_session):
    """Two large fixed effects (firm + worker) need alternating projections: each sweep
    joins the rows with their own group means, whose size estimates once multiplied until
    a Spark Connect server's planner stalled (docs/spark.md). Both kinds of session now
    iterate to memory's fit (the ITERATIVE_ENGINES suites, marked slow, run the rest)."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"firm": rng.integers(0, 130, 700), "worker": rng.integers(0, 150, 700)})
    df["x"] = rng.normal(size=len(df)) + 0.01 * df["firm"]
    df["y"] = df["x"] + 0.1 * df["worker"] + rng.normal(size=len(df))
    fml = "y ~ x | firm + worker"
    want = impact.feols(fml, df, vcov={"cluster": "firm"}, fixef_tol=1e-13)
    got = impact.feols(fml, spark_session.createDataFrame(df), vcov={"cluster": "firm"},
                       engine="spark")  # fmt: skip
    assert got.demean_strategy == "map (engine)"
    assert_close(got.coef, want.coef, rtol=RTOL_ITERATIVE)
    assert_close(got.se, want.se, rtol=RTOL_ITERATIVE_SE)
    assert got.engine_use.passes > 20  # the sweeps ran in Spark, not on the driver


#: Sweeps of the size-estimate test: uncapped, the estimate's digits double every join
#: (2**12 times as many digits after 12); capped, they grow by about 12 digits per join.
SWEEPS = 12
#: Digits the capped estimate may have after SWEEPS joins: the data's own (under 10),
#: plus 2**31 rows times a row's bytes (under 10**13) per join.
MAX_ESTIMATE_DIGITS = 10 + 13 * SWEEPS
#: Absolute rounding of the swept values (unit scale, sums of a dozen terms per sweep in
#: another order on Spark): for values that the sweeps bring near zero.
ATOL_SWEPT = 1e-12


def test_a_sweep_keeps_spark_size_estimate_bounded(spark_session):
    """A frame joined with its own group sums and checkpointed, sweep after sweep (what
    alternating projections and IRLS do), keeps a size estimate whose digits grow at most
    linearly: the group side is capped (SparkEngine.join_groups). Read from the plan of a
    classic session (a Connect client has no access to it; the Connect fits above finish)."""
    from impact.engine import SparkEngine

    engine = SparkEngine(spark_session)
    df = pd.DataFrame({"i": np.arange(200), "g": np.arange(200) % 17})
    df["x"] = np.cos(df["i"].to_numpy())
    want = df.copy()
    rows = engine.materialize(engine.source(df))
    for _ in range(SWEEPS):
        groups = engine.group_relation(rows, ["g"], {"s": "x"}, count=None)
        made = engine.with_columns(engine.join_groups(rows, groups, ["g"]), {"x": "x - s / 17"})
        rows = engine.materialize(engine.select(made, ["i", "g", "x"]))
        want["x"] = want["x"] - want.groupby("g")["x"].transform("sum") / 17
    got = engine.group_sums(rows, ["i"], {"x": "x"})  # every row once, every group joined
    assert_close(got["x"], want["x"], rtol=RTOL_CLOSED_FORM, atol=ATOL_SWEPT)
    assert (got["n"] == 1).all() and len(got) == len(want)
    if not hasattr(rows, "_jdf"):
        return
    size = rows._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()
    assert len(str(size)) <= MAX_ESTIMATE_DIGITS


def test_a_session_without_join_hints_is_a_typed_error(spark_session):
    """The group tables are joined by broadcast hints (a capped table is never cut only when
    broadcast): a session that disables hints is refused, never fitted on a cut table."""
    df = pd.DataFrame({"firm": np.arange(60) % 7, "worker": np.arange(60) % 11})
    df["x"] = np.linspace(0.0, 1.0, 60) ** 2
    df["y"] = df["x"] + np.cos(np.arange(60))
    spark_session.conf.set("spark.sql.optimizer.disableHints", "true")
    try:
        with pytest.raises(EngineError, match="disableHints"):
            impact.feols("y ~ x | firm + worker", spark_session.createDataFrame(df), engine="spark")
    finally:
        spark_session.conf.set("spark.sql.optimizer.disableHints", "false")
