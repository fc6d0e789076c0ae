"""SampleLog: an immutable record of every sample decision an estimator makes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from impact.errors import SampleDropWarning

__all__ = ["DropRecord", "SampleLog", "replay_warnings", "summarize_draw_warnings"]


@dataclass(frozen=True)
class DropRecord:
    """One sample decision.

    Attributes
    ----------
    step : str
        Machine-readable step name, e.g. ``"missing"``, ``"singletons"``, ``"zero_weight"``.
    reason : str
        Human-readable reason.
    n_rows : int
        Number of rows removed by this step.
    detail : Mapping[str, int]
        Optional break-down of ``n_rows`` (per column, per fixed-effect dimension, ...).
        The break-down may overlap (a row missing in two columns counts in both).
    """

    step: str
    reason: str
    n_rows: int
    detail: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", MappingProxyType(dict(self.detail)))


@dataclass(frozen=True)
class SampleLog:
    """Immutable log of the rows an estimation started with and every drop after that.

    Parameters
    ----------
    n_initial : int
        Rows in the user's data before any drop.
    records : tuple of DropRecord
        Drops in the order they happened.

    Examples
    --------
    Wooldridge's Example 14.1 uses the 162 firm-years of ``jtrain`` (471 rows) that report a scrap
    rate.

    >>> import warnings, impact
    >>> jtrain = impact.datasets.load("jtrain")
    >>> with warnings.catch_warnings(record=True) as announced:  # the drop is announced once
    ...     warnings.simplefilter("always")
    ...     fit = impact.feols("lscrap ~ d88 + d89 + grant + grant_1 | fcode", jtrain)
    >>> [(w.category.__name__, str(w.message)) for w in announced]  # doctest: +NORMALIZE_WHITESPACE
    [('SampleDropWarning', 'feols: 309 of 471 rows dropped: 309 rows with missing or infinite
      values (lscrap: 309)')]
    >>> log = fit.sample_log
    >>> log.n_initial, log.dropped("missing"), log.n_final
    (471, 309, 162)
    >>> print(log)
    471 rows in, 162 used.
      dropped 309: rows with missing or infinite values (lscrap: 309)
    """

    n_initial: int
    records: tuple[DropRecord, ...] = ()

    @property
    def n_dropped(self) -> int:
        """Total number of rows dropped."""
        return sum(r.n_rows for r in self.records)

    @property
    def n_final(self) -> int:
        """Rows left after all drops."""
        return self.n_initial - self.n_dropped

    def with_drop(
        self, step: str, reason: str, n_rows: int, detail: Mapping[str, int] | None = None
    ) -> SampleLog:
        """Return a new log with one more record (records with zero rows are skipped)."""
        if n_rows == 0:
            return self
        rec = DropRecord(step=step, reason=reason, n_rows=int(n_rows), detail=detail or {})
        return SampleLog(n_initial=self.n_initial, records=(*self.records, rec))

    def then(self, inner: SampleLog) -> SampleLog:
        """This log followed by the drops of ``inner``, whose start is this log's end."""
        return SampleLog(n_initial=self.n_initial, records=(*self.records, *inner.records))

    def dropped(self, step: str) -> int:
        """Rows dropped by the named step (0 if the step did not drop anything)."""
        return sum(r.n_rows for r in self.records if r.step == step)

    def to_frame(self) -> pd.DataFrame:
        """One row per record: step, reason, n_rows, detail."""
        rows = [
            {
                "step": r.step,
                "reason": r.reason,
                "n_rows": r.n_rows,
                "detail": ", ".join(f"{k}: {v}" for k, v in r.detail.items()),
            }
            for r in self.records
        ]
        return pd.DataFrame(rows, columns=["step", "reason", "n_rows", "detail"])

    def __str__(self) -> str:
        lines = [f"{self.n_initial} rows in, {self.n_final} used."]
        for r in self.records:
            extra = ""
            if r.detail:
                extra = " (" + ", ".join(f"{k}: {v}" for k, v in r.detail.items()) + ")"
            lines.append(f"  dropped {r.n_rows}: {r.reason}{extra}")
        return "\n".join(lines)

    def announce(self, who: str, *, stacklevel: int = 3) -> None:
        """Emit one summarised :class:`SampleDropWarning` if anything was dropped
        (``stacklevel`` 3 points at the caller of the function that announces)."""
        if not self.records:
            return
        parts = []
        for r in self.records:
            extra = ""
            if r.detail:
                extra = " (" + ", ".join(f"{k}: {v}" for k, v in r.detail.items()) + ")"
            parts.append(f"{r.n_rows} {r.reason}{extra}")
        msg = f"{who}: {self.n_dropped} of {self.n_initial} rows dropped: " + "; ".join(parts)
        warnings.warn(msg, SampleDropWarning, stacklevel=stacklevel)


def summarize_draw_warnings(
    per_draw: list[list[warnings.WarningMessage]], n_draws: int, who: str
) -> None:
    """Announce the warnings of repeated draws once per category, with how many draws
    raised it and the first message (a bootstrap's draws repeat the point estimate's
    notes; one line each instead of one per draw, none hidden)."""
    first: dict[type[Warning], str] = {}
    count: dict[type[Warning], int] = {}
    for caught in per_draw:
        for cat in dict.fromkeys(w.category for w in caught):
            count[cat] = count.get(cat, 0) + 1
        for w in caught:
            first.setdefault(w.category, str(w.message))
    for cat, k in count.items():
        warnings.warn(
            f"{who}: {cat.__name__} in {k} of {n_draws} draws; the first: {first[cat]}",
            cat,
            stacklevel=3,
        )


def replay_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Re-emit recorded warnings except sample-drop notes (the caller announces its merged
    sample log once, so an inner estimator's note would repeat it)."""
    for w in caught:
        if not issubclass(w.category, SampleDropWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
