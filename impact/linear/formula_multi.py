"""Several models from one formula, as fixest writes them: several outcomes
(``y1 + y2 ~ x``) and stepwise regressors (``sw(a, b)``, ``csw(a, b)``, ``csw0(a, b)``)."""

from __future__ import annotations

import re

from impact.errors import FormulaError
from impact.linear.formula import signed_terms, split_top

__all__ = ["expand_formula"]

_STEP_RE = re.compile(r"^(sw|csw|csw0)\((.*)\)$", re.DOTALL)


def _steps(kind: str, args: list[str]) -> list[list[str]]:
    """The regressor sets of a stepwise function: ``sw`` one at a time, ``csw``
    cumulated, ``csw0`` cumulated after a model without them."""
    if kind == "sw":
        return [[a] for a in args]
    cumulated = [args[: k + 1] for k in range(len(args))]
    return [[], *cumulated] if kind == "csw0" else cumulated


def expand_formula(formula: str) -> list[tuple[str, str]] | None:
    """The models of a formula with several outcomes or a stepwise function.

    Parameters
    ----------
    formula : str
        ``"y1 + y2 ~ x + csw0(a, b) | fe"``: one model per outcome and step.

    Returns
    -------
    list of (label, formula) or None
        ``None`` for a formula of one model. Labels name the outcome (when there are
        several) and the step's regressors (when there is a stepwise function).

    Raises
    ------
    FormulaError
        More than one stepwise function, one in the outcome or the fixed effects, or an
        empty argument.
    """
    if not isinstance(formula, str) or "~" not in formula:
        return None
    sides = split_top(formula, "~")
    if len(sides) != 2:
        return None  # parse_formula gives the error
    lhs, rest = sides
    parts = split_top(rest, "|")
    outcomes = [o for o in split_top(lhs, "+") if o]
    if any(_STEP_RE.match(o) for o in outcomes):
        raise FormulaError("stepwise functions (sw, csw, csw0) go on the right of '~'.")
    if len(parts) > 1 and _STEP_RE.search("".join(parts[1:])):
        raise FormulaError("stepwise functions (sw, csw, csw0) are read among regressors only.")
    fixed, step = [], None
    for sign, term in signed_terms(parts[0]):
        m = _STEP_RE.match(term)
        if m is None:
            if term:
                fixed.append(("- " if sign < 0 else "") + term)
            continue
        if step is not None:
            raise FormulaError("a formula takes one stepwise function (sw, csw or csw0).")
        args = split_top(m.group(2), ",")
        if not args or any(not a for a in args):
            raise FormulaError(f"{m.group(1)}() needs regressors separated by commas: {term!r}.")
        step = (m.group(1), args)
    if len(outcomes) < 2 and step is None:
        return None
    regressors = [t for t in fixed if not t.startswith("- ") and t not in ("0", "1")]
    no_intercept = any(t in ("- 1", "0") for t in fixed)
    if (
        step is not None
        and step[0] == "csw0"
        and not regressors
        and (len(parts) > 1 or no_intercept)
    ):
        raise FormulaError(
            "csw0() starts with a model without regressors, which has no coefficient to "
            "estimate here (fixed effects or no intercept): use csw(), or add a regressor "
            "outside csw0()."
        )
    sets = _steps(*step) if step else [None]
    tail = f" | {' | '.join(parts[1:])}" if len(parts) > 1 else ""
    models = []
    for y in outcomes:
        for regs in sets:
            terms = fixed + (regs or [])
            rhs = " + ".join(t for t in terms if not t.startswith("- ")) or "1"
            rhs += "".join(f" {t}" for t in terms if t.startswith("- "))
            label = [y] if len(outcomes) > 1 else []
            if step is not None:
                label.append(" + ".join(regs) if regs else "(none)")
            models.append(("; ".join(label), f"{y} ~ {rhs}{tail}"))
    return models
