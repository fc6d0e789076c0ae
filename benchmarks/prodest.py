"""Time impact.prodest on the synthetic cluster panel (no Python peer estimates ACF).

Run: ``python benchmarks/prodest.py [--firms 2000 20000] [--repeat 2] [--boot 200]``.

Value-added Cobb-Douglas on the generator's panel (default scenario), with membership in
the law of motion, sector trends and the wage as excluded instrument, for OLS, Wooldridge
and ACF (point estimate with 4 restarts, no bootstrap), then ACF with ``--boot`` firm-block
bootstrap draws at the smallest size. The OLS step is also timed in pyfixest (the same
regression with firm-clustered SEs), the only part a Python peer covers. Best of
``--repeat`` warm calls; one process, run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from impact.datasets.cluster import PRODUCTION_COLUMNS

HERE = Path(__file__).resolve().parent
COLUMNS = dict(PRODUCTION_COLUMNS, group_trends="sector", exog_instruments="log_wage")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--firms", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--boot", type=int, default=200)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _data import timed

    import impact

    warnings.simplefilter("ignore")
    for n_firms in args.firms:
        df, _ = impact.datasets.cluster_panel(n_firms=n_firms, seed=7, full_truth=False)
        df["member"] = (df["year"] >= df["join_year"]).astype(float)
        rows = {}
        for method in ("ols", "wooldridge", "acf"):
            kw = {"n_boot": 2} if method == "acf" else {}

            def run(method=method, kw=kw, df=df):
                return impact.prodest(df, method=method, treatment="member", **COLUMNS, **kw)

            res, secs, mem = timed(run, args.repeat)
            rows[method] = secs
            coef = ", ".join(f"{v:.3f}" for v in res.coef)
            print(f"{len(df):>9,} rows  {method:<10} {secs:7.2f} s  {mem:7.0f} MiB  ({coef})")
        try:
            import pyfixest as pf

            d = df.assign(t=df["year"] - df["year"].mean())

            def peer(d=d):
                return pf.feols(
                    "log_va ~ log_emp + log_k + i(sector) + i(sector, t) | year",
                    data=d,
                    vcov={"CRV1": "firm_id"},
                )

            _, secs, _ = timed(peer, args.repeat)
            print(
                f"{'':>9}       pyfixest OLS {secs:7.2f} s  (impact OLS / pyfixest: "
                f"{rows['ols'] / secs:.2f})"
            )
        except ImportError:
            print("pyfixest not installed: no peer timing")
    df, _ = impact.datasets.cluster_panel(n_firms=min(args.firms), seed=7, full_truth=False)
    df["member"] = (df["year"] >= df["join_year"]).astype(float)

    def boot():
        return impact.prodest(df, method="acf", treatment="member", n_boot=args.boot, **COLUMNS)

    _, secs, _ = timed(boot, 1)
    print(f"{len(df):>9,} rows  ACF + {args.boot} bootstrap draws: {secs:.1f} s")


if __name__ == "__main__":
    main()
