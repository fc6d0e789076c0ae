"""impact.evaluate: spec-driven report, renamed columns, typed errors, byte-identical output."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import impact
from impact.cli import main
from impact.errors import ColumnNotFoundError, InvalidOptionError
from impact.report.evaluation import Evaluation
from impact.report.prepare import InternalColumns, internal_columns
from impact.report.registry import FIGURE_BUILDERS, TABLE_BUILDERS
from impact.report.selection import BaselineFirms
from impact.report.spec import Columns, OutcomeFamily, Production, Spec

ROOT = Path(__file__).resolve().parents[2]

#: Same data, same spec, different column names: estimates agree to rounding only.
RENAME_TOL = 1e-10


@pytest.fixture(scope="module")
def panel(s4_panel):
    return s4_panel


def _small_spec(**kw) -> Spec:
    base = dict(
        families=(
            OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs", "cs_notyet", "imputation")),
            OutcomeFamily("innovation", ("rd_performer",), "binary", ("cs", "sun_abraham")),
            OutcomeFamily("counts", ("patents",), "count"),
        ),
        production=None,
        tables=("descriptives", "rollout", "selection", "balance", "main", "dynamic"),
        figures=("event_study", "rollout"),
    )
    return Spec(**{**base, **kw})


def test_shipped_config_equals_the_default_spec():
    spec = Spec.from_toml(ROOT / "replication" / "config.toml")
    assert spec == Spec() and spec.to_dict() == Spec().to_dict()


def test_report_tables_trace_to_public_calls(panel):
    df, truth = panel
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, _small_spec(), truth=truth)
        pd.testing.assert_frame_equal(df, before)  # the user's frame is not modified
        main_tab = rep.table("main").set_index(["outcome", "estimator"])
        pool = ~df["cluster_cell"]
        gt = impact.att_gt(
            df.assign(pool=pool, ht=df["high_tech"].astype(float)),
            y="log_emp", unit="firm_id", time="year", cohort="join_year",
            control_pool="pool", covariates=["ht"], vcov={"cluster": "firm_id"},
        )  # fmt: skip
    agg = gt.aggregate("dynamic", min_e=0, max_e=5)
    row = main_tab.loc[("log_emp", "Callaway-Sant'Anna")]
    assert row["estimate"] == pytest.approx(agg.estimate, abs=1e-12)
    assert row["std_error"] == pytest.approx(agg.std_error, abs=1e-12)
    assert row["effect"] == "total"
    # the truth column is the generator's total effect averaged over e = 0..5
    te = truth.att_event
    te = te[(te["outcome"] == "log_emp") & te["event_time"].between(0, 5)]
    assert row["true_effect"] == pytest.approx(te["att_total_base"].mean(), abs=1e-12)
    assert main_tab.loc[("log_emp", "Callaway-Sant'Anna, not-yet-treated"), "effect"].startswith(
        "mixed"
    )
    assert set(rep.figures) == {"event_study_log_emp", "event_study_rd_performer", "rollout"}
    dyn = rep.table("dynamic")
    assert set(dyn["estimator"]) >= {"Callaway-Sant'Anna", "imputation (BJS)", "Sun-Abraham"}


def test_renamed_columns_give_the_same_report(panel, tmp_path):
    df, _ = panel
    names = {
        "firm_id": "id", "year": "t", "join_year": "g", "cell": "cellcode",
        "cluster_cell": "in_cluster_cell", "launch_year": "launch", "log_emp": "lemp",
        "rd_performer": "rd", "patents": "pat", "high_tech": "ht", "sector": "nace",
    }  # fmt: skip
    renamed = df.rename(columns=names)
    cols = Columns(
        unit="id", time="t", cohort="g", cell="cellcode", sector="nace",
        cluster_cell="in_cluster_cell", launch="launch", high_tech="ht",
    )  # fmt: skip
    spec = _small_spec(
        columns=cols,
        cluster="id",
        covariates=("ht",),
        describe=("lemp", "log_va"),
        selection=("lemp", "log_k", "ht"),
        families=(
            OutcomeFamily("jobs", ("lemp",), "log", ("twfe", "cs", "cs_notyet", "imputation")),
            OutcomeFamily("innovation", ("rd",), "binary", ("cs", "sun_abraham")),
            OutcomeFamily("counts", ("pat",), "count"),
        ),
        figures=(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = impact.evaluate(
            df,
            _small_spec(
                describe=("log_emp", "log_va"),
                selection=("log_emp", "log_k", "high_tech"),
                figures=(),
            ),
        )
        b = impact.evaluate(renamed, spec)
    for name in ("main", "dynamic", "rollout", "descriptives", "selection", "balance"):
        x, y = a.table(name), b.table(name)
        num = x.select_dtypes("number").columns
        assert np.allclose(x[num], y[num], atol=RENAME_TOL, equal_nan=True), name
    # the same through the command line: a CSV file and a TOML spec with the mapping
    csv, toml = tmp_path / "firms.csv", tmp_path / "spec.toml"
    renamed.to_csv(csv, index=False)
    toml.write_text(
        'tables = ["rollout", "main"]\nfigures = []\ncluster = "id"\ncovariates = ["ht"]\n'
        'describe = ["lemp"]\nselection = ["lemp"]\n[production]\nenabled = false\n'
        '[columns]\nunit = "id"\ntime = "t"\ncohort = "g"\ncell = "cellcode"\nsector = "nace"\n'
        'cluster_cell = "in_cluster_cell"\nlaunch = "launch"\nhigh_tech = "ht"\n'
        '[families.jobs]\noutcomes = ["lemp"]\nestimators = ["cs"]\n'
    )
    out = tmp_path / "cli"
    assert main(["replicate", "--data", str(csv), "--spec", str(toml), "--out", str(out)]) == 0
    got = pd.read_csv(out / "tables" / "main.csv")
    want = a.table("main")
    want = want[(want["outcome"] == "log_emp") & (want["estimator"] == "Callaway-Sant'Anna")]
    assert got["estimate"].iloc[0] == pytest.approx(want["estimate"].iloc[0], abs=1e-9)


def test_missing_column_fails_before_estimation(panel, monkeypatch):
    df, _ = panel
    called = []
    for registry in (TABLE_BUILDERS, FIGURE_BUILDERS):
        for name in list(registry):
            monkeypatch.setitem(registry, name, lambda ev, n=name: called.append(n))
    with pytest.raises(ColumnNotFoundError, match="employees"):
        impact.evaluate(df, _small_spec(describe=("employees",)))
    with pytest.raises(ColumnNotFoundError, match="tfp_x"):
        impact.evaluate(
            df,
            _small_spec(
                derived={"y2": "tfp_x - log_emp"},
                selection=("log_emp",),
                families=(OutcomeFamily("jobs", ("y2",), "log", ("cs",)),),
            ),
        )
    with pytest.raises(ColumnNotFoundError, match="firm"):
        impact.evaluate(df.drop(columns="firm_id"), _small_spec())
    holes = df.assign(cluster_cell=df["cluster_cell"].astype(object).where(df.index > 5))
    with pytest.raises(InvalidOptionError, match="missing values"):
        impact.evaluate(holes, _small_spec())
    assert not called


def test_never_member_codes_zero_and_inf_read_as_never(panel):
    """0 and inf mean never-member, as in every estimator (R did / csdid convention)."""
    df, truth = panel
    spec = _small_spec(
        families=(OutcomeFamily("jobs", ("log_emp",), "log", ("twfe", "cs", "cs_notyet")),),
        tables=("descriptives", "rollout", "main"),
        figures=(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = impact.evaluate(df, spec)
        for code in (0.0, np.inf):
            b = impact.evaluate(df.assign(join_year=df["join_year"].fillna(code)), spec)
            for name in spec.tables:
                x, y = a.table(name), b.table(name)
                num = x.select_dtypes("number").columns
                assert np.allclose(x[num], y[num], equal_nan=True), (code, name)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"tables": ("mian",)}, "main"),
        ({"figures": ("heat",)}, "unknown figures"),
        ({"control": "outside"}, "control"),
        ({"window": (0, 5)}, "window"),
        ({"tables": ("production",)}, "production"),
    ],
)
def test_bad_spec_options_are_typed_errors(panel, kw, match):
    with pytest.raises(InvalidOptionError, match=match):
        impact.evaluate(panel[0], _small_spec(**kw))


def test_spec_rejects_bad_families_and_keys():
    with pytest.raises(InvalidOptionError, match="estimators"):
        OutcomeFamily("x", ("y",), "log", ("cs", "did_magic"))
    with pytest.raises(InvalidOptionError, match="counts"):
        OutcomeFamily("x", ("y",), "count", ("cs",))
    with pytest.raises(InvalidOptionError, match="production"):
        Spec.from_dict({"production": {"outptu": "y"}})
    assert Spec.from_dict({"production": {"enabled": False}}).production is None
    # group trends default to the sector role
    spec = Spec.from_dict({"production": {"free": ["a", "b"]}, "columns": {"sector": "nace"}})
    assert spec.production == Production(free=("a", "b"), group_trends="nace")
    assert spec.cluster == "firm_id" and spec.covariates == ("high_tech",)
    renamed = Spec.from_dict({"columns": {"unit": "id", "high_tech": ""}})
    assert renamed.cluster == "id" and renamed.covariates == ()
    with pytest.raises(InvalidOptionError, match="weights"):
        Spec.from_dict({"columns": {"weights": "w"}})
    assert Spec(cluster="cell").cluster == "cell"  # imputation now clusters by any level
    with pytest.raises(InvalidOptionError, match="window"):
        Spec(window=("a", 5))
    # new column roles re-resolve the defaults that followed the old ones
    moved = Spec().replace(columns=Columns(unit="id", high_tech="ht", sector="nace"))
    assert moved.cluster == "id" and moved.covariates == ("ht",)
    assert moved.production.group_trends == "nace"
    kept = Spec(cluster="cell", families=()).replace(columns=Columns(unit="id"))
    assert kept.cluster == "cell"


def test_control_pools(panel):
    """Who may serve as a control, by hand: pool firms are never-members by role."""
    df, _ = panel
    in_cell = df["cluster_cell"].to_numpy()
    member = df["join_year"].notna().to_numpy()
    for control, want in (("out_of_cell", ~in_cell), ("in_cell", in_cell), ("never", True)):
        ev = Evaluation.build(df, _small_spec(control=control))
        assert np.array_equal(ev.data[ev.names.pool].to_numpy(), np.broadcast_to(want, len(df)))
        notyet = ev.data[ev.names.pool_notyet].to_numpy()
        assert np.array_equal(notyet, np.broadcast_to(want, len(df)) | member)
        # with out-of-cell controls, the never-members in cluster cells are in neither pool
        if control == "out_of_cell":
            assert not notyet[in_cell & ~member].any()
        assert (
            ev.spec.effect
            == {"out_of_cell": "total", "in_cell": "direct", "never": "mixed"}[control]
        )


def test_written_report_is_byte_identical(panel, tmp_path):
    df, truth = panel
    spec = _small_spec(
        figures=("event_study", "trajectories", "att_gt_heatmap", "pscore_overlap", "rollout")
    )
    import matplotlib.pyplot as plt

    open_before = set(plt.get_fignums())
    dirs = []
    for k in range(2):  # also checks that figures do not pile up in a global registry
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = impact.evaluate(df, spec, truth=truth)
        dirs.append(tmp_path / str(k))
        rep.write(dirs[-1])
    a, b = dirs
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert {"report.html", "report.md", "provenance.json"} <= {str(f) for f in files}
    assert any(f.suffix == ".pdf" for f in files) and any(f.suffix == ".tex" for f in files)
    differ = [str(f) for f in files if (a / f).read_bytes() != (b / f).read_bytes()]
    assert not differ
    assert set(plt.get_fignums()) == open_before  # report figures live outside pyplot
    html = (a / "report.html").read_text()
    assert "data:image/png;base64," in html and "Table 5" in html and "<script" not in html


def _firms_binary() -> BaselineFirms:
    """Firms with one binary characteristic: members are 30% of x = 0, 60% of x = 1."""
    x = np.r_[np.zeros(100), np.ones(100)]
    member = np.r_[np.arange(100) < 30, np.arange(100) < 60]
    return BaselineFirms(
        unit=np.arange(200), cell=np.arange(200) % 20, member=member,
        in_cell=np.ones(200, dtype=bool), values=pd.DataFrame({"x": x}), year=2000,
    )  # fmt: skip


def test_selection_logit_closed_form():
    """Saturated logit: coefficient = log odds ratio, AME = difference of shares."""
    from impact.report.selection import selection_logit

    tab = selection_logit(_firms_binary(), ["x"]).set_index("term")
    assert tab.loc["x", "coef"] == pytest.approx(np.log((0.6 / 0.4) / (0.3 / 0.7)), abs=1e-8)
    assert tab.loc["constant", "coef"] == pytest.approx(np.log(0.3 / 0.7), abs=1e-8)
    # a 0/1 regressor's AME is the average discrete change: the difference of the shares
    assert tab.loc["x", "ame"] == pytest.approx(0.6 - 0.3, abs=1e-8)


def test_ipw_balance_is_exact_for_a_saturated_score():
    from impact.report.selection import ipw_balance

    firms = _firms_binary()
    bal, scores = ipw_balance(firms, ["x"], ~firms.member)
    row = bal.iloc[0]
    assert row["mean controls, weighted"] == pytest.approx(row["mean members"], abs=1e-10)
    assert row["std diff after"] == pytest.approx(0.0, abs=1e-9)
    assert row["mean controls"] == pytest.approx(40 / 110)  # 70 controls at x=0, 40 at x=1
    w = scores.loc[scores["group"] == "controls", "weight"]
    assert w.sum() == pytest.approx(90.0)  # normalised to the members' count


def test_production_table_and_tfp_row(panel):
    """Table 10 and the log-TFP row run on a small panel; the truth row is the generator's."""
    df, truth = panel
    spec = _small_spec(
        production=Production(methods=("ols", "acf"), exog_instruments=()),
        n_boot=2,
        tables=("main", "production"),
        figures=(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = impact.evaluate(df, spec, truth=truth)
    prod = rep.table("production").set_index("method")
    assert list(prod.index) == ["OLS", "ACF", "Truth (generator)"]
    assert prod.loc["Truth (generator)", "beta log_emp"] == truth.params.beta_l
    assert prod.loc["Truth (generator)", "beta log_k"] == truth.params.beta_k
    main_tab = rep.table("main")
    tfp = main_tab[main_tab["outcome"] == "log TFP (ACF omega)"]
    assert len(tfp) == 1 and tfp["family"].iloc[0] == "productivity"
    assert np.isfinite(tfp["estimate"].iloc[0]) and tfp["std_error"].iloc[0] > 0


#: workers=2 runs in single-threaded BLAS processes; this process may use threaded BLAS,
#: whose summation order moves the last digits of some products: Poisson ETWFE's
#: clustered SE moved by 1.8e-7 (relative), everything else by < 1e-13 (measured).
THREADS_TOL = 1e-6


def test_two_processes_give_the_same_numbers(panel):
    df, truth = panel
    spec = _small_spec(
        # OLS and within: ACF's optimum moves with the BLAS summation order by up to its
        # tolerance (1e-4 on this panel, whose moments accept two roots)
        production=Production(methods=("ols", "fe"), exog_instruments=(), tfp_did=False),
        tables=("main", "heterogeneity", "production"),
        figures=("rollout",),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = impact.evaluate(df, spec, truth=truth)
        two = impact.evaluate(df, spec, truth=truth, workers=2)
    assert one.provenance["workers"] == 1 and two.provenance["workers"] == 2
    with pytest.raises(InvalidOptionError, match="workers"):
        impact.evaluate(df, spec, workers=0)
    assert set(two.figures) == set(one.figures)
    for name in spec.tables:
        x, y = one.table(name), two.table(name)
        num = x.select_dtypes("number").columns
        a = x[num].to_numpy(dtype=float, na_value=np.nan)
        b = y[num].to_numpy(dtype=float, na_value=np.nan)
        assert np.allclose(a, b, rtol=THREADS_TOL, atol=THREADS_TOL, equal_nan=True), name
    assert one.provenance["warnings"] == two.provenance["warnings"]


def test_internal_column_names_avoid_every_taken_name():
    """Each default name gets the first free suffix; two internal names never clash."""
    default = InternalColumns()
    taken = [default.cohort, f"{default.cohort}_1", default.pool, "x"]
    names = internal_columns(taken)
    assert names.cohort == f"{default.cohort}_2"
    assert names.pool == f"{default.pool}_1"
    assert names.member == default.member
    chosen = list(vars(names).values())
    assert len(set(chosen)) == len(chosen) and not set(chosen) & set(taken)


def test_user_columns_named_like_the_reports_are_neither_refused_nor_read(panel):
    """A user column with an internal default name (before: refused; earlier still,
    overwritten by tables 8 and 9) leaves every table's numbers unchanged, and the user's
    column is kept as it was."""
    df, _ = panel
    spec = _small_spec(tables=("main", "spillovers", "robustness"), figures=())
    clash = {name: -7.0 for name in vars(InternalColumns()).values()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = impact.evaluate(df, spec)
        other = impact.evaluate(df.assign(**clash), spec)
        ev = Evaluation.build(df.assign(**clash), spec)
    assert (ev.data[list(clash)] == -7.0).all().all()
    assert not set(vars(ev.names).values()) & set(clash)
    for name in spec.tables:
        pd.testing.assert_frame_equal(base.table(name), other.table(name))


def test_selection_logit_refuses_what_it_cannot_estimate():
    """One group only, one cell, a missing cell: typed errors; separation: a warning."""
    from impact.errors import ClusterError, EmptySampleError, SeparationWarning
    from impact.report.selection import selection_logit

    firms = _firms_binary()
    with pytest.raises(EmptySampleError, match="members and 0 non-members"):
        selection_logit(firms.where(firms.member), ["x"], "members only")
    one_cell = dataclasses.replace(firms, cell=np.zeros(200, dtype=int))
    with pytest.raises(ClusterError, match="1 cell"):
        selection_logit(one_cell, ["x"])
    cells = firms.cell.astype(float)
    cells[3] = np.nan
    with pytest.raises(ClusterError):
        selection_logit(dataclasses.replace(firms, cell=cells), ["x"])
    rng = np.random.default_rng(0)
    flag = (firms.member & (rng.uniform(size=200) < 0.5)).astype(float)
    separated = dataclasses.replace(firms, values=firms.values.assign(flag=flag))
    with pytest.warns(SeparationWarning, match="separates members"):
        selection_logit(separated, ["x", "flag"])


@pytest.mark.parametrize("name", ["unit", "member", "in_cell"])
def test_characteristics_named_like_helper_fields_change_nothing(panel, name):
    """Before, a selection variable called 'unit' silently changed table 4's controls and
    'member' or 'in_cell' raised raw errors ('cell' is the panel's own cell column)."""
    df, _ = panel
    spec = _small_spec(tables=("selection", "balance"), figures=(), selection=("log_emp", "x"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = impact.evaluate(df.assign(x=df["log_k"]), spec)
        renamed = impact.evaluate(
            df.assign(**{name: df["log_k"]}), spec.replace(selection=("log_emp", name))
        )
    for table in ("selection", "balance"):
        a, b = base.table(table), renamed.table(table)
        col = "term" if table == "selection" else "variable"
        b[col] = b[col].replace(name, "x")
        pd.testing.assert_frame_equal(a, b)


def test_rollout_with_a_unit_column_named_cohort(panel):
    """Before, table 2 overwrote a unit column called 'cohort' with the join years."""
    df, _ = panel
    spec = _small_spec(tables=("rollout",), figures=())
    renamed = df.rename(columns={"firm_id": "cohort"})
    spec2 = spec.replace(columns=dataclasses.replace(spec.columns, unit="cohort"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = impact.evaluate(df, spec).table("rollout")
        b = impact.evaluate(renamed, spec2).table("rollout")
    pd.testing.assert_frame_equal(a, b)
    assert a["firms joining"].max() > 1
