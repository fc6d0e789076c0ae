"""Typed errors and warnings raised by impact.

Every error is an :class:`ImpactError`, itself a :class:`ValueError`, so that
``except ValueError`` keeps working in user code. Messages name the column, a
count and an example value, and say how to fix the problem.
"""

from __future__ import annotations

import contextlib
import difflib
import warnings
from collections.abc import Iterable, Iterator

__all__ = [
    "ClusterError",
    "CohortError",
    "CollinearityError",
    "CollinearityWarning",
    "ColumnNotFoundError",
    "ColumnTypeError",
    "ConvergenceError",
    "DisclosureError",
    "DuplicateRowsError",
    "EmptyCellWarning",
    "EmptySampleError",
    "EngineError",
    "EngineMemoryError",
    "ExpressionError",
    "FewClustersWarning",
    "FormulaError",
    "ImpactError",
    "ImpactWarning",
    "InvalidOptionError",
    "InvalidTimeError",
    "InvalidWeightsError",
    "MissingIdError",
    "MultipleMinimaWarning",
    "NegativeOutcomeError",
    "NonAbsorbingTreatmentError",
    "NonPSDWarning",
    "NonPositiveInputError",
    "OutputPathError",
    "RepeatedColumnError",
    "SampleDropWarning",
    "SeparationWarning",
    "SpecError",
    "UnbalancedPanelError",
    "close_matches_hint",
    "rerun_quietly",
]


class ImpactError(ValueError):
    """Base class of every error raised by impact for bad input."""


class ColumnNotFoundError(ImpactError, KeyError):
    """A column named by the user is not in the data frame."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class CohortError(ImpactError):
    """A cohort value cannot be read as a period of the time grid."""


class ColumnTypeError(ImpactError):
    """A column has the wrong type (e.g. strings in a numeric outcome)."""


class DuplicateRowsError(ImpactError):
    """Two or more rows share the same (unit, time) pair."""


class MissingIdError(ImpactError):
    """A unit or time identifier is missing (NaN/None)."""


class UnbalancedPanelError(ImpactError):
    """A method that needs every unit in every period got an unbalanced panel."""


class InvalidTimeError(ImpactError):
    """The time column cannot be turned into integer period codes."""


class InvalidWeightsError(ImpactError):
    """Weights are negative, infinite, missing or all zero."""


class ClusterError(ImpactError):
    """The cluster variable is unusable (missing values, fewer than two clusters)."""


class FormulaError(ImpactError):
    """The model formula cannot be parsed or refers to something invalid."""


class CollinearityError(ImpactError):
    """A coefficient of interest is collinear with the fixed effects or other regressors."""


class EmptySampleError(ImpactError):
    """No observations (or no variation) are left to estimate the model."""


class ConvergenceError(ImpactError):
    """An iterative algorithm (demeaning, IRLS, GMM) did not converge."""


class NegativeOutcomeError(ImpactError):
    """A count or PPML outcome has negative values."""


class NonPositiveInputError(ImpactError):
    """A production input or output that must be logged is zero or negative."""


class InvalidOptionError(ImpactError):
    """An option value is not one of the accepted values."""


class RepeatedColumnError(InvalidOptionError):
    """The data frame holds a column the call uses under the same name more than once."""


class ExpressionError(InvalidOptionError):
    """A spec expression uses something outside the whitelisted column-expression grammar."""


class SpecError(ColumnNotFoundError, InvalidOptionError):
    """An evaluation spec does not fit the data: every problem at once, one per line
    (``problems``)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = "the spec does not fit the data" + (f" ({n} problems)" if n > 1 else "")
        super().__init__(head + ":\n" + "\n".join(f"- {p}" for p in self.problems))


class EngineError(ImpactError):
    """A query engine (DuckDB, Spark) could not run a step on the data: the message names
    the step and the fix."""


class EngineMemoryError(EngineError, MemoryError):
    """A query engine ran out of its memory limit (and could not spill to disk)."""


class DisclosureError(ImpactError):
    """The report's estimates would rest on fewer firms than the disclosure threshold."""


class NonAbsorbingTreatmentError(ImpactError):
    """A unit leaves treatment, but the estimator assumes staggered (absorbing) adoption."""


class OutputPathError(ImpactError):
    """An output would be written outside the output folder (a name or a symbolic link)."""


class ImpactWarning(UserWarning):
    """Base class of every warning emitted by impact."""


class SampleDropWarning(ImpactWarning):
    """Observations were dropped from the estimation sample (counts in the SampleLog)."""


class CollinearityWarning(ImpactWarning):
    """Nuisance regressors were dropped because they are collinear."""


class FewClustersWarning(ImpactWarning):
    """Cluster-robust inference with few clusters is unreliable."""


class MultipleMinimaWarning(ImpactWarning):
    """A GMM criterion has several minima that fit about equally well (weak identification)."""


class SeparationWarning(ImpactWarning):
    """A logit's fitted probabilities are numerically 0 or 1: a regressor (nearly) separates
    the outcome, so its coefficient is not finite and its standard error meaningless."""


class EmptyCellWarning(ImpactWarning):
    """Some ATT(g,t) cells have too few treated or control units and are NaN."""


class NonPSDWarning(ImpactWarning):
    """A multi-way cluster covariance matrix was not positive semi-definite and was fixed."""


def close_matches_hint(name: str, candidates: Iterable[object]) -> str:
    """Return a ``" Did you mean ...?"`` suffix listing close matches, or ``""``.

    Parameters
    ----------
    name : str
        The misspelt name.
    candidates : iterable
        The valid names.
    """
    pool = [str(c) for c in candidates]
    matches = difflib.get_close_matches(str(name), pool, n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


@contextlib.contextmanager
def rerun_quietly() -> Iterator[None]:
    """Silence the package's own warnings while re-running a fit the user already has.

    Bootstraps and checks re-run an estimator on the design of a fit the user holds
    (``G + 2`` runs on residual outcomes, a refit on the same rows): that fit announced
    its sample drops, few clusters and empty cells once, and each rerun would repeat
    them. Only :class:`ImpactWarning` is silenced; numerical warnings (overflow, singular
    matrices) from numpy or scipy still surface.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)  # announced once, by the user's fit
        yield
