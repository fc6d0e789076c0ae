"""Time impact's triple differences, dCDH and synthetic DiD against their Python peers.

Run: ``python benchmarks/designs.py [--units 20000] [--repeat 3]``.

- ``ddd`` (doubly robust, four covariates, never- and not-yet-treated comparisons) against
  moderndid's ``ddd`` on moderndid's own multi-period generator (``--units`` units, 3
  periods);
- ``did_multiplegt`` (5 effects, 2 placebos) against the authors' py_did_multiplegt_dyn
  and moderndid's ``did_multiplegt`` on moderndid's ``favara_imbs`` panel;
- ``synthdid`` on California's Proposition 99 (the point estimate and the jackknife of a
  three-state version): no installable Python peer (synthdid-py pins numpy 1.23 and
  pandas 1.5), so it is timed alone.

Each model: one warm-up call per library, then the best of ``--repeat`` alternating timed
calls. Ratios are impact / peer.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def _best(fns: dict, repeat: int) -> dict[str, float]:
    for fn in fns.values():
        fn()
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def ddd_models(units: int) -> dict[str, dict]:
    import moderndid as md

    import impact

    data = md.gen_ddd_mult_periods(n=units, dgp_type=1, random_state=1)["data"]
    pdf = data.to_pandas()
    covs = ["cov1", "cov2", "cov3", "cov4"]
    out = {}
    for control, theirs in (("never", "nevertreated"), ("notyet", "notyettreated")):
        out[f"ddd dr {control}"] = {
            "impact": lambda c=control: impact.ddd(
                pdf, y="y", unit="id", time="time", cohort="group", partition="partition",
                covariates=covs, control=c,
            ),
            "moderndid": lambda c=theirs: md.ddd(
                data, yname="y", tname="time", idname="id", gname="group", pname="partition",
                xformla="~ cov1 + cov2 + cov3 + cov4", control_group=c,
            ),
        }  # fmt: skip
    return out


def dcdh_models() -> dict[str, dict]:
    import moderndid as md
    import polars as pl

    import impact

    favara = impact.datasets.load("favara_imbs")
    kw = dict(effects=5, placebo=2)
    fns = {
        "impact": lambda: impact.did_multiplegt(
            favara, y="Dl_vloans_b", unit="county", time="year", treatment="inter_bra", **kw
        ),
        "moderndid": lambda: md.did_multiplegt(
            pl.from_pandas(favara), yname="Dl_vloans_b", idname="county", tname="year",
            dname="inter_bra", **kw,
        ),
    }  # fmt: skip
    try:
        from did_multiplegt_dyn import DidMultiplegtDyn
    except ImportError:
        return {"did_multiplegt 5 effects": fns}
    original = pl.count
    # the authors' 0.1.9 calls pl.count() for a row count (pl.len() since polars 1.0)
    pl.count = lambda *a, **k: pl.len() if not a and not k else original(*a, **k)
    fav_pl = pl.from_pandas(favara)
    fns["py_did_multiplegt_dyn"] = lambda: DidMultiplegtDyn(
        fav_pl, outcome="Dl_vloans_b", group="county", time="year", treatment="inter_bra",
        **kw,
    ).fit()  # fmt: skip
    return {"did_multiplegt 5 effects": fns}


def synthdid_models() -> dict[str, dict]:
    import impact

    prop99 = pd.read_csv(HERE.parent / "tests/reference/data/california_prop99.csv", sep=";")
    three = prop99.assign(
        treated=(prop99["State"].isin(["California", "Utah", "Nevada"])
                 & (prop99["Year"] >= 1989)).astype(int)
    )  # fmt: skip
    cols = dict(y="PacksPerCapita", unit="State", time="Year", treatment="treated")
    return {
        "synthdid estimate": {"impact": lambda: impact.synthdid(prop99, **cols, vcov=None)},
        "synthdid jackknife": {"impact": lambda: impact.synthdid(three, **cols, vcov="jackknife")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = {**ddd_models(args.units), **dcdh_models(), **synthdid_models()}
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fns in models.items():
            best = _best(fns, args.repeat)
            for lib, sec in best.items():
                ratio = best["impact"] / sec if lib != "impact" else float("nan")
                rows.append({"model": name, "library": lib, "seconds": round(sec, 4),
                             "impact / peer": round(ratio, 3)})  # fmt: skip
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
