"""Time impact.feols against pyfixest and linearmodels on the same staggered firm panel.

Run: ``python benchmarks/twfe.py [--sizes 150000 1500000] [--repeat 3]``.

Every (library, size, model) runs in its own subprocess so that peak memory (the
high-water mark of the timed fits above the resident size after the warm-up) is
attributable; inside it, one
warm-up fit precedes the timed fits (best of ``--repeat``). Prints a table with
estimation time, peak memory and the ratio impact/peer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_YEARS = 15

MODELS = {
    "firm+year": ("y ~ member + x1 | firm + year", ["firm", "year"]),
    "firm+year+ind^year": ("y ~ member + x1 | firm + year + industry^year", None),
}


def _fit_callable(lib: str, model: str, df):
    fml, _ = MODELS[model.removesuffix("-wide")]
    if lib == "impact":
        import impact

        return lambda: impact.feols(fml, data=df, vcov={"cluster": "firm"}).coef["member"]
    if lib == "pyfixest":
        import pyfixest as pf

        return lambda: pf.feols(fml, data=df, vcov={"CRV1": "firm"}).coef()["member"]
    if lib == "linearmodels":
        from linearmodels.panel import PanelOLS

        if model.removesuffix("-wide") != "firm+year":
            return None
        d = df.set_index(["firm", "year"])

        def run():
            m = PanelOLS(d["y"], d[["member", "x1"]], entity_effects=True, time_effects=True)
            return m.fit(cov_type="clustered", cluster_entity=True).params["member"]

        return run
    raise ValueError(lib)


def worker(lib: str, n_rows: int, model: str, repeat: int) -> dict:
    sys.path.insert(0, str(HERE))
    from _data import split_model, staggered_panel, timed, widen

    warnings.simplefilter("ignore")
    df = staggered_panel(round(n_rows / (N_YEARS * 0.9)), N_YEARS)
    if split_model(model)[1]:  # the same model on a frame with unused columns
        df = widen(df)
    fn = _fit_callable(lib, model, df)
    if fn is None:
        return {"skipped": True}
    est, best, peak = timed(fn, repeat)
    return {"rows": len(df), "time": best, "peak_mb": peak, "member": float(est)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150_000, 1_500_000])
    ap.add_argument("--models", nargs="+", default=list(MODELS), help="a model, or <model>-wide")
    ap.add_argument("--libs", nargs="+", default=["impact", "pyfixest", "linearmodels"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", nargs=4, metavar=("LIB", "ROWS", "MODEL", "REPEAT"))
    args = ap.parse_args()
    if args.worker:
        lib, rows, model, repeat = args.worker
        print(json.dumps(worker(lib, int(rows), model, int(repeat))))
        return
    import importlib.metadata as md

    versions = {}
    for lib in args.libs:
        try:
            versions[lib] = md.version(lib)
        except md.PackageNotFoundError:
            versions[lib] = "not installed"
    print("versions:", versions)
    print(
        f"{'model':<20} {'rows':>10} {'library':<13} {'time s':>8} {'peak MB':>9} "
        f"{'time ratio':>11} {'mem ratio':>10} {'member':>10}"
    )
    for model in args.models:
        for size in args.sizes:
            res = {}
            for lib in args.libs:
                if versions[lib] == "not installed":
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", lib, str(size), model, str(args.repeat)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    print(f"{model:<20} {size:>10} {lib:<13} failed: {out.stderr.strip()[-200:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                if r.get("skipped"):
                    continue
                res[lib] = r
            base = res.get("impact")
            for lib, r in res.items():
                tr = base["time"] / r["time"] if base else float("nan")
                mr = base["peak_mb"] / r["peak_mb"] if base and r["peak_mb"] > 0 else float("nan")
                print(
                    f"{model:<20} {r['rows']:>10} {lib:<13} {r['time']:>8.3f} {r['peak_mb']:>9.0f} "
                    f"{tr:>11.3f} {mr:>10.3f} {r['member']:>10.6f}"
                )
    print("ratios are impact / peer (below 1: impact faster or leaner)")


if __name__ == "__main__":
    main()
