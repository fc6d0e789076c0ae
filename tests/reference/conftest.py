"""Shared fixtures of the reference tests: HonestDiD's Medicaid example on moderndid's
ehec data (years before 2016, the 2015 cohort dropped) and its TWFE event study."""

from __future__ import annotations

import pandas as pd
import pytest
from moderndid import load_ehec

import impact


@pytest.fixture(scope="session")
def ehec() -> pd.DataFrame:
    df = load_ehec().to_pandas()
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    return df.assign(D=(df["yexp2"] == 2014).astype(float))


@pytest.fixture(scope="session")
def twfe(ehec):
    """HonestDiD's example: dins ~ i(year, D, ref = 2013) | stfips + year, by state."""
    return impact.feols(
        "dins ~ i(year, D, ref=2013) | stfips + year", ehec, vcov={"cluster": "stfips"}
    )


@pytest.fixture(scope="session")
def cs_dynamic_pair():
    """The full ehec panel's Callaway-Sant'Anna event study (universal base, never-treated
    controls, event times -5..2), estimated by moderndid and by impact: (theirs, ours)."""
    import warnings

    import moderndid as md
    import polars as pl

    data = load_ehec()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = md.att_gt(
            data=data.with_columns(pl.col("yexp2").fill_null(0).alias("g")), yname="dins",
            tname="year", idname="stfips", gname="g", base_period="universal",
            control_group="nevertreated",
        )  # fmt: skip
        ours = impact.att_gt(
            data.to_pandas(), y="dins", unit="stfips", time="year", cohort="yexp2",
            base_period="universal",
        ).aggregate("dynamic", min_e=-5, max_e=2)  # fmt: skip
    return md.aggte(gt, type="dynamic", min_e=-5, max_e=2), ours
