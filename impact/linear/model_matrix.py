"""Build the regressor matrix of a parsed formula from a (validated, complete) frame."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray
from impact.errors import FormulaError
from impact.linear.formula import Factor, ParsedFormula, Term

__all__ = [
    "DesignMatrix",
    "build_design",
    "categorical_levels",
    "factor_values",
    "format_level",
    "numeric_part_seen",
]

_FUNCS = {"log": np.log, "log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}


@dataclass(frozen=True)
class DesignMatrix:
    """Regressors of a model.

    Attributes
    ----------
    X : ndarray (n, k)
        Regressors, float64.
    names : tuple of str
        Column names, in order.
    """

    X: FloatArray
    names: tuple[str, ...]


def format_level(value: object) -> str:
    """Display a level: integral floats without ``.0``, everything else via ``str``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def factor_values(frame: pd.DataFrame, factor: Factor) -> FloatArray:
    """Numeric values of a ``num`` or ``func`` factor as float64 (may contain non-finite)."""
    s = frame[factor.var]
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise FormulaError(
            f"column {factor.var!r} has dtype {s.dtype} and cannot enter the formula as a number; "
            f"wrap it in C({factor.var}) to use it as a categorical variable."
        )
    vals = s.to_numpy(dtype=float, na_value=np.nan)
    if factor.kind == "func":
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            vals = _FUNCS[str(factor.func)](vals)
    return vals


def _levels(s: pd.Series, known: list[object] | None = None) -> tuple[np.ndarray, list[object]]:
    """Integer codes and the level list; with ``known`` levels, unseen values get -1."""
    if known is None:
        codes, uniques = pd.factorize(s, sort=True)
        return codes, list(uniques)
    return pd.Index(known).get_indexer(s), list(known)


def categorical_levels(frame: pd.DataFrame, parsed: ParsedFormula) -> dict[str, list[object]]:
    """Sorted levels of every categorical factor in the estimation sample."""
    return {
        f.var: list(pd.factorize(frame[f.var], sort=True)[1])
        for t in parsed.terms
        for f in t.factors
        if f.is_categorical
    }


def _categorical_block(
    frame: pd.DataFrame, factor: Factor, drop_first: bool, known: list[object] | None = None
) -> tuple[FloatArray, list[str]]:
    codes, levels = _levels(frame[factor.var], known)
    if factor.kind == "i":
        if factor.ref is not None:
            labels = [format_level(v) for v in levels]
            missing = [r for r in factor.ref if format_level(r) not in labels]
            if missing and len(missing) == len(factor.ref):
                raise FormulaError(
                    f"i({factor.var}, ref={factor.ref[0]!r}): the reference level is not a value "
                    f"of {factor.var!r} in the estimation sample (levels: {labels[:8]})."
                )
            ref_labels = {format_level(r) for r in factor.ref}
            keep = [j for j, lab in enumerate(labels) if lab not in ref_labels]
        else:
            keep = list(range(1 if drop_first else 0, len(levels)))
        names = [f"{factor.var}::{format_level(levels[j])}" for j in keep]
    else:
        keep = list(range(1 if drop_first else 0, len(levels)))
        names = [f"C({factor.var})[T.{format_level(levels[j])}]" for j in keep]
    block = np.zeros((len(codes), len(keep)))
    col_of_level = np.full(len(levels), -1)
    col_of_level[keep] = np.arange(len(keep))
    col = np.where(codes >= 0, col_of_level[np.maximum(codes, 0)], -1) if len(levels) else codes
    rows = np.flatnonzero(col >= 0)
    block[rows, col[rows]] = 1.0
    if factor.by is not None:
        by = factor_values(frame, Factor(kind="num", var=factor.by))
        block *= by[:, None]
        names = [f"{n}:{factor.by}" for n in names]
    return block, names


def _term_block(
    frame: pd.DataFrame, term: Term, drop_first: bool, levels: Mapping[str, list[object]] | None
) -> tuple[FloatArray, list[str]]:
    num = np.ones(len(frame))
    num_label = []
    cat: Factor | None = None
    for f in term.factors:
        if f.is_categorical:
            cat = f
        else:
            num = num * factor_values(frame, f)
            num_label.append(f.label)
    if cat is None:
        return num[:, None], [":".join(num_label)]
    known = None if levels is None else levels.get(cat.var)
    block, names = _categorical_block(frame, cat, drop_first, known)
    if num_label:
        block = block * num[:, None]
        names = [":".join([n, *num_label]) for n in names]
    return block, names


def numeric_part_seen(term: Term, earlier: list[Term]) -> bool:
    """``C(k):x`` after ``x`` is coded with treatment contrasts (the reference level's
    slope is ``x``'s own), as patsy, R and pyfixest code it; alone it keeps every level."""
    cats = [f for f in term.factors if f.kind == "C"]
    nums = tuple(f for f in term.factors if not f.is_categorical)
    if len(cats) != 1 or not nums:
        return False
    return any(set(t.factors) == set(nums) for t in earlier)


def build_design(
    frame: pd.DataFrame,
    parsed: ParsedFormula,
    *,
    has_fixef: bool,
    levels: Mapping[str, list[object]] | None = None,
) -> DesignMatrix:
    """Regressor matrix for ``parsed`` on ``frame`` (rows already filtered).

    Categorical terms use treatment coding. The first categorical term keeps all its
    levels only when the model has neither an intercept nor fixed effects; ``C(k):x``
    drops the reference level when ``x`` itself is an earlier term (``C(k)*x``); ``i()`` with
    a numeric interaction keeps every level but its reference. ``levels`` fixes the
    level lists (from :func:`categorical_levels` on the estimation sample) so that new
    data get the training coding; unseen levels give all-zero dummies (callers mark
    those rows).
    """
    blocks: list[FloatArray] = []
    names: list[str] = []
    intercept = parsed.intercept and not has_fixef
    if intercept:
        blocks.append(np.ones((len(frame), 1)))
        names.append("Intercept")
    full_rank_used = intercept or has_fixef
    seen: list = []
    for term in parsed.terms:
        is_cat_main = all(f.is_categorical and f.by is None for f in term.factors)
        drop_first = full_rank_used if is_cat_main else numeric_part_seen(term, seen)
        seen.append(term)
        block, bnames = _term_block(frame, term, drop_first, levels)
        if is_cat_main:
            full_rank_used = True
        blocks.append(block)
        names.extend(bnames)
    X = np.hstack(blocks) if blocks else np.empty((len(frame), 0))
    dup = pd.Index(names)[pd.Index(names).duplicated()]
    if len(dup):
        raise FormulaError(f"the formula creates the regressor {dup[0]!r} twice.")
    return DesignMatrix(X=np.ascontiguousarray(X, dtype=np.float64), names=tuple(names))
