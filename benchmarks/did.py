"""Time impact's staggered DiD estimators against moderndid, diff-diff, csdid and pyfixest.

Run: ``python benchmarks/did.py [--sizes 150000 1500000] [--repeat 3] [--libs ...]``
(``benchmarks/run_all.py`` runs every comparison of the speed issue in one command).

A balanced firm-year panel (15 years, staggered membership, two time-invariant covariates)
is built once per size; every library estimates ATT(g,t) with never-treated controls,
unconditionally and with the doubly robust estimator and both covariates, analytic
standard errors (no bootstrap). The event studies (every relative time, unit-clustered
standard errors) are timed against their peers (:data:`PEERS`): Sun-Abraham and
imputation against diff-diff, two-stage DiD against diff-diff and pyfixest, the TWFE event
study against pyfixest's ``feols`` with ``i(rel, ref=-1)``, extended TWFE (linear) against
diff-diff's ``WooldridgeDiD``; the Callaway-Sant'Anna event study (``cs-es``) for impact
alone. Each (library, size, model) runs in its own subprocess: one warm-up call, then the
best of ``--repeat`` timed calls; peak memory is the high-water mark of the timed calls
above the resident size after the warm-up (``_data.timed``). Ratios are impact / peer. Every model also runs as
``<model>-wide``: the same panel with 20 unused columns (what an estimator that copies or
validates the whole frame pays), e.g. ``--models unconditional unconditional-wide``.
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
    """Balanced staggered panel with cohort ``g`` (0 = never treated) and covariates."""
    rng = np.random.default_rng(seed)
    n = n_rows // N_YEARS
    firm = np.repeat(np.arange(n), N_YEARS)
    year = np.tile(np.arange(2005, 2005 + N_YEARS), n)
    g = rng.choice(np.r_[np.arange(2008, 2016), [0] * 4], n)
    x1, x2 = rng.normal(size=n), rng.uniform(size=n)
    alpha = rng.normal(size=n) + 0.3 * x1
    treated = (g[firm] > 0) & (year >= g[firm])
    y = (
        alpha[firm]
        + 0.02 * (year - 2005) * (1 + x2[firm])
        + 0.1 * treated
        + rng.normal(size=firm.size)
    )
    return pd.DataFrame(
        {"firm": firm, "year": year, "g": g[firm], "x1": x1[firm], "x2": x2[firm], "y": y}
    )


#: Event-study estimators of impact by benchmark model.
EVENT_MODELS = {
    "sun-abraham": "sun_abraham",
    "imputation": "imputation",
    "did2s": "did2s",
    "twfe-es": "twfe",
    "cs-es": "cs",
}
#: The peers that estimate each model.
PEERS = {
    "unconditional": ("moderndid", "diff-diff", "csdid"),
    "dr-2cov": ("moderndid", "diff-diff", "csdid"),
    "sun-abraham": ("diff-diff",),
    "imputation": ("diff-diff",),
    "did2s": ("diff-diff", "pyfixest"),
    "twfe-es": ("pyfixest",),
    "etwfe": ("diff-diff",),
    "cs-es": (),
}
#: Every relative time of the benchmark panel (cohorts 2008-2015, years 2005-2019).
WINDOW = (-10, 11)


def _relative_time(df: pd.DataFrame) -> pd.DataFrame:
    """pyfixest's inputs: event time (never-treated at the reference -1) and treatment."""
    treated = df["g"].to_numpy() > 0
    rel = np.where(treated, df["year"] - df["g"], -1).astype(float)
    return df.assign(rel=rel, treat=treated & (rel >= 0))


def _event_runner(lib: str, model: str, df: pd.DataFrame):
    if lib == "impact" and model == "etwfe":
        import impact

        d = df.assign(cohort=df["g"].replace(0, np.nan))
        return lambda: impact.etwfe(
            d, y="y", unit="firm", time="year", cohort="cohort", family="linear"
        )
    if lib == "impact":
        import impact

        d = df.assign(cohort=df["g"].replace(0, np.nan))
        return lambda: impact.event_study(
            d,
            y="y",
            unit="firm",
            time="year",
            cohort="cohort",
            estimator=EVENT_MODELS[model],
            window=WINDOW,
        )
    if lib == "pyfixest":
        import pyfixest as pf

        d = _relative_time(df)
        if model == "twfe-es":
            fml = "y ~ i(rel, ref=-1.0) | firm + year"
            return lambda: pf.feols(fml, data=d, vcov={"CRV1": "firm"})
        return lambda: pf.did2s(
            d,
            yname="y",
            first_stage="~ 0 | firm + year",
            second_stage="~ i(rel, ref=-1.0)",
            treatment="treat",
            cluster="firm",
        )
    if lib == "diff-diff":
        import diff_diff as dd

        if model == "etwfe":
            est = dd.WooldridgeDiD(method="ols", control_group="not_yet_treated", cluster="firm")
            return lambda: est.fit(df, outcome="y", unit="firm", time="year", first_treat="g")
        if model == "sun-abraham":
            est = dd.SunAbraham(cluster="firm")
            return lambda: est.fit(df, outcome="y", unit="firm", time="year", first_treat="g")
        est = dd.ImputationDiD() if model == "imputation" else dd.TwoStageDiD()
        return lambda: est.fit(
            df, outcome="y", unit="firm", time="year", first_treat="g", aggregate="event_study"
        )
    raise ValueError(f"{lib} is not benchmarked for {model}")


def _runner(lib: str, covs: list[str], df: pd.DataFrame):
    if lib == "impact":
        import impact

        d = df.assign(cohort=df["g"].replace(0, np.nan))
        return lambda: impact.att_gt(
            d,
            y="y",
            unit="firm",
            time="year",
            cohort="cohort",
            covariates=covs or None,
            method="dr",
            panel="balanced",
        )
    if lib == "moderndid":
        import moderndid as md

        xf = "~" + "+".join(covs) if covs else None
        return lambda: md.att_gt(
            df,
            yname="y",
            tname="year",
            idname="firm",
            gname="g",
            xformla=xf,
            est_method="dr",
            boot=False,
        )
    if lib == "diff-diff":
        import diff_diff as dd

        est = dd.CallawaySantAnna(estimation_method="dr", cband=False)
        return lambda: est.fit(
            df, outcome="y", unit="firm", time="year", first_treat="g", covariates=covs or None
        )
    if lib == "csdid":
        from csdid.att_gt import ATTgt

        xf = "y~" + "+".join(covs) if covs else None
        return lambda: ATTgt(
            yname="y", tname="year", idname="firm", gname="g", data=df, xformla=xf
        ).fit(est_method="dr", bstrap=False)
    raise ValueError(lib)


def worker(lib: str, rows: int, model: str, repeat: int) -> dict:
    sys.path.insert(0, str(HERE))
    from _data import timed

    warnings.simplefilter("ignore")
    from _data import split_model, widen

    model, wide = split_model(model)
    df = panel(rows)
    if wide:  # the same model on a frame with unused columns
        df = widen(df)
    covs = ["x1", "x2"] if model == "dr-2cov" else []
    event = model in EVENT_MODELS or model == "etwfe"
    fn = _event_runner(lib, model, df) if event else _runner(lib, covs, df)
    _, best, peak = timed(fn, repeat)
    return {"rows": len(df), "time": best, "peak_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[150_000])
    ap.add_argument(
        "--models",
        nargs="+",
        default=["unconditional", "dr-2cov", "sun-abraham", "imputation"],
    )
    ap.add_argument(
        "--libs", nargs="+", default=["impact", "moderndid", "diff-diff", "csdid", "pyfixest"]
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--worker", nargs=4)
    args = ap.parse_args()
    if args.worker:
        lib, rows, model, repeat = args.worker
        print(json.dumps(worker(lib, int(rows), model, int(repeat))))
        return
    import importlib.metadata as md

    print("versions:", {lib: md.version(lib) for lib in args.libs})
    print(
        f"{'model':<18} {'rows':>9} {'library':<10} {'time s':>8} {'peak MB':>8} {'time ratio':>10} {'mem ratio':>9}"
    )
    for model in args.models:
        for size in args.sizes:
            res = {}
            for lib in args.libs:
                if lib != "impact" and lib not in PEERS[model.removesuffix("-wide")]:
                    continue
                try:
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--worker",
                            lib,
                            str(size),
                            model,
                            str(args.repeat),
                        ],
                        capture_output=True,
                        text=True,
                        timeout=args.timeout,
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    print(f"{model:<18} {size:>9} {lib:<10} timed out after {args.timeout}s")
                    continue
                if out.returncode != 0:
                    print(f"{model:<18} {size:>9} {lib:<10} failed: {out.stderr.strip()[-160:]}")
                    continue
                res[lib] = json.loads(out.stdout.strip().splitlines()[-1])
            base = res.get("impact")
            for lib, r in res.items():
                tr = base["time"] / r["time"] if base else float("nan")
                mr = base["peak_mb"] / r["peak_mb"] if base and r["peak_mb"] > 0 else float("nan")
                print(
                    f"{model:<18} {r['rows']:>9} {lib:<10} {r['time']:>8.2f} {r['peak_mb']:>8.0f} {tr:>10.3f} {mr:>9.3f}"
                )
    print("ratios are impact / peer (below 1: impact faster or leaner)")


if __name__ == "__main__":
    main()
