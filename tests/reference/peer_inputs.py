"""Inputs shared by the live peer comparisons, the stored-value tests and make_stored.py.

Every data set here is built from code (numpy's seeded generators or impact's synthetic
panel), so the stored peer outputs in stored/ refer to inputs that exist wherever the tests
run. The one exception is mpdta (R did's minimum-wage panel, GPL), read at test time through
moderndid's loader and never copied into the repository.

Stored files hold each case's peer output at full precision (JSON floats are Python's
shortest round-trip repr) with the peer's name and version; ``input_fingerprint`` records a
few sums of each input, so that a changed input shows as such, not as an estimator bug.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from helpers import RTOL_CLOSED_FORM, assert_close, random_panel

import impact

STORED = Path(__file__).resolve().parent / "stored"

# ---------------------------------------------------------------- feols / fepois grids

#: Fixed-effect structures of the feols comparison (nested, cross-cutting, interacted).
FEOLS_FES = ["unit", "unit + year", "unit + year + grp", "unit + year + ind", "unit^ind + year"]
#: vcov specs in pyfixest's spelling (ours: see ``ours_vcov``).
FEOLS_VCOVS = {
    "iid": "iid",
    "hetero": "hetero",
    "CRV1-unit": {"CRV1": "unit"},
    "CRV1-region": {"CRV1": "region"},
    "CRV1-grp": {"CRV1": "grp"},
    "twoway": {"CRV1": "unit+year"},
}
FEOLS_SEEDS = [1, 2]
FEOLS_WEIGHTS = [None, "w"]

FEPOIS_FES = ["unit", "unit + year", "unit + year + grp"]
FEPOIS_VCOVS = {
    "iid": "iid",
    "hetero": "hetero",
    "cluster-unit": {"cluster": "unit"},
    "cluster-region": {"cluster": "region"},
}
FEPOIS_SEEDS = [1, 2]


def ours_vcov(spec):
    """pyfixest's ``{"CRV1": "a+b"}`` in impact's spelling."""
    if isinstance(spec, dict) and "CRV1" in spec:
        cols = spec["CRV1"].split("+")
        return {"cluster": cols if len(cols) > 1 else cols[0]}
    return spec


def pyfixest_vcov(spec):
    """impact's ``{"cluster": "a"}`` in pyfixest's spelling."""
    return {"CRV1": spec["cluster"]} if isinstance(spec, dict) else spec


def feols_panel(seed: int) -> pd.DataFrame:
    return random_panel(seed, n_units=80, drop_share=0.3)


def event_dummy_panel() -> pd.DataFrame:
    """random_panel(4) with a relative-time column binned at -3 and 3."""
    df = random_panel(4, n_units=80)
    rng = np.random.default_rng(0)
    first = rng.integers(2002, 2010, df["unit"].max() + 1)
    return df.assign(rel=(df["year"] - first[df["unit"]]).clip(-3, 3))


def count_panel(seed: int, n_units: int = 80) -> pd.DataFrame:
    """Counts with unit effects, an exposure offset and the random_panel structure."""
    df = random_panel(seed, n_units=n_units, drop_share=0.3)
    rng = np.random.default_rng(seed + 100)
    a = rng.normal(scale=0.5, size=df["unit"].max() + 1)[df["unit"]]
    expo = rng.uniform(0.5, 3.0, len(df))
    mu = expo * np.exp(0.3 * df["x1"] - 0.2 * df["x2"] + a + 0.1 * (df["year"] - 2000))
    return df.assign(cnt=rng.poisson(mu).astype(float), log_expo=np.log(expo))


# ---------------------------------------------------------------- staggered designs


def staggered_panel(seed: int, *, n_units=150, n_periods=9, never_share=0.3, drop=0.2, singles=4):
    """Unbalanced staggered panel with cohort effects growing in event time, singletons."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    year = np.tile(np.arange(2000, 2000 + n_periods), n_units)
    g_u = rng.choice(np.arange(2002, 2000 + n_periods), n_units).astype(float)
    g_u[rng.uniform(size=n_units) < never_share] = np.nan
    g = g_u[unit]
    region = rng.integers(0, 15, n_units)[unit]
    rel = year - g
    effect = np.where(np.nan_to_num(rel, nan=-1) >= 0, 0.2 + 0.1 * np.nan_to_num(rel), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.3 * (year - 2000) + effect + rng.normal(size=len(unit))
    df = pd.DataFrame({"unit": unit, "year": year, "g": g, "region": region, "y": y})
    keep = rng.uniform(size=len(df)) > drop
    # a few units observed once (singletons, dropped by both implementations)
    single_units = rng.choice(n_units, singles, replace=False)
    first_row = df.groupby("unit").head(1).index
    keep[np.isin(df["unit"], single_units)] = False
    keep[first_row[single_units]] = True
    return df.loc[keep].reset_index(drop=True)


def saturated_cells_design(df: pd.DataFrame) -> pd.DataFrame:
    """One dummy per treated (cohort, period) cell but the cohort's g - 1: ``cell`` codes
    g * 10000 + year, -1 for the reference and never-treated rows."""
    treated = df["g"].notna() & (df["year"] != df["g"] - 1)
    cell = np.where(treated, df["g"].fillna(0) * 10_000 + df["year"], -1).astype(np.int64)
    return df.assign(cell=cell)


def ours_saturated(df: pd.DataFrame, cluster: str):
    """impact's saturated cohort x period fit on ``staggered_panel`` data, after the
    two-way singleton drop: (cell codes g * 10000 + year, SaturatedFit)."""
    from impact.estimators.saturated import drop_two_way_singletons, saturated_fit

    d = df.copy()
    unit = pd.factorize(d["unit"], sort=True)[0]
    period = (d["year"] - d["year"].min()).to_numpy()
    d = d[drop_two_way_singletons(unit, period)]
    unit = pd.factorize(d["unit"], sort=True)[0]
    period = pd.factorize(d["year"], sort=True)[0]
    years = np.sort(d["year"].unique())
    cohorts = np.sort(d["g"].dropna().unique())
    ccode = np.where(d["g"].isna(), -1, np.searchsorted(cohorts, d["g"].fillna(cohorts[0])))
    ref = np.array([np.searchsorted(years, c - 1) if c - 1 in years else -1 for c in cohorts])
    cl = pd.factorize(d[cluster], sort=True)[0]
    fit = saturated_fit(d["y"].to_numpy(), unit, period, ccode, ref, cl)
    cells = (cohorts[fit.cohort] * 10_000 + years[fit.period]).astype(np.int64)
    return cells, fit


def binned_rel_time(
    d: pd.DataFrame, cohort: str, never: float | None, window=(-3, 3)
) -> pd.DataFrame:
    """``rel``: relative time binned at the window's ends, never-treated units at the
    reference -1 (the TWFE event study's dummies)."""
    is_never = d[cohort].isna() if never is None else d[cohort] == never
    return d.assign(rel=np.where(is_never, -1, (d["year"] - d[cohort]).clip(*window)))


def etwfe_counts(seed: int, n: int = 400, T: int = 8) -> pd.DataFrame:
    """Balanced count panel, cohorts 2003/2005/2006 and never-treated (0), multiplicative effects."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n), T)
    year = np.tile(np.arange(2001, 2001 + T), n)
    g = rng.choice([2003, 2005, 2006, 0, 0], n)[unit].astype(float)
    a = rng.normal(scale=0.5, size=n)[unit]
    treated = (g > 0) & (year >= g)
    mu = np.exp(0.5 + a + 0.05 * (year - 2001) + 0.2 * treated * (1 + 0.1 * (year - g)))
    y = rng.poisson(mu).astype(float)
    return pd.DataFrame({"unit": unit, "year": year, "g": g, "y": y, "ly": np.log1p(y)})


def did2s_panel(seed: int, *, n_units: int = 300, n_states: int = 40) -> pd.DataFrame:
    """Balanced 1990-2020 panel in the layout of R did2s's simulated data (states, cohorts
    2000 and 2010 and never-treated (g = 0), effects growing in event time); ``treat`` and
    ``rel_year`` (-inf for never-treated) as pyfixest's did2s wants them."""
    rng = np.random.default_rng(seed)
    years = np.arange(1990, 2021)
    unit = np.repeat(np.arange(1, n_units + 1), len(years))
    year = np.tile(years, n_units)
    state = rng.integers(1, n_states + 1, n_units)[unit - 1]
    g = rng.choice([2000.0, 2010.0, 0.0], n_units)[unit - 1]
    unit_fe = rng.normal(state / 10, 1.0)
    year_fe = rng.normal(0.0, 1.0, len(years))[year - years[0]]
    treat = (g > 0) & (year >= g)
    effect = np.where(treat, 2.0 + 0.05 * (year - g), 0.0)
    y = unit_fe + year_fe + effect + rng.normal(0.0, 0.5, len(unit))
    rel_year = np.where(g > 0, year - g, -np.inf)
    return pd.DataFrame(
        {
            "unit": unit,
            "year": year,
            "state": state,
            "g": g,
            "treat": treat,
            "rel_year": rel_year,
            "dep_var": y,
        }
    )


#: The synthetic cluster-firm panel behind the stored staggered-DiD comparisons.
SYNTHETIC = {"n_firms": 2000, "seed": 7}
#: Cohorts with fewer firms than this are left out: with two or three treated firms a
#: binary covariate can separate the propensity score, and peers then stop their logit
#: iterations at different points (moderndid vs impact differ by ~1e-5 there).
MIN_COHORT_FIRMS = 8


@functools.cache
def _synthetic() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df, _ = impact.datasets.cluster_panel(**SYNTHETIC)
    last = df["year"].max()
    # cohort as R did codes it: first treated year, 0 = never (joins after the panel too)
    g = df["join_year"].where(df["join_year"] <= last).fillna(0.0)
    out = pd.DataFrame(
        {
            "firm_id": df["firm_id"],
            "year": df["year"],
            "region": df["region"],
            "g": g,
            "log_emp": df["log_emp"],
            "ht": df["high_tech"].astype(float),
        }
    )
    out["emp0"] = out.groupby("firm_id")["log_emp"].transform("first")
    out["treat"] = (out["g"] > 0) & (out["year"] >= out["g"])
    out["rel_year"] = np.where(out["g"] > 0, out["year"] - out["g"], -np.inf)
    return out


def synthetic_panel(*, balanced: bool, singletons: bool = True) -> pd.DataFrame:
    """impact's synthetic panel (``SYNTHETIC``): firm_id, year, region, g (0 = never),
    log_emp, covariates ht (high-tech) and emp0 (first log employment), treat, rel_year.

    ``balanced=True``: firms observed in every year, cohorts with at least
    ``MIN_COHORT_FIRMS`` such firms (the others dropped). ``balanced=False``: every firm;
    ``singletons=False`` leaves out the firms observed once (impact drops them as fixest
    does; diff-diff keeps them in its residual degrees of freedom, which changes its SEs
    by ~6e-5 relative here).
    """
    df = _synthetic()
    if not singletons:
        df = df[df.groupby("firm_id")["year"].transform("size") > 1]
    if balanced:
        n = df.groupby("firm_id")["year"].transform("size")
        df = df[n == df["year"].nunique()]
        size = df.drop_duplicates("firm_id").groupby("g").size()
        df = df[df["g"].map(size) >= MIN_COHORT_FIRMS]
    return df.reset_index(drop=True).copy()


def mpdta() -> pd.DataFrame:
    """R did's mpdta through moderndid's data loader (raises ImpactError without it)."""
    return impact.datasets.load("mpdta")


def mpdta_weights(mp: pd.DataFrame) -> pd.DataFrame:
    """mpdta with unit-level sampling weights ``w`` = 1 + (countyreal mod 7) / 3."""
    return mp.assign(w=1.0 + (mp["countyreal"] % 7) / 3.0)


#: 2x2 cells (cohort g, period t, base s) of the improved doubly robust comparison.
DR_IMPROVED_CELLS = [(2004, 2004, 2003), (2006, 2007, 2005), (2007, 2005, 2004)]


def mpdta_cell(mp: pd.DataFrame, g: int, t: int, s: int):
    """One 2x2 cell of mpdta, cohort g against never-treated: y_t, y_s, D, [1, lpop]."""
    wide = mp.pivot(index="countyreal", columns="year", values="lemp")
    cohort = mp.groupby("countyreal")["first.treat"].first()
    lpop = mp.groupby("countyreal")["lpop"].first()
    keep = ((cohort == g) | (cohort == 0)).to_numpy()
    y1, y0 = wide[t].to_numpy()[keep], wide[s].to_numpy()[keep]
    D = (cohort.to_numpy()[keep] == g).astype(float)
    X = np.column_stack([np.ones(keep.sum()), lpop.to_numpy()[keep]])
    return y1, y0, D, X


#: att_gt options of the moderndid comparisons (mpdta grid, as the live tests).
ATT_GT_CASES = [
    {"method": m, "control": c, "base_period": b, "anticipation": a}
    for m in ("dr", "ipw", "reg")
    for c in ("never", "notyet")
    for b in ("varying", "universal")
    for a in (0, 1)
]
#: ... on the synthetic balanced panel: every method and control group, with and without
#: covariates; the universal base period and anticipation once each.
SYNTHETIC_ATT_GT_CASES = [
    {"method": m, "control": c, "base_period": "varying", "anticipation": 0}
    for m in ("dr", "ipw", "reg")
    for c in ("never", "notyet")
] + [
    {"method": "dr", "control": "notyet", "base_period": "universal", "anticipation": 0},
    {"method": "dr", "control": "never", "base_period": "varying", "anticipation": 1},
]
AGGREGATIONS = ("simple", "group", "calendar", "dynamic")
#: Dynamic aggregation windows (ours, moderndid's keywords are the same).
DYNAMIC_WINDOWS = [{"max_e": 2}, {"min_e": -2, "max_e": 2}, {"balance_e": 1}]


def case_id(case: dict[str, Any], covariates: list[str] | None = None) -> str:
    key = "-".join(str(v) for v in case.values())
    return f"{key}-{'+'.join(covariates) if covariates else 'unconditional'}"


def moderndid_kwargs(case: dict[str, Any], covariates: list[str] | None) -> dict[str, Any]:
    """moderndid.att_gt keywords of one case."""
    return {
        "est_method": case["method"],
        "control_group": "nevertreated" if case["control"] == "never" else "notyettreated",
        "base_period": case["base_period"],
        "anticipation": case["anticipation"],
        "xformla": ("~" + "+".join(covariates)) if covariates else None,
    }


# ---------------------------------------------------------------- stored files


def input_fingerprint(df: pd.DataFrame) -> dict[str, float]:
    """Rows and the sum of every numeric column: enough to tell that an input changed."""
    out: dict[str, float] = {"rows": float(len(df))}
    for col in df.columns:
        values = df[col]
        if values.dtype.kind in "biuf":
            v = values.to_numpy(dtype=float)
            out[f"sum:{col}"] = float(np.sum(v[np.isfinite(v)]))
    return out


def assert_same_input(df: pd.DataFrame, stored: dict[str, float]) -> None:
    """The test's input is the one the stored values were made from (else: rerun
    make_stored.py, or restore the input builder)."""
    now = input_fingerprint(df)
    assert set(now) == set(stored), "input columns changed: rerun tests/reference/make_stored.py"
    keys = sorted(stored)
    assert_close(
        [now[k] for k in keys], [stored[k] for k in keys], rtol=RTOL_CLOSED_FORM, atol=1e-9
    )


def _decode(value):
    if value is None:
        return float("nan")
    if isinstance(value, list) and all(v is None or isinstance(v, int | float) for v in value):
        return np.array([np.nan if v is None else v for v in value], dtype=float)
    return value


def load_stored(name: str) -> dict[str, Any]:
    """One stored file: ``peer``, ``peer_version``, ..., ``cases`` (id -> outputs)."""
    with (STORED / f"{name}.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    data["cases"] = {
        cid: {k: (v if k == "input" else _decode(v)) for k, v in case.items()}
        for cid, case in data["cases"].items()
    }
    return data


def stored_case(name: str, cid: str) -> dict[str, Any]:
    cases = _cached(name)["cases"]
    assert cid in cases, f"{name}: no stored case {cid!r}; rerun tests/reference/make_stored.py"
    return cases[cid]


@functools.cache
def _cached(name: str) -> dict[str, Any]:
    return load_stored(name)
