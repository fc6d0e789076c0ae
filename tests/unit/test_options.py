"""Shared option checks (impact.options) and the repeated-column check of check_columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.columns import check_columns
from impact.errors import (
    ColumnNotFoundError,
    ImpactWarning,
    InvalidOptionError,
    RepeatedColumnError,
)
from impact.options import (
    check_alpha,
    check_choice,
    check_flag,
    check_seed,
    real_number,
    whole_number,
)


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan"), True, "0.05", None, [0.05]])
def test_alpha_outside_the_open_unit_interval_is_refused(bad):
    with pytest.raises(InvalidOptionError, match="alpha must be in"):
        check_alpha(bad)


def test_alpha_accepts_python_and_numpy_reals():
    assert check_alpha(np.float32(0.1)) == pytest.approx(0.1)
    assert isinstance(check_alpha(np.float64(0.05)), float)


@pytest.mark.parametrize("bad", [-1, 1.0, 2.5, "3", True, np.bool_(True), None])
def test_seed_must_be_a_whole_number_at_least_zero(bad):
    with pytest.raises(InvalidOptionError, match="seed must be an integer"):
        check_seed(bad)


def test_seed_optional_and_numpy_integers():
    assert check_seed(None, optional=True) is None
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.int64(7))) is int


@pytest.mark.parametrize("bad", [0, 1.0, "2", False, None])
def test_whole_numbers_name_the_option_and_bound(bad):
    with pytest.raises(InvalidOptionError, match="draws must be a whole number >= 1"):
        whole_number("draws", bad, 1)


def test_flag_choice_and_real_number():
    assert check_flag("f", np.bool_(False)) is False
    with pytest.raises(InvalidOptionError, match="f must be True or False"):
        check_flag("f", 1)
    check_choice("m", None, (None, "a"))
    with pytest.raises(InvalidOptionError, match="m must be one of 'a', 'b'"):
        check_choice("m", ["a"], ("a", "b"))
    with pytest.raises(InvalidOptionError, match="must be finite"):
        real_number("x", np.inf)


def test_check_columns_refuses_a_used_column_the_frame_holds_twice():
    d = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    check_columns(d, ["b"])  # an unused repeated name is not the caller's problem
    with pytest.raises(RepeatedColumnError, match="2 columns named 'a'"):
        check_columns(d, ["b", "a"])
    with pytest.raises(ColumnNotFoundError):
        check_columns(d, ["c"])


def _panel(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit, year = np.repeat(np.arange(n), 5), np.tile(np.arange(2000, 2005), n)
    g = rng.choice([2002.0, 2003.0, np.nan], n)[unit]
    y = rng.normal(size=unit.size) + np.where(year >= g, 1.0, 0.0)
    return pd.DataFrame({"unit": unit, "year": year, "g": g, "y": y})


ATT = dict(y="y", unit="unit", time="year", cohort="g")


@pytest.mark.parametrize(
    "kw",
    [{"min_cell_units": "2"}, {"min_cell_units": 0}, {"bootstrap": 1}, {"bootstrap": 9.0},
     {"bootstrap": 9, "seed": -1}, {"bootstrap": 9, "bootstrap_weights": "webb"},
     {"alpha": 0}, {"alpha": "0.05"}],
)  # fmt: skip
def test_att_gt_refuses_bad_counts_seeds_and_levels(kw):
    with pytest.raises(InvalidOptionError):
        impact.att_gt(_panel(), **ATT, **kw)


def test_att_gt_refuses_an_outcome_the_frame_holds_twice():
    d = _panel()
    with pytest.raises(RepeatedColumnError, match="'y'"):
        impact.att_gt(pd.concat([d, d[["y"]]], axis=1), **ATT)


def test_att_gt_warns_on_zero_standard_errors():
    d = _panel()
    d["y"] = np.where(d["year"] >= d["g"], 1.0, 0.0)  # a deterministic outcome
    with pytest.warns(ImpactWarning, match="standard error of zero"):
        res = impact.att_gt(d, **ATT)
    post = res.table[res.table["time"] >= res.table["cohort"]]
    assert np.allclose(post["estimate"], 1.0)


@pytest.mark.parametrize(
    "kw",
    [{"alpha": 1}, {"alpha": True}, {"alpha": float("nan")}, {"alpha": "0.05"},
     {"seed": -1}, {"seed": "3"}, {"seed": 1.5}, {"seed": True}],
)  # fmt: skip
def test_event_study_checks_alpha_and_seed(kw):
    with pytest.raises(InvalidOptionError):
        impact.event_study(_panel(), **ATT, estimator="twfe", **kw)


def _fe_panel() -> pd.DataFrame:
    d = _panel()
    return d.assign(x=np.random.default_rng(1).normal(size=len(d)))


@pytest.mark.parametrize(
    "kw",
    [{"fixef_tol": float("inf")}, {"fixef_tol": 0}, {"fixef_tol": "x"},
     {"fixef_tol": float("nan")}, {"fixef_maxiter": -1}, {"fixef_maxiter": "5"},
     {"drop_singletons": "False"}],
)  # fmt: skip
def test_feols_checks_its_solver_options(kw):
    with pytest.raises(InvalidOptionError):
        impact.feols("y ~ x | unit + year", _fe_panel(), **kw)


@pytest.mark.parametrize("kw", [{"tol": 0}, {"maxiter": 0}, {"fixef_tol": -1.0},
                                {"drop_singletons": 1}])  # fmt: skip
def test_fepois_checks_its_solver_options(kw):
    d = _fe_panel().assign(y=lambda d: np.exp(d["y"]))
    with pytest.raises(InvalidOptionError):
        impact.fepois("y ~ x | unit + year", d, **kw)
