"""``impact.adjust``: family-wise and false-discovery adjustment of p-values across
outcomes and estimators, with the resampling methods drawing one set of cluster weights
for every test (joint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import InvalidOptionError, close_matches_hint
from impact.estimators.wild_setup import variance_clusters
from impact.estimators.wildboot import MIN_DRAWS, WildProblem
from impact.estimators.wildboot_poisson import ScoreProblem
from impact.inference import multiple_testing as mt
from impact.inference.clusters import cluster_sums
from impact.inference.intervals import two_sided_p
from impact.inference.wild_cluster import WEIGHT_TYPES, draw_weights
from impact.options import check_seed, whole_number
from impact.results.adjusted import AdjustedResult
from impact.results.aggregate import AggregateResult
from impact.results.att_gt import ATTgtResult
from impact.results.linear import FeolsResult
from impact.results.poisson import FepoisResult
from impact.results.protocol import ResultProtocol

__all__ = ["ADJUST_METHODS", "adjust"]

PVALUE_METHODS = {"bonferroni": mt.bonferroni, "holm": mt.holm, "bky": mt.bky}
RESAMPLING_METHODS = ("romano_wolf", "westfall_young")
ADJUST_METHODS = (*PVALUE_METHODS, *RESAMPLING_METHODS)


@dataclass(frozen=True)
class _Test:
    label: str
    result: ResultProtocol
    term: str
    row: pd.Series  # the term's tidy row


@dataclass(frozen=True)
class _Source:
    """What one test needs for joint draws: its statistic, the cluster of each code and a
    function from the weights of its clusters (G_test x B) to bootstrap statistics."""

    statistic: float
    std_error: float
    df: int | None
    labels: np.ndarray
    cluster: str
    t_boot: object  # Callable[[FloatArray], FloatArray]


def _tests(tests) -> list[_Test]:
    if isinstance(tests, Mapping):
        items = [(str(k), v) for k, v in tests.items()]
    elif isinstance(tests, Sequence) and not isinstance(tests, str):
        items = [(None, v) for v in tests]
    else:
        raise InvalidOptionError(
            "tests must be a list of (result, term) pairs or a dict label -> (result, term)."
        )
    out = []
    for label, pair in items:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], str)):
            raise InvalidOptionError(
                f"each test is a (result, term) pair, got {type(pair).__name__}."
            )
        result, term = pair
        if not isinstance(result, ResultProtocol):
            raise InvalidOptionError(f"{type(result).__name__} is not an impact result.")
        tidy = result.tidy()
        hit = tidy.index[tidy["term"] == term]
        if len(hit) != 1:
            raise InvalidOptionError(
                f"{term!r} is not a term of the {type(result).__name__}"
                + close_matches_hint(term, [str(t) for t in tidy["term"]])
            )
        depvar = result.model_info().depvar
        label = label if label is not None else f"{depvar}: {term}" if depvar else term
        out.append(_Test(label, result, term, tidy.loc[hit[0]]))
    labels = [t.label for t in out]
    if len(out) < 2:
        raise InvalidOptionError("adjusting needs at least two tests.")
    if len(set(labels)) != len(labels):
        raise InvalidOptionError("two tests have the same label: give a dict label -> test.")
    return out


def _did_source(test: _Test) -> _Source:
    """Multiplier draws of a DiD result's influence function (R ``did``'s bootstrap)."""
    res, term = test.result, test.term
    engine_rows = res._n if isinstance(res, ATTgtResult) else getattr(res, "n_units", None)
    if engine_rows is not None:  # rows that stand for the units: multipliers need units
        raise InvalidOptionError(
            f"{test.label}: this fit ran in a query engine, whose influence rows stand for "
            "the units without being them; fit an in-memory pandas frame for joint tests."
        )
    if isinstance(res, ATTgtResult):
        col = res._inf[:, list(res.tidy()["term"]).index(term)]
        codes, labels, units = res._cluster, res._cluster_labels, res.units
    else:
        k = list(res.tidy()["term"]).index(term)
        col = res.influence if k == 0 else res.table_influence[:, k - 1]
        codes, labels, units = res.cluster, res.cluster_labels, res.units
    clusters = res.model_info().clusters
    if codes is not None:
        cluster = next(iter(clusters)) if clusters else "cluster"
    else:  # unclustered panel: each unit is its own cluster
        labels = None if units is None else np.asarray(units)
        cluster = str(units.name) if units is not None and units.name is not None else "unit"
    if labels is None:
        raise InvalidOptionError(
            f"{test.label}: the fit keeps no cluster labels (repeated cross-sections without "
            "clusters): fit it with vcov={'cluster': ...} to draw jointly."
        )
    n = col.shape[0]
    S = cluster_sums(col[:, None], codes)[:, 0]
    se = float(test.row["std_error"])
    t = float(test.row["estimate"]) / se

    def t_boot(V: FloatArray) -> FloatArray:
        return (S @ V) / n / se

    return _Source(t, se, None, np.asarray(labels), cluster, t_boot)


def _feols_source(test: _Test, cluster: str | None, impose_null: bool) -> _Source:
    problem = WildProblem.of(test.result, test.term, cluster)
    t = problem.beta / problem.se

    def t_boot(V: FloatArray) -> FloatArray:
        return problem.draws(V, impose_null).t_stats(0.0)

    return _Source(t, problem.se, problem.df, problem.labels, problem.cluster, t_boot)


def _fepois_source(test: _Test, cluster: str | None, impose_null: bool) -> _Source:
    """The score bootstrap (Kline & Santos): the Rao statistic at the fit restricted to
    zero with its restricted scores, or the Wald t with the fit's scores."""
    fit = test.result
    names = [cluster] if cluster else variance_clusters(fit, None)
    problem = ScoreProblem.of(fit, test.term, names, None)
    q = problem.q(0.0 if impose_null else None)
    t = problem.cells.statistic(q) if impose_null else problem.beta / problem.se

    def t_boot(V: FloatArray) -> FloatArray:
        return problem.cells.t_stats(q, V)

    return _Source(t, problem.se, problem.df, problem.labels, problem.cluster, t_boot)


def _source(test: _Test, cluster: str | None, impose_null: bool) -> _Source:
    if type(test.result) is FeolsResult:
        return _feols_source(test, cluster, impose_null)
    if isinstance(test.result, FepoisResult):
        return _fepois_source(test, cluster, impose_null)
    if isinstance(test.result, (ATTgtResult, AggregateResult)):
        return _did_source(test)
    raise InvalidOptionError(
        f"{test.label}: the resampling methods draw jointly for feols fits (wild cluster "
        "bootstrap), fepois fits (score bootstrap) and att_gt results and their "
        "aggregations (multiplier bootstrap); "
        f"a {type(test.result).__name__} has no cluster scores to draw. Use method='holm' "
        "or 'bky' for it."
    )


def _check(method, B, weights, seed) -> None:
    if method not in ADJUST_METHODS:
        raise InvalidOptionError(f"method must be one of {ADJUST_METHODS}, got {method!r}.")
    whole_number("B", B, MIN_DRAWS)
    if weights not in WEIGHT_TYPES:
        raise InvalidOptionError(f"weights must be one of {WEIGHT_TYPES}, got {weights!r}.")
    check_seed(seed)


def adjust(
    tests: Mapping[str, tuple[ResultProtocol, str]] | Sequence[tuple[ResultProtocol, str]],
    method: str = "romano_wolf",
    *,
    B: int = 9999,
    cluster: str | None = None,
    weights: str = "rademacher",
    impose_null: bool = True,
    seed: int = 0,
) -> AdjustedResult:
    """Adjust the p-values of a family of tests (outcomes x estimators) for multiplicity.

    Parameters
    ----------
    tests : dict label -> (result, term), or list of (result, term)
        Each test is ``term = 0`` in a fitted result (any estimator for the p-value
        methods; feols fits (wild cluster bootstrap), fepois fits (score bootstrap),
        ``att_gt`` results and their aggregations for the resampling methods).
    method : {"romano_wolf", "westfall_young", "holm", "bonferroni", "bky"}
        Family-wise error: Romano–Wolf step-down (max-``|t|``), Westfall–Young free step-down
        (min-P), Holm, Bonferroni; false discovery rate: Benjamini–Krieger–Yekutieli
        sharpened q-values (Anderson 2008).
    B : int
        Draws of the resampling methods (>= 99); Rademacher weights are enumerated when
        ``2^G <= B``.
    cluster : str, optional
        Resampled clusters of the feols fits (default: each fit's one-way cluster). Every
        test must resample the same clusters: one weight per cluster label is drawn and
        shared by all tests, which keeps their dependence.
    weights : {"rademacher", "webb", "mammen", "normal"}
    impose_null : bool
        Feols fits: restricted (WCR) or unrestricted wild bootstrap; fepois fits: the
        restricted or unrestricted scores. DiD results are
        perturbed at their influence function (centred at the estimate).
    seed : int

    Returns
    -------
    AdjustedResult
        One row per test: estimate, standard error, statistic, unadjusted and adjusted
        p-values.

    References
    ----------
    Romano, J. P., & Wolf, M. (2005). Stepwise multiple testing as formalized data
    snooping. Econometrica, 73(4). Westfall, P. H., & Young, S. S. (1993).
    Resampling-Based Multiple Testing. Wiley. Holm, S. (1979). Scandinavian Journal of
    Statistics, 6(2). Benjamini, Y., Krieger, A. M., & Yekutieli, D. (2006). Biometrika,
    93(3). Anderson, M. L. (2008). JASA, 103(484).

    Examples
    --------
    The dynamic effects of minimum wages on teen employment at event times 0-3 (R did's county
    panel) as one family of four tests; Holm's p-values equal statsmodels'
    ``multipletests(method="holm")`` on the same unadjusted p-values.

    >>> import impact
    >>> mpdta = impact.datasets.load("mpdta")
    >>> fit = impact.att_gt(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat")
    >>> dynamic = fit.aggregate("dynamic", min_e=0)
    >>> tests = {f"e={e}": (dynamic, f"rel_time::{e}") for e in range(4)}
    >>> impact.adjust(tests, "holm").table["p_adjusted"].round(3).tolist()
    [0.092, 0.008, 0.001, 0.008]
    >>> rw = impact.adjust(tests, B=999, seed=1)  # Romano-Wolf, the default
    >>> bool((rw.table["p_adjusted"] >= rw.table["p_value"]).all())
    True
    """
    _check(method, B, weights, seed)
    items = _tests(tests)
    table = pd.DataFrame(
        {
            "test": [t.label for t in items],
            "depvar": [t.result.model_info().depvar for t in items],
            "term": [t.term for t in items],
            "estimate": [float(t.row["estimate"]) for t in items],
            "std_error": [float(t.row["std_error"]) for t in items],
        }
    )
    if method in PVALUE_METHODS:
        p = np.array([float(t.row["p_value"]) for t in items])
        if not np.isfinite(p).all():
            bad = [t.label for t, v in zip(items, p, strict=True) if not np.isfinite(v)]
            raise InvalidOptionError(f"tests without a p-value: {bad}.")
        table = table.assign(statistic=[float(t.row["statistic"]) for t in items], p_value=p)
        return AdjustedResult(table=table.assign(p_adjusted=PVALUE_METHODS[method](p)),
                              method=method)  # fmt: skip
    return _resampled(items, table, method, B, cluster, weights, impose_null, seed)


def _resampled(items, table, method, B, cluster, weights, impose_null, seed):
    sources = [_source(t, cluster, impose_null) for t in items]
    names = sorted({s.cluster for s in sources})
    if len(names) > 1:
        raise InvalidOptionError(
            f"the tests resample different clusters ({names}): joint draws need one cluster "
            "variable for every test (refit with the same vcov, or give cluster=)."
        )
    try:
        pooled = pd.Index(np.concatenate([s.labels for s in sources])).unique().sort_values()
    except TypeError as err:
        raise InvalidOptionError(
            f"the tests' {names[0]!r} labels are of different types (e.g. numbers in one fit, "
            "text in another): make the cluster column the same type in every fit."
        ) from err
    V, enumerated = draw_weights(weights, len(pooled), int(B), np.random.default_rng(seed))
    t = np.array([s.statistic for s in sources])
    boot = np.column_stack([s.t_boot(V[pooled.get_indexer(s.labels)]) for s in sources])
    bad = ~(np.isfinite(t) & np.isfinite(boot).all(axis=0))
    if bad.any():
        names_bad = [items[k].label for k in np.flatnonzero(bad)]
        raise InvalidOptionError(f"tests without finite (bootstrap) statistics: {names_bad}.")
    p = np.array([float(two_sided_p(abs(v), s.df)) for v, s in zip(t, sources, strict=True)])
    if method == "romano_wolf":
        adjusted = mt.romano_wolf(t, boot, plus_one=not enumerated)
    else:
        p_boot = np.column_stack(
            [two_sided_p(np.abs(boot[:, k]), s.df) for k, s in enumerate(sources)]
        )
        adjusted = mt.westfall_young(p, p_boot)
    # the statistic, its s.e. and p-value with the resampled clusters (for feols: CRV1 by
    # the bootstrap cluster, which may differ from the fit's own vcov)
    table = table.assign(
        std_error=[s.std_error for s in sources], statistic=t, p_value=p, p_adjusted=adjusted
    )
    return AdjustedResult(
        table=table, method=method, B=V.shape[1], enumerated=enumerated, weights=weights,
        cluster=names[0], n_clusters=len(pooled), seed=int(seed),
    )  # fmt: skip
