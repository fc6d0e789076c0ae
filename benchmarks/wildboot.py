"""Time the wild cluster bootstrap (B = 9999, Rademacher, WCR) of impact against pyfixest
(which calls wildboottest) on the same staggered firm panel.

Run: ``python benchmarks/wildboot.py [--sizes 150000 1000000] [--repeat 2]``.

Models (clusters: 40 regions, firms nested in them):

- ``region FE``: ``y ~ member + x1 | region``, the one-way fixed effect nested in the
  clusters. pyfixest runs wildboottest on the regression with the fixed effects as dummy
  columns; impact absorbs them.
- ``firm+year FE``: ``y ~ member + x1 | firm + year``: year effects are not nested in the
  clusters. Only impact: pyfixest/wildboottest expand the fixed effects into dummies (here
  tens of thousands of columns), and neither has a WCR that absorbs non-nested effects.
- ``PPML score``: ``count ~ member + x1 | firm + year`` by fepois, the score bootstrap
  (Kline & Santos) with the null imposed (one restricted Poisson fit, then the draws).
  Only impact: no Python peer bootstraps Poisson fits (Stata's boottest does).

Every (library, size, model) runs in its own subprocess; one warm-up call precedes the
timed calls (best of ``--repeat``); the fit itself is outside the timing. Prints the
times, the ratio impact / pyfixest and both p-values (independent draws: they agree
within Monte Carlo error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_YEARS = 15
N_REGIONS = 40
B = 9999
MODELS = {
    "region FE": "y ~ member + x1 | region",
    "firm+year FE": "y ~ member + x1 | firm + year",
    "PPML score": "count ~ member + x1 | firm + year",
}


def _panel(n_rows: int):
    sys.path.insert(0, str(HERE))
    from _data import staggered_panel

    df = staggered_panel(round(n_rows / (N_YEARS * 0.9)), N_YEARS)
    df["region"] = (df["firm"] % N_REGIONS).astype(np.int64)
    rng = np.random.default_rng(7)
    df["count"] = rng.poisson(np.exp(0.5 + 0.1 * df["member"] + 0.1 * df["x1"]))
    return df


def _callable(lib: str, model: str, df):
    fml = MODELS[model]
    if lib == "impact":
        import impact

        estimator = impact.fepois if model == "PPML score" else impact.feols
        fit = estimator(fml, df, vcov={"cluster": "region"})
        return lambda: impact.wildboot(fit, param="member", B=B, seed=1).p_value
    if lib == "pyfixest":  # its wild bootstrap is OLS only
        if model != "region FE":
            return None
        import pyfixest as pf

        fit = pf.feols(fml, df, vcov={"CRV1": "region"})
        return lambda: float(fit.wildboottest(param="member", reps=B, seed=1)["Pr(>|t|)"])
    raise ValueError(lib)


def worker(lib: str, n_rows: int, model: str, repeat: int) -> dict:
    sys.path.insert(0, str(HERE))
    from _data import timed

    warnings.simplefilter("ignore")
    df = _panel(n_rows)
    fn = _callable(lib, model, df)
    if fn is None:
        return {"skipped": True}
    p, best, peak = timed(fn, repeat)
    return {"rows": len(df), "time": best, "peak_mb": peak, "p": float(p)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150_000, 1_000_000])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--libs", nargs="+", default=["impact", "pyfixest"])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--worker", nargs=4, metavar=("LIB", "ROWS", "MODEL", "REPEAT"))
    args = ap.parse_args()
    if args.worker:
        lib, rows, model, repeat = args.worker
        print(json.dumps(worker(lib, int(rows), model, int(repeat))))
        return
    import importlib.metadata as md

    versions = {lib: md.version(lib) for lib in args.libs}
    versions["wildboottest"] = md.version("wildboottest")
    print("versions:", versions, f"B = {B}, {N_REGIONS} region clusters")
    print(f"{'model':<14} {'rows':>9} {'library':<9} {'time s':>8} {'peak MB':>8} "
          f"{'ratio':>7} {'p':>8}")  # fmt: skip
    for model in args.models:
        for size in args.sizes:
            res = {}
            for lib in args.libs:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", lib, str(size), model, str(args.repeat)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if out.returncode != 0:
                    print(f"{model:<14} {size:>9} {lib:<9} failed: {out.stderr.strip()[-200:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if not r.get("skipped"):
                    res[lib] = r
            base = res.get("impact")
            for lib, r in res.items():
                ratio = base["time"] / r["time"] if base else float("nan")
                print(f"{model:<14} {r['rows']:>9} {lib:<9} {r['time']:>8.2f} "
                      f"{r['peak_mb']:>8.0f} {ratio:>7.3f} {r['p']:>8.4f}")  # fmt: skip
    print("ratio: impact / peer (below 1: impact faster). firm+year FE, PPML score: no peer.")


if __name__ == "__main__":
    main()
