"""impact.randomization_test: exact enumeration against a brute-force re-assignment written
here (itertools over the cells' launch values), random draws within Monte Carlo error of
it, strata kept, the assignment count in closed form, bad input, and the data untouched."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import ImpactError, InvalidOptionError
from impact.inference.assignments import (
    count_assignments,
    draw_assignments,
    enumerate_assignments,
)

#: Same statistics on the same assignments: agreement to rounding.
EXACT_TOL = 1e-12
#: Random draws against the exact p-value: four binomial sd of a share of B draws.
MC_SDS = 4.0


def _panel(seed: int = 0, cells: int = 8, per: int = 6, years=range(2004, 2012)):
    """Firms in cells; cells 0, 1 launch 2007, cells 2, 3 launch 2009, others never; a
    stratum splits cells in two halves; a small true effect."""
    rng = np.random.default_rng(seed)
    launch = {0: 2007.0, 1: 2007.0, 2: 2009.0, 3: 2009.0}
    rows = []
    for c in range(cells):
        for f in range(per):
            for t in years:
                rows.append((c * per + f, t, c, launch.get(c, np.nan), c % 2))
    d = pd.DataFrame(rows, columns=["firm", "year", "cell", "launch", "stratum"])
    shock = rng.normal(size=(cells, len(years)))[d["cell"], d["year"] - years[0]]
    treated = (d["year"] >= d["launch"]).to_numpy()
    d["y"] = rng.normal(size=len(d)) + shock + 0.2 * treated
    return d


def _estimator(d: pd.DataFrame):
    treated = (d["year"] >= d["launch"]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.feols("y ~ treated | cell + year", d.assign(treated=treated),
                            vcov={"cluster": "cell"})  # fmt: skip


def _brute_force(d: pd.DataFrame, stat: str, strata: bool) -> tuple[float, int]:
    """Every distinct arrangement of the cells' launch values (within strata) by
    itertools.permutations and a set; the share at least as extreme as observed."""
    cell_launch = d.groupby("cell")["launch"].first()
    cell_stratum = d.groupby("cell")["stratum"].first()
    groups = (
        [list(cell_launch.index[cell_stratum == s]) for s in (0, 1)]
        if strata
        else [list(cell_launch.index)]
    )
    per_group = []
    for g in groups:
        vals = [-1.0 if np.isnan(v) else v for v in cell_launch[g]]
        per_group.append(sorted(set(itertools.permutations(vals))))
    obs = _estimator(d).tidy().set_index("term").loc["treated", stat]
    hits = total = 0
    for combo in itertools.product(*per_group):
        mapping = {}
        for g, vals in zip(groups, combo, strict=True):
            mapping.update({c: (np.nan if v == -1.0 else v) for c, v in zip(g, vals, strict=True)})
        val = _estimator(d.assign(launch=d["cell"].map(mapping))).tidy().set_index("term")
        hits += abs(val.loc["treated", stat]) >= abs(obs) * (1 - 1e-9)
        total += 1
    return hits / total, total


@pytest.mark.parametrize("strata", [False, True])
def test_enumeration_equals_brute_force(strata):
    d = _panel()
    before = d.copy()
    res = impact.randomization_test(
        d, _estimator, term="treated", cell="cell", launch="launch",
        strata="stratum" if strata else None, draws=5000,
    )  # fmt: skip
    p, total = _brute_force(d, "statistic", strata)
    assert res.enumerated and res.draws == total == res.n_assignments
    assert abs(res.p_value - p) <= EXACT_TOL
    assert res.n_treated_cells == 4 and res.n_cells == 8
    pd.testing.assert_frame_equal(d, before)
    assert ("within strata of stratum" in res.assignment_model) == strata


def test_random_draws_within_monte_carlo_error_of_enumeration():
    d = _panel(seed=2)
    exact = impact.randomization_test(
        d, _estimator, term="treated", cell="cell", launch="launch", draws=5000
    )
    drawn = impact.randomization_test(
        d, _estimator, term="treated", cell="cell", launch="launch", draws=199, seed=3
    )
    assert exact.enumerated and not drawn.enumerated and drawn.draws == 199
    sd = np.sqrt(max(exact.p_value, 0.01) * (1 - exact.p_value) / 199)
    assert abs(drawn.p_value - exact.p_value) <= MC_SDS * sd + 1 / 200
    assert "420" in drawn.method  # 8! / (2! 2! 4!) assignments


def test_assignments_closed_form_and_strata():
    codes = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    strata = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    assert count_assignments(codes, np.zeros(8, dtype=int)) == math.factorial(8) // (2 * 2 * 24)
    assert count_assignments(codes, strata) == 12 * 12  # 4! / (1! 1! 2!) per stratum
    every = enumerate_assignments(codes, strata)
    assert len({tuple(r) for r in every}) == len(every) == 144
    assert any((r == codes).all() for r in every)
    drawn = draw_assignments(codes, strata, 200, np.random.default_rng(0))
    for rows in (every, drawn):
        for s in (0, 1):
            kept = np.sort(rows[:, strata == s], axis=1)
            assert (kept == np.sort(codes[strata == s])).all()


def test_few_launched_cells_warn_and_estimate_statistic():
    d = _panel()
    d = d.assign(launch=d["launch"].where(d["cell"] < 2))  # two launched cells
    with pytest.warns(UserWarning, match="Only 2 launched"):
        res = impact.randomization_test(
            d, _estimator, term="treated", cell="cell", launch="launch", statistic="estimate"
        )
    assert res.enumerated and res.draws == 28  # 8 choose 2
    p, _ = _brute_force(d, "estimate", False)
    assert abs(res.p_value - p) <= EXACT_TOL
    assert "Only 2 launched" in res.summary()


def test_bad_input():
    d = _panel()
    kw = dict(term="treated", cell="cell", launch="launch")
    varying = d.assign(launch=d["launch"].where(d["firm"] != 0, 2005.0))
    cases = [
        (dict(data=varying, **kw), "varies within cells"),
        (dict(data=d, **kw, draws=10), "draws must be"),
        (dict(data=d, **{**kw, "cell": "cel"}), "not a column"),
        (dict(data=d, **{**kw, "term": "treat"}), "not a term"),
        (dict(data=d, **kw, statistic="z"), "statistic must be"),
        (dict(data=d, **kw, alternative="both"), "alternative must be"),
        (dict(data=d.assign(launch=2007.0), **kw), "every cell or no cell"),
        (dict(data=d, **kw, strata="firm"), "varies within cells"),
    ]
    for args, match in cases:
        with pytest.raises(InvalidOptionError, match=match):
            impact.randomization_test(estimator=_estimator, **args)
    with pytest.raises(InvalidOptionError, match="impact result"):
        impact.randomization_test(d, lambda x: 1.0, **kw)

    def fails(x):
        if not x["launch"].equals(d["launch"]):
            raise ImpactError("boom")
        return _estimator(x)

    with pytest.raises(ImpactError, match=r"re-assignment \d+: boom"):
        impact.randomization_test(d, fails, **kw)


def test_launch_dtypes_and_estimator_failures():
    """A nullable-integer launch column stays one in every re-assigned frame (the estimator
    sees <NA> comparisons there as on the data, so the observed assignment's statistic is
    in its distribution); text launch values and any estimator failure are typed."""
    d = _panel()
    kw = dict(term="treated", cell="cell", launch="launch", draws=5000)
    as_int = impact.randomization_test(
        d.assign(launch=d["launch"].astype("Int64")), _estimator, **kw
    )
    assert as_int.enumerated and np.isclose(as_int.distribution, as_int.statistic, rtol=1e-12).any()
    with pytest.raises(InvalidOptionError, match="must hold numbers"):
        impact.randomization_test(d.assign(launch=d["launch"].astype(str)), _estimator, **kw)

    def breaks(x):
        raise np.linalg.LinAlgError("singular")

    with pytest.raises(ImpactError, match="failed on the data: singular"):
        impact.randomization_test(d, breaks, **kw)
