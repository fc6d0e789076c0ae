"""Issue 13: the silent wrong numbers and crashes of the six staggered-design readers.

Each test names the behaviour before the shared StaggeredDesign (in its docstring) and the
typed error or counted drop after it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import RTOL_CLOSED_FORM, assert_close

import impact
from impact import errors

ESTIMATORS = ("twfe", "sun_abraham", "imputation", "did2s", "cs", "etwfe")
KW = dict(y="y", unit="firm", time="year", cohort="g")


def staggered(seed: int = 0, n: int = 90, T: int = 8) -> pd.DataFrame:
    """Balanced panel, cohorts 2003 / 2005 / never, effect 1 + 0.5 * event time."""
    rng = np.random.default_rng(seed)
    g = rng.choice([2003.0, 2005.0, np.nan], size=n)
    firm = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(2000, 2000 + T), n)
    gi = g[firm]
    e = year - gi
    effect = np.where(e >= 0, 1.0 + 0.5 * e, 0.0)
    y = rng.normal(size=n)[firm] + 0.1 * (year - 2000) + effect + rng.normal(size=n * T)
    region = np.repeat(rng.integers(0, 40, size=n), T)
    return pd.DataFrame({"firm": firm, "year": year, "g": gi, "y": y, "region": region})


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _es(df, est, **k):
    return _quiet(impact.event_study, df, **{**KW, "estimator": est, "window": (-2, 2), **k})


def _step(df: pd.DataFrame, step: int) -> pd.DataFrame:
    return df.assign(year=2000 + step * (df["year"] - 2000), g=2000 + step * (df["g"] - 2000))


@pytest.mark.parametrize("est", ESTIMATORS)
def test_biennial_panel_counts_event_time_in_periods(est):
    """Before: twfe 0.147 for 0.712, sun_abraham exactly 0, cs invented zero rows,
    imputation/did2s read the window in years, etwfe a false EmptySampleError."""
    df = staggered(1)
    one, two = _es(df, est), _es(_step(df, 2), est)
    assert one.table["rel_time"].tolist() == two.table["rel_time"].tolist()
    assert_close(two.table["estimate"], one.table["estimate"], rtol=RTOL_CLOSED_FORM, atol=1e-12)
    assert_close(two.att, one.att, rtol=RTOL_CLOSED_FORM)
    assert two.att != 0.0


def test_att_gt_one_cluster_is_an_error_and_two_warn():
    """Before: every SE 0.0 with one cluster, no warning with two."""
    df = staggered(2).assign(one=1, two=lambda d: d["firm"] % 2)
    with pytest.raises(errors.ClusterError, match="'one' has 1 cluster"):
        _quiet(impact.att_gt, df, **KW, vcov={"cluster": "one"})
    with pytest.warns(errors.FewClustersWarning, match="only 2 clusters in 'two'"):
        impact.att_gt(df, **KW, vcov={"cluster": "two"})


@pytest.mark.parametrize("est", ["twfe", "sun_abraham", "cs", "did2s"])
def test_few_clusters_rule_is_the_same_for_event_studies(est):
    df = staggered(3).assign(one=1)
    with pytest.raises(errors.ClusterError, match="1 cluster"):
        _es(df, est, vcov={"cluster": "one"})


def test_sun_abraham_period_time_with_numeric_cohort():
    """Before: ATT exactly 0.0 (cohort years compared with Period ordinals)."""
    df = staggered(4)
    per = df.assign(year=pd.PeriodIndex([str(y) for y in df["year"]], freq="Y"))
    a, b = _es(df, "sun_abraham"), _es(per, "sun_abraham")
    assert b.att != 0.0
    assert_close(b.att, a.att, rtol=RTOL_CLOSED_FORM)


def test_twfe_drops_and_counts_always_treated_units():
    """Before: a unit treated before the first period was kept as a control, uncounted."""
    df = staggered(5)
    bad = df.copy()
    bad.loc[bad["firm"] < 3, "g"] = 1998.0
    with pytest.warns(errors.SampleDropWarning, match="always-treated"):
        r = impact.event_study(bad, **KW, estimator="twfe", window=(-2, 2))
    rec = [x for x in r.sample_log.records if x.step == "always_treated"]
    assert rec and rec[0].n_rows == 24 and rec[0].detail["units"] == 3
    clean = _es(df[df["firm"] >= 3], "twfe")
    assert_close(r.table["estimate"], clean.table["estimate"], rtol=RTOL_CLOSED_FORM)


@pytest.mark.parametrize("est", ["twfe", "sun_abraham"])
def test_duplicate_rows_rejected_by_every_event_study(est):
    """Before: twfe and sun_abraham accepted duplicated (unit, time) rows."""
    df = staggered(6)
    bad = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(errors.DuplicateRowsError, match=r"\(0, 2000\)"):
        _es(bad, est)


def test_cohort_off_the_grid_is_an_error():
    """Before: cohort 2003.5 created an extra cohort labelled 2003."""
    df = staggered(7)
    df.loc[df["firm"] == 5, "g"] = 2003.5
    with pytest.raises(errors.CohortError, match=r"2003\.5 of unit 5"):
        _quiet(impact.att_gt, df, **KW)
    two = _step(staggered(7), 2)
    two.loc[two["firm"] == 5, "g"] = 2005.0  # not a period of 2000, 2002, ...
    with pytest.raises(errors.CohortError, match="step 2"):
        _es(two, "twfe")


@pytest.mark.parametrize("bad", [-1, 0.5, True, "1"])
def test_anticipation_must_be_whole_periods(bad):
    """Before: anticipation=-1 was accepted and gave a garbage number."""
    with pytest.raises(errors.InvalidOptionError, match="anticipation"):
        _quiet(impact.att_gt, staggered(8), **KW, anticipation=bad)


def test_zero_weights_drop_units_and_are_counted():
    """Before: zero unit weights dropped units without a SampleLog entry."""
    df = staggered(9).assign(w=1.0)
    df.loc[df["firm"] < 4, "w"] = 0.0
    with pytest.warns(errors.SampleDropWarning, match="zero weight"):
        r = impact.att_gt(df, **KW, weights="w")
    assert r.sample_log.dropped("zero_weight") == 32
    ref = _quiet(impact.att_gt, df[df["firm"] >= 4], **KW, weights="w")
    assert_close(r.table["estimate"], ref.table["estimate"], rtol=RTOL_CLOSED_FORM)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: impact.att_gt(d, **KW),
        lambda d: impact.event_study(d, **KW, estimator="twfe"),
        lambda d: impact.etwfe(d, **KW, family="linear"),
    ],
)
def test_empty_frame_and_string_outcome_are_typed(call):
    """Before: numpy/pandas ValueErrors from deep inside."""
    df = staggered(10)
    with pytest.raises(errors.EmptySampleError, match="no rows"):
        _quiet(call, df.iloc[:0])
    bad = df.astype({"y": object})
    bad.loc[4, "y"] = "n/a"
    with pytest.raises(errors.ColumnTypeError, match=r"'y' must be numeric.*'n/a' at row 4"):
        _quiet(call, bad)


def test_cohort_from_membership_yes_no_is_typed():
    df = staggered(11).assign(member=lambda d: np.where(d["year"] >= d["g"], "yes", "no"))
    with pytest.raises(errors.ColumnTypeError, match="'yes'|'no'"):
        impact.cohort_from_membership(df, unit="firm", time="year", member="member")


def test_missing_ids_are_named_as_ids():
    """Before: a NaN unit id read as 'cohort varies within a unit (unit code 59)', a NaN
    time as 'infinite values'."""
    df = staggered(12)
    bad = df.astype({"firm": float})
    bad.loc[7, "firm"] = np.nan
    with pytest.raises(errors.MissingIdError, match="unit id column 'firm' is missing on 1"):
        _quiet(impact.att_gt, bad, **KW)
    bad = df.astype({"year": float})
    bad.loc[7, "year"] = np.nan
    with pytest.raises(errors.MissingIdError, match="time column 'year' is missing on 1"):
        _es(bad, "twfe")


def test_within_unit_errors_name_the_users_id():
    df = staggered(13).assign(firm=lambda d: "firm_" + d["firm"].astype(str))
    df.loc[df.index[(df["firm"] == "firm_7") & (df["year"] == 2004)], "g"] = 2006.0
    with pytest.raises(errors.ImpactError, match="within unit 'firm_7'"):
        _quiet(impact.att_gt, df, **KW)


@pytest.mark.parametrize(
    "call",
    [
        lambda d, **k: impact.att_gt(d, **KW, **k).aggregate("simple").estimate,
        lambda d, **k: impact.event_study(d, **KW, estimator="twfe", **k).att,
        lambda d, **k: (
            impact.etwfe(d, **KW, family="linear", **k).aggregate("simple").table["estimate"][0]
        ),
    ],
)
def test_datetime_time_freq_accepted_or_inferred(call):
    """Before: datetime time asked for a freq= that att_gt/event_study/etwfe did not have."""
    df = staggered(14)
    dt = df.assign(year=pd.to_datetime(df["year"].astype(str) + "-07-01"))
    ref = _quiet(call, df)
    assert_close(_quiet(call, dt, freq="Y"), ref, rtol=RTOL_CLOSED_FORM)
    jan = df.assign(year=pd.to_datetime(df["year"].astype(str) + "-01-01"))
    assert_close(_quiet(call, jan), ref, rtol=RTOL_CLOSED_FORM)  # inferred: yearly


@pytest.mark.parametrize("est", ["twfe", "sun_abraham", "imputation", "did2s"])
def test_event_studies_announce_their_sample_once(est):
    """Before: drops silenced in es_regressions; imputation/did2s never announced."""
    df = staggered(15)
    df.loc[[3, 10, 20], "y"] = np.nan
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        r = impact.event_study(df, **KW, estimator=est, window=(-2, 2))
    notes = [w for w in rec if issubclass(w.category, errors.SampleDropWarning)]
    assert len(notes) == 1 and "3 rows with missing" in str(notes[0].message)
    assert r.sample_log.dropped("missing") == 3


def test_period_labels_in_att_gt_table():
    df = staggered(16)
    two = _quiet(impact.att_gt, _step(df, 2), **KW)
    assert set(two.table["cohort"]) == {2006, 2010}
    dyn = two.aggregate("dynamic")
    assert dyn.table["rel_time"].diff().dropna().eq(1).all()  # event time in periods


# ---------------------------------------------------------------- hostile review mends


@pytest.mark.parametrize("est", ["twfe", "imputation", "cs"])
def test_a_dropped_unit_does_not_change_the_period_grid(est):
    """Before: an always-treated unit observed in odd years turned a step-2 grid into
    step 1 (twfe 1.04 -> 0.18), though it was dropped."""
    df = _step(staggered(17), 2)
    stray = pd.DataFrame({"firm": 999, "year": [2001, 2003], "g": 1990.0, "y": 0.0})
    a = _es(df, est)
    b = _es(pd.concat([df, stray], ignore_index=True), est)
    assert_close(b.table["estimate"], a.table["estimate"], rtol=RTOL_CLOSED_FORM, atol=1e-12)
    assert b.sample_log.dropped("always_treated") == 2


def test_cohort_in_another_frequency_or_mid_period_is_an_error():
    """Before: an annual Period cohort on quarterly time became Q4; a mid-year date was
    rounded down to the year's first period."""
    df = staggered(18)
    q = df.assign(year=pd.PeriodIndex([f"{y}Q1" for y in df["year"]], freq="Q"))
    q = q.assign(
        g=pd.PeriodIndex([pd.NaT if np.isnan(v) else str(int(v)) for v in q["g"]], freq="Y")
    )
    with pytest.raises(errors.CohortError, match="frequency"):
        _quiet(impact.att_gt, q, **KW)
    d = df.assign(year=pd.to_datetime(df["year"].astype(str) + "-01-01"))
    d = d.assign(
        g=pd.to_datetime(df["g"].map(lambda v: None if np.isnan(v) else f"{int(v)}-07-01"))
    )
    with pytest.raises(errors.CohortError, match="not a date of the time column"):
        _quiet(impact.att_gt, d, **KW)


@pytest.mark.parametrize("est", ["twfe", "sun_abraham", "cs"])
def test_unobserved_reference_period_is_an_error(est):
    """Before: twfe moved the normalisation silently, sun_abraham returned ATT 0.0 with SE
    0.0, cs normalised on g - 2 with a made-up -1 row."""
    df = staggered(19)
    df = df[(df["year"] != 2002) & (df["year"] != 2004)]  # both cohorts lose g - 1
    with pytest.raises(errors.ImpactError, match="reference"):
        _es(df, est, window=(-3, 2))


@pytest.mark.parametrize("est", ["twfe", "sun_abraham", "did2s"])
def test_reference_outside_the_window_is_an_error(est):
    with pytest.raises(errors.InvalidOptionError, match="must contain the reference"):
        _es(staggered(20), est, window=(-2, 3), reference=4)


def test_cs_reference_must_be_a_pre_period():
    with pytest.raises(errors.InvalidOptionError, match="reference must be -1 or earlier"):
        _es(staggered(20), "cs", reference=0)


def test_all_cells_nan_aggregate_is_an_error():
    """Before: aggregate('simple') returned 0.0, the others a raw ValueError."""
    r = _quiet(impact.att_gt, staggered(21), **KW, min_cell_units=10_000)
    for kind in ("simple", "group", "calendar", "dynamic"):
        with pytest.raises(errors.EmptySampleError, match="NaN"):
            r.aggregate(kind)


def test_nullable_pool_with_missing_values_is_typed():
    """Before: TypeError 'boolean value of NA is ambiguous'."""
    df = staggered(22)
    pool = pd.array(df["firm"] % 3 != 0, dtype="boolean")
    pool[3] = pd.NA
    with pytest.raises(errors.ImpactError, match="control_pool column 'pool' has 1 missing"):
        _quiet(impact.att_gt, df.assign(pool=pool), **KW, control_pool="pool")


@pytest.mark.parametrize("est", ["twfe", "imputation"])
def test_one_cohort_without_never_treated_names_the_missing_comparison(est):
    """Before: 'every regressor is collinear' (twfe), 'no untreated periods' (imputation)."""
    df = staggered(23).assign(g=2003.0)
    with pytest.raises(errors.ImpactError, match="comparison"):
        _es(df, est)
