"""Several fits from one formula (several outcomes, stepwise regressors)."""

from __future__ import annotations

from typing import Any

from impact.errors import InvalidOptionError

__all__ = ["FitCollection"]


class FitCollection(tuple):
    """The fits of a multiple-estimation formula, in order; a tuple, so
    :func:`impact.etable` takes it as it is.

    Attributes
    ----------
    labels : tuple of str
        One label per fit: its outcome and/or its step's regressors.
    formulas : tuple of str
        The single-model formula of each fit.
    """

    labels: tuple[str, ...]
    formulas: tuple[str, ...]

    def __new__(cls, fits: list[Any], labels: list[str], formulas: list[str]) -> FitCollection:
        out = super().__new__(cls, fits)
        out.labels = tuple(labels)
        out.formulas = tuple(formulas)
        return out

    @classmethod
    def fit_each(
        cls, fit: Any, models: list[tuple[str, str]], data: Any, options: dict
    ) -> FitCollection:
        """``fit(formula, data, **options)`` for every ``(label, formula)`` of
        :func:`~impact.linear.formula_multi.expand_formula`."""
        options = {k: v for k, v in options.items() if k not in ("formula", "data")}
        return cls([fit(f, data, **options) for _, f in models], [lab for lab, _ in models],
                   [f for _, f in models])  # fmt: skip

    def __getnewargs__(self) -> tuple:  # pickling keeps the labels
        return (list(self), list(self.labels), list(self.formulas))

    def fit(self, label: str) -> Any:
        """The fit with this label."""
        if label not in self.labels:
            raise InvalidOptionError(f"{label!r} is not one of the fits: {list(self.labels)}.")
        return self[self.labels.index(label)]

    def __repr__(self) -> str:
        lines = [f"{len(self)} fits:"]
        lines += [f"  [{i}] {lab}: {f}" for i, (lab, f) in enumerate(zip(self.labels,
                                                                       self.formulas,
                                                                       strict=True))]  # fmt: skip
        return "\n".join(lines)
