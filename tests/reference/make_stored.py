"""Write the stored peer outputs in tests/reference/stored/ (not collected by pytest).

Runs pyfixest, moderndid and diff-diff on exactly the inputs the tests build
(peer_inputs.py) and writes each output at full precision (JSON floats are Python's
shortest round-trip repr; NaN as null) with the peer's name and version and the python,
numpy and pandas versions. The test_stored_*.py files compare impact with these numbers
without importing any peer.

    .venv/bin/python tests/reference/make_stored.py            # every file
    .venv/bin/python tests/reference/make_stored.py diff_diff  # files whose name starts so

Rerun after a deliberate change of an input builder or a peer upgrade, and read the diff:
a changed number is a peer's changed answer, to be understood before it is committed
(pyfixest's outputs move in their last digits from run to run, up to ~4e-12 relative,
which is noise). The tests compare at the tolerances of VERIFICATION.md section 2, so
values stored on one CPU hold on another.
mpdta (GPL) is read through moderndid's loader; only the peers' outputs are written.
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import peer_inputs as pi  # noqa: E402

from impact.errors import ImpactError  # noqa: E402

#: pyfixest demeans iteratively; far tighter than its default, so that the stored values
#: carry its conventions, not its convergence error (as in the live tests).
PYFIXEST_FIXEF_TOL = 1e-13
PYFIXEST_POIS_TOLS = {"fixef_tol": 1e-13, "iwls_tol": 1e-12, "iwls_maxiter": 100}
PYFIXEST_SATURATED_FIXEF_TOL = 1e-12


def _num(x) -> Any:
    """JSON-ready: floats at full precision (repr), NaN/inf as null, arrays as lists."""
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        return [_num(v) for v in np.asarray(x).tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


def _write(name: str, peer: str, cases: dict[str, dict[str, Any]], note: str) -> None:
    module = __import__(peer)
    head = {
        "peer": peer,
        "peer_version": module.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "made_by": "tests/reference/make_stored.py",
        "note": note,
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
    body = ",\n".join(
        f"    {json.dumps(cid)}: {json.dumps(_num(case), allow_nan=False)}"
        for cid, case in cases.items()
    )
    text = "{\n" + ",\n".join(lines) + ',\n  "cases": {\n' + body + "\n  }\n}\n"
    pi.STORED.mkdir(exist_ok=True)
    (pi.STORED / f"{name}.json").write_text(text, encoding="utf-8")
    print(f"{name}.json: {len(cases)} cases, {len(text) / 1024:.0f} KiB")


def _quiet(fn: Callable, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- pyfixest


def make_pyfixest_feols() -> None:
    import pyfixest as pf

    cases: dict[str, dict[str, Any]] = {}
    for seed in pi.FEOLS_SEEDS:
        df = pi.feols_panel(seed)
        for fe in pi.FEOLS_FES:
            for vname, vcov in pi.FEOLS_VCOVS.items():
                for w in pi.FEOLS_WEIGHTS:
                    ref = _quiet(
                        pf.feols,
                        f"y ~ x1 + x2 | {fe}",
                        data=df,
                        vcov=vcov,
                        weights=w,
                        fixef_tol=PYFIXEST_FIXEF_TOL,
                    )
                    cases[f"{seed}|{fe}|{vname}|{w}"] = {
                        "input": pi.input_fingerprint(df),
                        "names": list(ref.coef().index),
                        "coef": ref.coef().to_numpy(),
                        "se": ref.se().to_numpy(),
                        "pvalue": ref.pvalue().to_numpy(),
                        "nobs": int(ref._N),
                        "df_t": int(ref._df_t),
                    }
    df = pi.event_dummy_panel()
    ref = _quiet(
        pf.feols,
        "y ~ x1 + i(rel, ref=-1) | unit + year",
        data=df,
        vcov={"CRV1": "unit"},
        fixef_tol=PYFIXEST_FIXEF_TOL,
    )
    cases["event_dummies"] = {
        "input": pi.input_fingerprint(df),
        "names": list(ref.coef().index),
        "coef": ref.coef().to_numpy(),
        "se": ref.se().to_numpy(),
    }
    for seed, fe in ((6, ""), (7, " | unit + year")):
        df = pi.random_panel(seed)
        kw = {"fixef_tol": PYFIXEST_FIXEF_TOL} if fe else {}
        ref = _quiet(pf.feols, f"y ~ x1 + x2{fe}", data=df, vcov={"CRV3": "region"}, **kw)
        cases[f"crv3|{seed}{fe}"] = {
            "input": pi.input_fingerprint(df),
            "names": list(ref.coef().index),
            "coef": ref.coef().to_numpy(),
            "se": ref.se().to_numpy(),
        }
    _write(
        "pyfixest_feols",
        "pyfixest",
        cases,
        f"pf.feols with fixef_tol={PYFIXEST_FIXEF_TOL}; cases seed|fe|vcov|weights on "
        "peer_inputs.feols_panel(seed); event_dummies; CRV3 with and without FE.",
    )


def make_pyfixest_fepois() -> None:
    import pyfixest as pf

    cases: dict[str, dict[str, Any]] = {}
    for seed in pi.FEPOIS_SEEDS:
        df = pi.count_panel(seed)
        for fe in pi.FEPOIS_FES:
            for vname, vcov in pi.FEPOIS_VCOVS.items():
                for w in pi.FEOLS_WEIGHTS:
                    ref = _quiet(
                        pf.fepois,
                        f"cnt ~ x1 + x2 | {fe}",
                        data=df,
                        vcov=pi.pyfixest_vcov(vcov),
                        weights=w,
                        **PYFIXEST_POIS_TOLS,
                    )
                    cases[f"{seed}|{fe}|{vname}|{w}"] = {
                        "input": pi.input_fingerprint(df),
                        "coef": ref.coef().to_numpy(),
                        "se": ref.se().to_numpy(),
                        "deviance": float(ref.deviance),
                        "nobs": int(ref._N),
                    }
    df = pi.count_panel(3)
    ref = _quiet(
        pf.fepois,
        "cnt ~ x1 + x2 | unit + year",
        data=df,
        offset="log_expo",
        vcov={"CRV1": "unit"},
        **PYFIXEST_POIS_TOLS,
    )
    cases["offset"] = {
        "input": pi.input_fingerprint(df),
        "coef": ref.coef().to_numpy(),
        "se": ref.se().to_numpy(),
    }
    _write(
        "pyfixest_fepois",
        "pyfixest",
        cases,
        f"pf.fepois with {PYFIXEST_POIS_TOLS}; cases seed|fe|vcov|weights on "
        "peer_inputs.count_panel(seed); offset: count_panel(3), offset log_expo, CRV1 unit.",
    )


def _rel_dummy_regression(pf, d, *, y, unit, time, cluster, fixef_tol=None):
    kw = {"fixef_tol": fixef_tol} if fixef_tol else {}
    ref = _quiet(
        pf.feols, f"{y} ~ i(rel, ref=-1) | {unit} + {time}", data=d, vcov={"CRV1": cluster}, **kw
    )
    return {
        "input": pi.input_fingerprint(d),
        "names": list(ref.coef().index),
        "coef": ref.coef().to_numpy(),
        "se": ref.se().to_numpy(),
        "nobs": int(ref._N),
    }


def make_pyfixest_event_study() -> None:
    import pyfixest as pf

    cases: dict[str, dict[str, Any]] = {}
    # (seed, cluster, store the full vcov): the full matrix where a test reads off-diagonals
    runs = [(0, "unit", False), (0, "region", True), (1, "unit", False), (1, "region", False)]
    runs += [(2, "unit", False), (2, "region", False), (5, "unit", True)]
    for seed, cluster, full in runs:
        df = pi.staggered_panel(seed)
        ref = _quiet(
            pf.feols,
            "y ~ i(cell, ref=-1) | unit + year",
            data=pi.saturated_cells_design(df),
            vcov={"CRV1": cluster},
            fixef_tol=PYFIXEST_SATURATED_FIXEF_TOL,
        )
        names = ref.coef().index
        V = np.asarray(ref._vcov)
        case = {
            "input": pi.input_fingerprint(df),
            "cells": [int(n.split("[T.")[-1].rstrip("]").split("::")[-1]) for n in names],
            "coef": ref.coef().to_numpy(),
            "se": ref.se().to_numpy(),
            "nobs": int(ref._N),
        }
        if full:
            case["vcov_upper"] = V[np.triu_indices(len(V))]
        cases[f"saturated|{seed}|{cluster}"] = case
    for cluster in ("unit", "region"):
        df = pi.staggered_panel(4)
        d = pi.binned_rel_time(df, "g", None)
        cases[f"twfe_cells|4|{cluster}"] = _rel_dummy_regression(
            pf,
            d,
            y="y",
            unit="unit",
            time="year",
            cluster=cluster,
            fixef_tol=PYFIXEST_SATURATED_FIXEF_TOL,
        )
    for balanced in (True, False):
        d = pi.binned_rel_time(pi.synthetic_panel(balanced=balanced), "g", 0.0)
        cases[f"twfe|synthetic|balanced={balanced}"] = _rel_dummy_regression(
            pf,
            d,
            y="log_emp",
            unit="firm_id",
            time="year",
            cluster="firm_id",
            fixef_tol=PYFIXEST_FIXEF_TOL,
        )
    d = pi.did2s_panel(1)
    for cluster in ("unit", "state"):
        ref = _quiet(
            pf.did2s,
            d,
            yname="dep_var",
            first_stage="~ 0 | unit + year",
            second_stage="~ i(rel_year, ref=-1.0)",
            treatment="treat",
            cluster=cluster,
        )
        cases[f"did2s|1|{cluster}"] = {
            "input": pi.input_fingerprint(d),
            "names": list(ref.coef().index),
            "coef": ref.coef().to_numpy(),
            "se": ref.se().to_numpy(),
        }
    try:
        mp = pi.mpdta()
    except ImpactError as exc:  # moderndid (its loader) absent: say so, go on
        print(f"mpdta not available ({exc}); its pyfixest cases are not written")
    else:
        d = pi.binned_rel_time(mp, "first.treat", 0.0)
        cases["twfe|mpdta"] = _rel_dummy_regression(
            pf, d, y="lemp", unit="countyreal", time="year", cluster="countyreal"
        )
    _write(
        "pyfixest_event_study",
        "pyfixest",
        cases,
        "saturated: y ~ i(cell, ref=-1) | unit + year on peer_inputs.staggered_panel(seed) "
        f"(fixef_tol={PYFIXEST_SATURATED_FIXEF_TOL}; vcov_upper: the upper triangle, "
        "row by row, where stored); "
        "twfe_cells/twfe: binned relative-time dummies, never-treated at -1, window (-3, 3); "
        "did2s: pf.did2s on peer_inputs.did2s_panel(1) (its first stage's fixed effects are "
        "recovered at pyfixest's default tolerance: estimates within ~1e-8 absolute).",
    )


# ---------------------------------------------------------------- moderndid


def _md_att_gt(md, d, *, y, unit, time, cohort, **kw):
    return _quiet(md.att_gt, d, yname=y, tname=time, idname=unit, gname=cohort, boot=False, **kw)


def _md_aggregates(md, ref) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in pi.AGGREGATIONS:
        agg = _quiet(md.aggte, ref, type=kind, boot=False, cband=False)
        out[f"{kind}_att"] = float(agg.overall_att)
        out[f"{kind}_se"] = float(agg.overall_se)
    return out


def _md_dynamic(md, ref, **kw) -> dict[str, Any]:
    agg = _quiet(md.aggte, ref, type="dynamic", boot=False, cband=False, **kw)
    return {
        "event_times": np.asarray(agg.event_times),
        "att_by_event": np.asarray(agg.att_by_event),
        "se_by_event": np.asarray(agg.se_by_event),
        "overall_att": float(agg.overall_att),
        "overall_se": float(agg.overall_se),
    }


def _md_cells(ref) -> dict[str, Any]:
    return {
        "group": np.asarray(ref.groups),
        "time": np.asarray(ref.times),
        "att_gt": np.asarray(ref.att_gt),
        "se_gt": np.asarray(ref.se_gt, dtype=float),
    }


def make_moderndid_synthetic() -> None:
    import moderndid as md

    d = pi.synthetic_panel(balanced=True)
    kw = {"y": "log_emp", "unit": "firm_id", "time": "year", "cohort": "g"}
    cases: dict[str, dict[str, Any]] = {}
    for covariates in (None, ["ht", "emp0"]):
        for case in pi.SYNTHETIC_ATT_GT_CASES:
            ref = _md_att_gt(md, d, **kw, **pi.moderndid_kwargs(case, covariates))
            cases[f"att_gt|{pi.case_id(case, covariates)}"] = {
                "input": pi.input_fingerprint(d),
                **_md_cells(ref),
                **_md_aggregates(md, ref),
            }
    ref = _md_att_gt(md, d, **kw)
    for window in pi.DYNAMIC_WINDOWS:
        cases[f"dynamic|{json.dumps(window, sort_keys=True)}"] = {
            "input": pi.input_fingerprint(d),
            **_md_dynamic(md, ref, **window),
        }
    ref = _md_att_gt(md, d, **kw, base_period="universal")
    cases["cs_event_study|universal"] = {"input": pi.input_fingerprint(d), **_md_dynamic(md, ref)}
    _write(
        "moderndid_synthetic",
        "moderndid",
        cases,
        "att_gt (boot=False) and aggte (boot=False, cband=False) on "
        "peer_inputs.synthetic_panel(balanced=True): log_emp, firm_id, year, g; "
        "covariates ht + emp0 where named.",
    )


def make_moderndid_mpdta() -> None:
    import moderndid as md

    try:
        mp = pi.mpdta()
    except ImpactError as exc:
        print(f"mpdta not available ({exc}); moderndid_mpdta.json not written")
        return
    kw = {"y": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
    cases: dict[str, dict[str, Any]] = {}
    for covariates in (None, ["lpop"]):
        for case in pi.ATT_GT_CASES:
            ref = _md_att_gt(md, mp, **kw, **pi.moderndid_kwargs(case, covariates))
            cases[f"att_gt|{pi.case_id(case, covariates)}"] = {
                "input": pi.input_fingerprint(mp),
                **_md_cells(ref),
                **_md_aggregates(md, ref),
            }
    ref = _md_att_gt(md, mp, **kw)
    for window in pi.DYNAMIC_WINDOWS:
        cases[f"dynamic|{json.dumps(window, sort_keys=True)}"] = {
            "input": pi.input_fingerprint(mp),
            **_md_dynamic(md, ref, **window),
        }
    ref = _md_att_gt(md, mp, **kw, base_period="universal")
    cases["cs_event_study|universal"] = {"input": pi.input_fingerprint(mp), **_md_dynamic(md, ref)}
    w = pi.mpdta_weights(mp)
    ref = _md_att_gt(md, w, **kw, weightsname="w", xformla="~lpop")
    cases["weights|lpop"] = {"input": pi.input_fingerprint(w), **_md_cells(ref)}
    for g, t, s in pi.DR_IMPROVED_CELLS:
        y1, y0, D, X = pi.mpdta_cell(mp, g, t, s)
        ref = md.drdid_imp_panel(y1, y0, D, X, influence_func=True)
        cases[f"drdid_imp_panel|{g}|{t}|{s}"] = {
            "input": pi.input_fingerprint(mp),
            "att": float(ref.att),
            "se": float(ref.se),
        }
    for covariates in (None, ["lpop"]):
        for method in ("dr", "ipw", "reg"):
            for control in ("never", "notyet"):
                case = {"method": method, "control": control, "base_period": "varying"}
                case["anticipation"] = 0
                ref = _md_att_gt(md, mp, **kw, panel=False, **pi.moderndid_kwargs(case, covariates))
                cases[f"rcs|{pi.case_id(case, covariates)}"] = {
                    "input": pi.input_fingerprint(mp),
                    **_md_cells(ref),
                }
    _write(
        "moderndid_mpdta",
        "moderndid",
        cases,
        "att_gt (boot=False) and aggte (boot=False, cband=False) on mpdta (R did's "
        "minimum-wage panel, read with moderndid.load_mpdta; only outputs stored here): "
        "lemp, countyreal, year, first.treat; lpop as covariate where named; weights "
        "1 + (countyreal % 7) / 3; drdid_imp_panel on single 2x2 cells; rcs: panel=False.",
    )


# ---------------------------------------------------------------- diff-diff


def _dd_event_effects(ref) -> dict[str, Any]:
    effects = ref.event_study_effects
    keys = sorted(int(e) for e in effects)
    return {
        "rel_time": keys,
        "effect": [effects[e]["effect"] for e in keys],
        "se": [effects[e]["se"] for e in keys],
    }


def make_diff_diff() -> None:
    import diff_diff as dd

    cases: dict[str, dict[str, Any]] = {}
    inputs = {"synthetic|balanced=True": pi.synthetic_panel(balanced=True)}
    inputs["synthetic|balanced=False"] = pi.synthetic_panel(balanced=False)
    inputs["synthetic|balanced=False|singletons=False"] = pi.synthetic_panel(
        balanced=False, singletons=False
    )
    cols = {"outcome": "log_emp", "unit": "firm_id", "time": "year", "first_treat": "g"}
    try:
        inputs["mpdta"] = pi.mpdta()
    except ImpactError as exc:
        print(f"mpdta not available ({exc}); its diff-diff cases are not written")
    for name, d in inputs.items():
        kw = cols if name != "mpdta" else {**cols, "outcome": "lemp", "unit": "countyreal"}
        kw = kw if name != "mpdta" else {**kw, "first_treat": "first.treat"}
        if name != "synthetic|balanced=False":  # singletons: see peer_inputs.synthetic_panel
            ref = _quiet(dd.SunAbraham().fit, d, **kw)
            cases[f"sun_abraham|{name}"] = {
                "input": pi.input_fingerprint(d),
                **_dd_event_effects(ref),
            }
        ref = _quiet(dd.ImputationDiD().fit, d, **kw, aggregate="event_study")
        cases[f"imputation|{name}"] = {
            "input": pi.input_fingerprint(d),
            **_dd_event_effects(ref),
            "overall_att": float(ref.overall_att),
            "overall_se": float(ref.overall_se),
        }
    for seed in (1, 2):
        df = pi.etwfe_counts(seed)
        ref = _quiet(
            dd.ETWFE(method="poisson").fit,
            df,
            outcome="y",
            unit="unit",
            time="year",
            first_treat="g",
        )
        case: dict[str, Any] = {"input": pi.input_fingerprint(df)}
        gt = ref.group_time_effects
        keys = sorted(gt)
        case["cells_cohort"] = [int(g) for g, _ in keys]
        case["cells_period"] = [int(t) for _, t in keys]
        case["cells_att"] = [gt[k]["att"] for k in keys]
        case["cells_se"] = [gt[k]["se"] for k in keys]
        case["simple_att"] = float(ref.overall_att)
        case["simple_se"] = float(ref.overall_se)
        for kind in ("group", "calendar", "event_study"):
            agg = ref.aggregate(kind)
            eff = {
                "group": agg.group_effects,
                "calendar": agg.calendar_effects,
                "event_study": agg.event_study_effects,
            }[kind]
            ks = sorted(eff)
            case[f"{kind}_key"] = [int(k) for k in ks]
            case[f"{kind}_att"] = [eff[k]["att"] for k in ks]
            case[f"{kind}_se"] = [eff[k]["se"] for k in ks]
        cases[f"etwfe_poisson|{seed}"] = case
    _write(
        "diff_diff",
        "diff_diff",
        cases,
        "SunAbraham() and ImputationDiD(aggregate='event_study') defaults on the synthetic "
        "panels (log_emp, firm_id, year, g; 0 = never) and mpdta; ETWFE(method='poisson') "
        "on peer_inputs.etwfe_counts(seed).",
    )


MAKERS = {
    "pyfixest_feols": make_pyfixest_feols,
    "pyfixest_fepois": make_pyfixest_fepois,
    "pyfixest_event_study": make_pyfixest_event_study,
    "moderndid_synthetic": make_moderndid_synthetic,
    "moderndid_mpdta": make_moderndid_mpdta,
    "diff_diff": make_diff_diff,
}


def main(argv: list[str]) -> None:
    chosen = [n for n in MAKERS if not argv or any(n.startswith(a) for a in argv)]
    for name in chosen:
        MAKERS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
