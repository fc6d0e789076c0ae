"""Time impact.fepois against pyfixest's fepois on the same synthetic count panel.

Run: ``python benchmarks/fepois.py [--sizes 150000 1500000] [--repeat 2] [--libs ...]``.

Firm-year panel (15 years, ~10% of firm-years missing), a Poisson count with firm and
year effects and two regressors (~60% zeros, so fixed-effect separation removes some
firms); both libraries estimate ``y ~ x1 + x2 | firm + year`` with firm-clustered SEs.
Each (library, size) runs in its own subprocess: one warm-up call, then the best of
``--repeat`` timed calls; peak memory is the high-water mark of the timed calls above the
resident size after the warm-up (``_data.timed``). Ratios are impact / peer. pyfixest runs with its default tolerances.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
N_YEARS = 15


def panel(n_rows: int, seed: int = 1) -> pd.DataFrame:
    """Unbalanced firm-year count panel with firm and year effects."""
    rng = np.random.default_rng(seed)
    n = n_rows // N_YEARS
    firm = np.repeat(np.arange(n), N_YEARS)
    year = np.tile(np.arange(2005, 2005 + N_YEARS), n)
    alpha = rng.normal(-1.0, 1.0, n)[firm]
    x1 = rng.normal(size=firm.size) + 0.3 * alpha
    x2 = rng.uniform(size=firm.size)
    mu = np.exp(alpha + 0.05 * (year - 2005) + 0.3 * x1 - 0.5 * x2)
    df = pd.DataFrame(
        {"firm": firm, "year": year, "x1": x1, "x2": x2, "y": rng.poisson(mu).astype(float)}
    )
    return df.loc[rng.uniform(size=len(df)) > 0.1].reset_index(drop=True)


def _runner(lib: str, df: pd.DataFrame):
    fml = "y ~ x1 + x2 | firm + year"
    if lib == "impact":
        import impact

        return lambda: impact.fepois(fml, df, vcov={"cluster": "firm"})
    if lib == "pyfixest":
        import pyfixest as pf

        return lambda: pf.fepois(fml, data=df, vcov={"CRV1": "firm"})
    raise ValueError(lib)


def worker(lib: str, rows: int, repeat: int, model: str = "fepois") -> dict:
    """Time one library on one size; ``model`` ``"fepois-wide"`` adds unused columns."""
    sys.path.insert(0, str(HERE))
    from _data import split_model, timed, widen

    warnings.simplefilter("ignore")
    df = panel(rows)
    if split_model(model)[1]:
        df = widen(df)
    result, best, peak = timed(_runner(lib, df), repeat)
    coef = result.coef() if callable(result.coef) else result.coef
    return {"rows": len(df), "time": best, "peak_mb": peak, "x1": float(coef["x1"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150_000])
    ap.add_argument("--libs", nargs="+", default=["impact", "pyfixest"])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--models", nargs="+", default=["fepois"], choices=["fepois", "fepois-wide"])
    ap.add_argument("--worker", nargs=4, metavar=("LIB", "ROWS", "MODEL", "REPEAT"))
    args = ap.parse_args()
    if args.worker:
        lib, rows, model, repeat = args.worker
        print(json.dumps(worker(lib, int(rows), int(repeat), model)))
        return
    import importlib.metadata as md

    print("versions:", {lib: md.version(lib) for lib in args.libs})
    print(
        f"{'rows':>9} {'library':<10} {'time s':>8} {'peak MB':>8} {'x1':>10} "
        f"{'time ratio':>10} {'mem ratio':>9}"
    )
    for size, model in [(z, m) for m in args.models for z in args.sizes]:
        res = {}
        for lib in args.libs:
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", lib, str(size), model, str(args.repeat)],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                print(f"{size:>9} {lib:<10} timed out after {args.timeout}s")
                continue
            if out.returncode != 0:
                print(f"{size:>9} {lib:<10} failed: {out.stderr.strip()[-160:]}")
                continue
            res[lib] = json.loads(out.stdout.strip().splitlines()[-1])
        base = res.get("impact")
        for lib, r in res.items():
            tr = base["time"] / r["time"] if base else float("nan")
            mr = base["peak_mb"] / r["peak_mb"] if base and r["peak_mb"] > 0 else float("nan")
            print(
                f"{r['rows']:>9} {lib:<10} {r['time']:>8.2f} {r['peak_mb']:>8.0f} "
                f"{r['x1']:>10.6f} {tr:>10.3f} {mr:>9.3f}"
            )
    print("ratios are impact / peer (below 1: impact faster or leaner)")


if __name__ == "__main__":
    main()
