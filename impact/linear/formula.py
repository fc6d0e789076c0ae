"""Parse fixest-style formulas: ``y ~ x1 + x2:x3 + C(k) + i(rel_time, ref=-1) | fe1 + fe1^fe2``."""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass

from impact.errors import FormulaError

__all__ = [
    "FUNCTIONS",
    "Factor",
    "ParsedFormula",
    "Term",
    "formula_name",
    "parse_fixed_effects",
    "parse_formula",
    "signed_terms",
    "split_top",
]

#: Element-wise transforms allowed inside a formula, by name.
FUNCTIONS = ("log", "log1p", "exp", "sqrt", "abs")

_NAME = r"[A-Za-z_][A-Za-z0-9_.]*"
_NAME_RE = re.compile(rf"^{_NAME}\Z")  # \Z: "$" would accept a final newline
_CALL_RE = re.compile(rf"^({_NAME})\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Factor:
    """One factor of a term.

    Attributes
    ----------
    kind : {"num", "func", "C", "i"}
        Numeric column, transformed numeric column, categorical (treatment coding), or
        fixest's ``i()`` dummies.
    var : str
        Source column.
    func : str or None
        Transform name for ``kind="func"``.
    ref : tuple or None
        Reference levels excluded by ``i()`` (``None``: none given).
    by : str or None
        Numeric column interacted with the ``i()`` dummies (``i(var, x, ref=...)``).
    """

    kind: str
    var: str
    func: str | None = None
    ref: tuple[object, ...] | None = None
    by: str | None = None

    @property
    def is_categorical(self) -> bool:
        """True for ``C()`` and ``i()`` factors."""
        return self.kind in ("C", "i")

    @property
    def columns(self) -> tuple[str, ...]:
        """Source columns the factor reads."""
        return (self.var,) if self.by is None else (self.var, self.by)

    @property
    def label(self) -> str:
        """Display label of the factor."""
        if self.kind == "num":
            return self.var
        if self.kind == "func":
            return f"{self.func}({self.var})"
        if self.kind == "C":
            return f"C({self.var})"
        return self.var


@dataclass(frozen=True)
class Term:
    """A product (``a:b``) of one or more factors."""

    factors: tuple[Factor, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Source columns the term reads."""
        return tuple(c for f in self.factors for c in f.columns)


@dataclass(frozen=True)
class ParsedFormula:
    """The parts of a formula.

    Attributes
    ----------
    depvar : Factor
        The outcome (a column, or a transform of one).
    terms : tuple of Term
        Right-hand-side terms, in order.
    intercept : bool
        Whether an intercept is requested (ignored when fixed effects are present).
    fixef : tuple of tuple of str
        Fixed-effect dimensions; each is one column or an interaction ``a^b``.
    """

    depvar: Factor
    terms: tuple[Term, ...]
    intercept: bool
    fixef: tuple[tuple[str, ...], ...]
    text: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column the formula reads, without duplicates, in order."""
        cols = [self.depvar.var]
        for t in self.terms:
            cols.extend(t.columns)
        for fe in self.fixef:
            cols.extend(fe)
        return tuple(dict.fromkeys(cols))

    @property
    def fixef_names(self) -> tuple[str, ...]:
        """Display names of the fixed-effect dimensions (``a^b`` for interactions)."""
        return tuple("^".join(fe) for fe in self.fixef)


def _top_level(text: str) -> list[bool]:
    """For each character: True when it stands outside parentheses, brackets,
    backtick-quoted names and string literals (where separators count)."""
    flags, depth, quoted, literal = [], 0, False, ""
    for ch in text:
        if literal:
            literal = "" if ch == literal else literal
            flags.append(False)
            continue
        if ch == "`" or (not quoted and ch in "'\""):
            quoted, literal = (not quoted, "") if ch == "`" else (False, ch)
            flags.append(False)
            continue
        if not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"unbalanced parentheses in {text!r}.")
        flags.append(depth == 0 and not quoted)
    if quoted:
        raise FormulaError(f"unclosed backtick in {text!r}.")
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in {text!r}.")
    return flags


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses, brackets and backticks."""
    parts, cur = [], []
    for ch, top in zip(text, _top_level(text), strict=True):
        if ch == sep and top:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def signed_terms(text: str) -> list[tuple[int, str]]:
    """Split a right-hand side on top-level ``+`` and ``-``; return (sign, term) pairs."""
    out, cur, sign = [], [], 1
    for ch, top in zip(text, _top_level(text), strict=True):
        if ch in "+-" and top:
            out.append((sign, "".join(cur).strip()))
            cur, sign = [], (1 if ch == "+" else -1)
        else:
            cur.append(ch)
    out.append((sign, "".join(cur).strip()))
    return out


def _name(text: str, what: str) -> str:
    text = text.strip()
    if len(text) > 2 and text[0] == text[-1] == "`" and "`" not in text[1:-1]:
        return text[1:-1]
    if not _NAME_RE.match(text):
        raise FormulaError(
            f"{what} {text!r} is not a column name (write other names in backticks: `log emp`)."
        )
    return text


def formula_name(name: str) -> str:
    """How column ``name`` is written in a formula: as it is, or in backticks.

    Raises
    ------
    FormulaError
        ``name`` is empty, not a string, or holds a backtick (rename the column).
    """
    if isinstance(name, str) and _NAME_RE.match(name):
        return name
    if not isinstance(name, str) or not name or "`" in name:
        raise FormulaError(
            f"column name {name!r} cannot be written in a formula (it is empty or holds a "
            f"backtick); rename it, e.g. data.rename(columns={{{name!r}: 'new_name'}})."
        )
    return f"`{name}`"


def parse_fixed_effects(text: str) -> tuple[tuple[str, ...], ...]:
    """The fixed-effect dimensions of ``"fe1 + fe2^fe3"`` (backticks quote other names).

    Returns
    -------
    tuple of tuple of str
        One tuple of column names per dimension (more than one: an interaction),
        without repeats, in order.
    """
    fixef: list[tuple[str, ...]] = []
    for raw in split_top(text, "+"):
        if raw in ("", "0"):
            continue
        fe = tuple(_name(p, "fixed effect") for p in split_top(raw, "^"))
        if fe not in fixef:
            fixef.append(fe)
    return tuple(fixef)


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        # a bare word such as ref=control is read as a string level
        return text.strip()


def _parse_i(args: str) -> Factor:
    pieces = split_top(args, ",")
    positional, ref = [], None
    for p in pieces:
        kv = split_top(p, "=")
        if len(kv) > 1:
            key, val = kv[0], "=".join(kv[1:])
            if key != "ref":
                raise FormulaError(f"i() accepts only ref=..., got {key!r}.")
            lit = _literal(val)
            ref = tuple(lit) if isinstance(lit, (list, tuple)) else (lit,)
        else:
            positional.append(_name(p, "i() argument"))
    if not 1 <= len(positional) <= 2:
        raise FormulaError(f"i() takes a variable and an optional numeric interaction: i({args})")
    by = positional[1] if len(positional) == 2 else None
    return Factor(kind="i", var=positional[0], ref=ref, by=by)


def _parse_factor(text: str) -> Factor:
    text = text.strip()
    if _NAME_RE.match(text) or text[:1] == "`":
        return Factor(kind="num", var=_name(text, "term"))
    m = _CALL_RE.match(text)
    if not m:
        raise FormulaError(
            f"cannot read term {text!r}: use column names, a:b, C(col), i(col, ref=...) "
            f"or one of {', '.join(FUNCTIONS)}(col)."
        )
    fn, args = m.group(1), m.group(2)
    if fn == "C":
        return Factor(kind="C", var=_name(args, "C() argument"))
    if fn == "i":
        return _parse_i(args)
    if fn in FUNCTIONS:
        return Factor(kind="func", var=_name(args, f"{fn}() argument"), func=fn)
    raise FormulaError(
        f"unknown function {fn!r} in {text!r}; allowed: C, i, {', '.join(FUNCTIONS)}."
    )


def _expand_star(raw: str) -> list[tuple[Factor, ...]]:
    """The terms of ``a*b`` (``a + b + a:b``; with more factors every product, lower
    orders first, as fixest and patsy expand it); a term without ``*`` as it is."""
    parts = [tuple(_parse_factor(f) for f in split_top(p, ":")) for p in split_top(raw, "*")]
    if any(not p for p in parts) or any(not s.strip() for s in split_top(raw, "*")):
        raise FormulaError(f"cannot read term {raw!r}: '*' needs a term on each side.")
    out: list[tuple[Factor, ...]] = []
    for size in range(1, len(parts) + 1):
        for combo in itertools.combinations(parts, size):
            factors = tuple(dict.fromkeys(f for p in combo for f in p))
            if factors not in out:
                out.append(factors)
    return out


def parse_formula(formula: str) -> ParsedFormula:
    """Parse a fixest-style formula.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 | fe1 + fe2"``. ``0`` or ``-1`` on the right removes the intercept;
        ``a:b`` multiplies factors; ``a*b`` is ``a + b + a:b``; ``C(k)`` adds
        treatment-coded dummies; ``i(v, ref=r)`` adds one dummy per level of ``v`` except
        ``r`` (``i(v, x, ref=r)`` interacts them with ``x``); ``fe1^fe2`` absorbs the
        interaction of two fixed effects. A column whose name is not letters, digits,
        ``_`` and ``.`` is written in backticks: ``"`log emp` ~ x | `firm id`"``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        Anything that cannot be read, with the offending piece quoted.
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula must be a string 'y ~ x1 + x2 | fe', got {formula!r}.")
    sides = split_top(formula, "~")
    if len(sides) != 2:
        raise FormulaError(f"formula has more than one '~': {formula!r}.")
    lhs, rest = sides
    parts = split_top(rest, "|")
    if len(parts) > 2:
        raise FormulaError("formula has more than one '|': use 'y ~ x | fe1 + fe2'.")
    depvar = _parse_factor(lhs)
    if depvar.kind not in ("num", "func"):
        raise FormulaError(f"the outcome must be a column or a transform of one, got {lhs!r}.")
    intercept = True
    terms: list[Term] = []
    pieces = signed_terms(parts[0])
    for k, (sign, raw) in enumerate(pieces):
        if raw == "" and sign > 0:
            if k == 0 and len(pieces) == 1:
                raise FormulaError(f"formula {formula!r} has nothing right of '~' (write 1).")
            if k > 0 or pieces[1][0] > 0:  # "~ - 1 + x" starts with a minus: allowed
                raise FormulaError(f"formula {formula!r} has an empty term (a '+' too many).")
            continue
        if raw == "0" or (sign < 0 and raw == "1"):
            intercept = False
            continue
        if sign < 0:
            raise FormulaError(f"only '- 1' can be subtracted in a formula, got '- {raw}'.")
        if raw == "1":
            continue
        for factors in _expand_star(raw):
            if sum(f.is_categorical for f in factors) > 1:
                raise FormulaError(
                    f"term {raw!r} interacts two categorical factors; use fe1^fe2 instead."
                )
            term = Term(factors=factors)
            if term not in terms:
                terms.append(term)
    fixef = parse_fixed_effects(parts[1]) if len(parts) == 2 else ()
    if not terms and not intercept and not fixef:
        raise FormulaError(f"formula {formula!r} has no regressors.")
    return ParsedFormula(
        depvar=depvar, terms=tuple(terms), intercept=intercept, fixef=tuple(fixef), text=formula
    )
