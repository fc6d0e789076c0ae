"""The estimation sample of a formula model inside a query engine, every drop counted.

The same decisions as :func:`impact.linear.sample.prepare_sample`, in the same order and
with the same typed errors and :class:`~impact.data.samplelog.SampleLog` records, written
in the engine primitives (:class:`~impact.engine.base.Engine`): the rows never leave the
engine. The model's columns are computed as internal numeric columns (``_impact_z0`` the
outcome, ``_impact_z1..k`` the regressors, ``_impact_w`` the weights) and the sample is
kept by the engine (:meth:`~impact.engine.base.Engine.materialize`) for the passes that
follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.data.samplelog import SampleLog
from impact.engine.base import Comparison, Engine
from impact.engine.expressions import expression
from impact.errors import (
    ClusterError,
    ColumnNotFoundError,
    ColumnTypeError,
    EmptySampleError,
    FormulaError,
    InvalidOptionError,
    InvalidWeightsError,
    close_matches_hint,
)
from impact.linear.formula import Factor, ParsedFormula
from impact.linear.model_matrix import format_level, numeric_part_seen

__all__ = [
    "INTERNAL",
    "EngineSample",
    "Separation",
    "check_engine_columns",
    "column_ref",
    "engine_sample",
    "keep_groups",
    "singleton_sweep",
]

#: Prefix of the columns the engine path adds (a data column with it is refused).
INTERNAL = "_impact_"
#: Internal expressions are sums of products of the model's own columns.
LONG_EXPRESSION = 100_000


#: A step that removes rows after the singletons: (rows, outcome column, log, n) to
#: (rows, log, n).
Separation = Callable[[Any, str, SampleLog, int], tuple[Any, SampleLog, int]]


@dataclass(frozen=True)
class EngineSample:
    """The rows an engine fit uses, kept in the engine.

    Attributes
    ----------
    source : engine source
        Outcome, regressors, weights, fixed-effect and cluster columns of the used rows.
    y : str
        Internal column of the outcome.
    x : tuple of str
        Internal columns of the regressors (in the formula's term order).
    names : tuple of str
        The regressors' labels.
    weights : str or None
        Internal column of the weights.
    fixef : tuple of tuple of str
        Key columns of each fixed-effect dimension.
    n : int
        Rows used.
    log : SampleLog
    """

    source: Any
    y: str
    x: tuple[str, ...]
    names: tuple[str, ...]
    weights: str | None
    fixef: tuple[tuple[str, ...], ...]
    n: int
    log: SampleLog


def column_ref(name: str) -> str:
    """A column named inside an expression (backticks take any name but a backtick)."""
    if "`" in name:
        raise ColumnTypeError(
            f"column {name!r} holds a backtick, which the engine path cannot read; rename it."
        )
    return f"`{name}`"


def _factor_expr(f: Factor) -> str:
    """The numeric expression of a factor ("1" for a categorical one: its dummies come
    later, from the levels of the final sample)."""
    if f.kind == "num":
        return column_ref(f.var)
    if f.kind == "func":
        return f"{f.func}({column_ref(f.var)})"
    return "1"


def _dummy_columns(
    levels: list[object], f: Factor, drop_first: bool
) -> tuple[list[int], list[str]]:
    """Kept level positions and their names, as :func:`impact.linear.model_matrix.build_design`."""
    labels = [format_level(v) for v in levels]
    if f.kind == "i" and f.ref is not None:
        refs = {format_level(r) for r in f.ref}
        if not refs & set(labels):
            raise FormulaError(
                f"i({f.var}, ref={f.ref[0]!r}): the reference level is not a value of "
                f"{f.var!r} in the estimation sample (levels: {labels[:8]})."
            )
        keep = [j for j, lab in enumerate(labels) if lab not in refs]
    else:
        keep = list(range(1 if drop_first else 0, len(levels)))
    if f.kind == "i":
        names = [f"{f.var}::{labels[j]}" for j in keep]
    else:
        names = [f"C({f.var})[T.{labels[j]}]" for j in keep]
    if f.by is not None:
        names = [f"{n}:{f.by}" for n in names]
    return keep, names


def _expand_categorical(
    engine: Engine, src: Any, parsed: ParsedFormula, num_cols: list[str]
) -> tuple[Any, list[str], list[str]]:
    """Each term's columns on the final sample: numeric terms as they are, categorical
    ones as dummies of the sample's levels (treatment coding, fixed effects present)."""
    xs: list[str] = []
    names: list[str] = []
    for t, (term, num) in enumerate(zip(parsed.terms, num_cols, strict=True)):
        cats = [f for f in term.factors if f.is_categorical]
        nums = [f.label for f in term.factors if not f.is_categorical]
        if not cats:
            xs.append(num)
            names.append(":".join(nums))
            continue
        if len(cats) > 1:
            raise FormulaError(f"a term may hold one categorical factor, got {len(cats)}.")
        f = cats[0]
        table = engine.group_sums(src, [f.var], {}, count=None)
        _, levels = pd.factorize(table[f.var], sort=True)
        main = not nums and f.by is None
        reduced = numeric_part_seen(term, list(parsed.terms[:t]))  # C(k):x after x
        keep, labels = _dummy_columns(list(levels), f, drop_first=main or reduced)
        onehot = pd.DataFrame({f.var: np.asarray(levels, dtype=object)})
        onehot[f.var] = onehot[f.var].astype(table[f.var].dtype)
        cols = [f"{INTERNAL}k{t}_{j}" for j in range(len(keep))]
        for col, j in zip(cols, keep, strict=True):
            onehot[col] = (np.arange(len(levels)) == j).astype(float)
        src = engine.join_small(src, onehot, [f.var])
        by = f" * {column_ref(f.by)}" if f.by is not None else ""
        made = {f"{INTERNAL}x{t}_{j}": f"{c} * {num}{by}" for j, c in enumerate(cols)}
        src = engine.with_columns(src, made)
        xs += list(made)
        names += [":".join([n, *nums]) for n in labels]
    return src, xs, names


def check_engine_columns(engine: Engine, src: Any, cols: Sequence[str], role: str) -> None:
    """Every name in ``cols`` is a column of ``src`` (a typed error naming the closest)."""
    have = engine.columns(src)
    for c in cols:
        if c not in have:
            raise ColumnNotFoundError(
                f"{role} {c!r} is not a column of the data." + close_matches_hint(c, have)
            )


def _check_weights(engine: Engine, src: Any, column: str) -> None:
    """As :func:`impact.data.columns.validate_weights`: missing, negative or all-zero
    weights are errors (zero weights are dropped later, counted)."""
    _, bad = engine.missing_counts(src, [column])
    if bad:
        raise InvalidWeightsError(
            f"weights column {column!r} has {bad} missing or infinite values. Fill or drop "
            "them before estimating."
        )
    neg = engine.count(engine.where(src, column, "<", 0.0))
    if neg:
        raise InvalidWeightsError(
            f"weights column {column!r} has {neg} negative values. Weights must be >= 0."
        )
    if engine.count(src) and not engine.count(engine.where(src, column, ">", 0.0)):
        raise InvalidWeightsError(f"weights column {column!r} is zero on every row.")


def keep_groups(
    engine: Engine, src: Any, keys: Sequence[str], total: str | None, op: Comparison, value: float
) -> tuple[Any, int]:
    """The rows of groups of ``keys`` whose sum of ``total`` (their count when None)
    satisfies ``op value``, kept by the engine with the source's columns, and their number."""
    tag = f"{INTERNAL}grp"
    cols = engine.columns(src)
    if total is None:
        groups = engine.group_relation(src, keys, {}, count=tag)
    else:
        groups = engine.group_relation(src, keys, {tag: total}, count=None)
    joined = engine.join_groups(src, groups, keys)
    kept = engine.materialize(engine.select(engine.where(joined, tag, op, value), cols))
    return kept, engine.count(kept)


def singleton_sweep(
    engine: Engine, src: Any, fixef: Sequence[tuple[str, ...]], n: int
) -> tuple[Any, int, dict[str, int]]:
    """Iterative singleton removal across all dimensions (the in-memory sweep order):
    the rows kept, their number and the rows removed per dimension."""
    names = ["^".join(f) for f in fixef]
    per_dim = dict.fromkeys(names, 0)
    changed = True
    while changed:
        changed = False
        for q, keys in enumerate(fixef):
            kept, m = keep_groups(engine, src, keys, None, ">=", 2.0)
            if m < n:
                per_dim[names[q]] += n - m
                src, n, changed = kept, m, True
    return src, n, per_dim


def _drop_singletons(
    engine: Engine, src: Any, fixef: Sequence[tuple[str, ...]], log: SampleLog, n: int
) -> tuple[Any, SampleLog, int]:
    """:func:`singleton_sweep`, counted in the SampleLog."""
    src, n, per_dim = singleton_sweep(engine, src, fixef, n)
    total = sum(per_dim.values())
    if total:
        log = log.with_drop(
            "singletons",
            "singleton fixed-effect groups",
            total,
            per_dim,  # every dimension, as the in-memory sweep reports it
        )
    return src, log, n


def engine_sample(
    engine: Engine,
    src: Any,
    parsed: ParsedFormula,
    *,
    weights: str | None,
    clusters: tuple[str, ...],
    drop_singletons: bool = True,
    extra: Sequence[str] = (),
    separate: Separation | None = None,
) -> EngineSample:
    """Validate columns and build the estimation sample of a formula model in ``engine``.

    Drops, counted in the SampleLog in the in-memory order: rows with missing or infinite
    values in a model column (or an ``extra`` numeric column, such as an offset); rows
    where a transform is not finite; rows with zero weight; singleton fixed-effect groups
    (iteratively); then whatever ``separate`` removes (it takes the rows, the outcome
    column, the log and the row count, and returns the last three after its drops),
    before categorical terms are expanded on the final levels. Errors: unknown or
    non-numeric columns, invalid weights, missing cluster ids on used rows, empty sample.
    """
    check_engine_columns(engine, src, parsed.columns, "formula column")
    check_engine_columns(engine, src, extra, "column")
    if weights is not None:
        check_engine_columns(engine, src, [weights], "weights column")
    check_engine_columns(engine, src, clusters, "cluster variable")
    clash = [c for c in engine.columns(src) if c.startswith(INTERNAL)]
    if clash:
        raise InvalidOptionError(
            f"column {clash[0]!r} starts with {INTERNAL!r}, which the engine path reserves "
            "for its own columns; rename it."
        )
    factors = [parsed.depvar] + [f for t in parsed.terms for f in t.factors]
    exprs = [_factor_expr(f) for f in factors]
    kinds = engine.kinds(src)
    numeric = [f.var for f in factors if not f.is_categorical]
    numeric += [f.by for f in factors if f.by is not None]
    for c in dict.fromkeys(numeric + list(extra) + ([weights] if weights else [])):
        if kinds[c] not in ("number", "bool"):
            raise ColumnTypeError(f"column {c!r} must be numeric, it holds {kinds[c]} values.")
    n0 = engine.count(src)
    log = SampleLog(n_initial=n0)
    if weights is not None:
        _check_weights(engine, src, weights)
    used = list(dict.fromkeys([*parsed.columns, *extra]))
    per, n_bad = engine.missing_counts(src, used)
    for c, m in per.items():
        if n0 and m == n0:
            raise EmptySampleError(
                f"column {c!r} is missing or infinite on all {m} rows; nothing can be "
                "estimated. Check the column name and its values."
            )
    log = log.with_drop(
        "missing",
        "rows with missing or infinite values",
        n_bad,
        {c: m for c, m in per.items() if m},
    )
    src = engine.drop_missing(src, used)
    # the model's columns: each factor once, then each term as the product of its factors
    fcols = {f"{INTERNAL}f{j}": e for j, e in enumerate(exprs)}
    src = engine.with_columns(src, {k: expression(e) for k, e in fcols.items()})
    funcs = {f"{INTERNAL}f{j}": f.label for j, f in enumerate(factors) if f.kind == "func"}
    per_t, n_t = engine.missing_counts(src, list(funcs))
    log = log.with_drop(
        "transform",
        "rows where a transform is not finite",
        n_t,
        {funcs[c]: m for c, m in per_t.items() if m},
    )
    src = engine.drop_missing(src, list(funcs))
    y, num_cols, j = f"{INTERNAL}z0", [], 1
    model = {y: f"{INTERNAL}f0"}
    for t in parsed.terms:
        prod = " * ".join(f"{INTERNAL}f{j + i}" for i in range(len(t.factors)))
        num_cols.append(f"{INTERNAL}z{len(num_cols) + 1}")
        model[num_cols[-1]] = prod
        j += len(t.factors)
    w = None
    if weights is not None:
        w = f"{INTERNAL}w"
        model[w] = column_ref(weights)
    src = engine.with_columns(
        src, {k: expression(e, max_length=LONG_EXPRESSION) for k, e in model.items()}
    )
    if w is not None:
        zero = engine.count(engine.where(src, w, "==", 0.0))
        log = log.with_drop("zero_weight", "rows with zero weight", zero)
        src = engine.where(src, w, ">", 0.0)
    fe_cols = [c for f in parsed.fixef for c in f]
    cat_cols = [f.var for f in factors if f.is_categorical]
    cat_cols += [f.by for f in factors if f.by is not None]
    keep = [y, *num_cols, *([w] if w else []), *fe_cols, *clusters, *cat_cols, *extra]
    keep = list(dict.fromkeys(keep))
    src = engine.materialize(engine.select(src, keep))
    n = engine.count(src)
    if n == 0:
        raise EmptySampleError("no rows are left after dropping missing values; see the SampleLog.")
    _, miss = engine.missing_counts(src, clusters)
    if miss:
        per_c, _ = engine.missing_counts(src, clusters)
        col = next(c for c, m in per_c.items() if m)
        raise ClusterError(
            f"cluster variable {col!r} is missing on {per_c[col]} used rows. Choosing a vcov "
            "must not change the sample: fill the cluster ids or drop those rows before "
            "estimating."
        )
    if parsed.fixef and drop_singletons:
        src, log, n = _drop_singletons(engine, src, parsed.fixef, log, n)
        if n == 0:
            raise EmptySampleError(
                "every row is a fixed-effect singleton; nothing can be estimated."
            )
    if separate is not None:
        src, log, n = separate(src, y, log, n)
    src, xs, names = _expand_categorical(engine, src, parsed, num_cols)
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormulaError(f"the formula creates the regressor {dup!r} twice.")
    return EngineSample(
        source=src,
        y=y,
        x=tuple(xs),
        names=tuple(names),
        weights=w,
        fixef=tuple(tuple(f) for f in parsed.fixef),
        n=n,
        log=log,
    )
