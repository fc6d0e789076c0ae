"""Progress of a report build: which step runs now, how long the run has taken.

Steps (tables and figures) report when they start and when they end, from this process or
from the worker processes (through a queue). On a terminal one status line is redrawn in
place (elapsed time, steps done, the steps running); elsewhere (a log, CI) each event is a
plain line, in the order the events happen, so the longest step shows when it started.
"""

from __future__ import annotations

import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = ["Progress", "StepEvent"]


@dataclass(frozen=True)
class StepEvent:
    """A step started (``seconds`` None), ended (its build time), or reports bootstrap
    draws inside it (``draws``: what is drawn, ``done`` of ``total``)."""

    index: int
    kind: str
    name: str
    seconds: float | None = None
    draws: str = ""
    done: int = 0
    total: int = 0


@dataclass
class Progress:
    """Renders :class:`StepEvent` s for ``total`` steps on ``stream``.

    Attributes
    ----------
    live : bool
        Redraw one status line (a terminal) instead of printing a line per event.
    """

    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    live: bool | None = None
    started: float = field(default_factory=time.perf_counter)
    running: dict[int, str] = field(default_factory=dict)
    done: int = 0

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def show(self, event: StepEvent) -> None:
        """Record ``event`` and render it."""
        label = f"{event.kind} {event.name}"
        if event.draws:
            self._draws(event, label)
            return
        if event.seconds is None:
            self.running[event.index] = label
            line = f"[{event.index}/{self.total}] {label} ..."
        else:
            self.running.pop(event.index, None)
            self.done += 1
            line = f"[{event.index}/{self.total}] {label}: {event.seconds:.1f} s"
        if self.live:
            elapsed = time.perf_counter() - self.started
            now = ", ".join(self.running.values()) or "-"
            status = f"{elapsed:6.1f} s  {self.done}/{self.total} done  running: {now}"
            self.stream.write("\r\033[K" + status[:160])
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _draws(self, event: StepEvent, label: str) -> None:
        """A step's bootstrap progress: in the status line on a terminal; elsewhere a
        line at each quarter of the draws."""
        text = f"{label}: {event.draws} {event.done}/{event.total} draws"
        if self.live:
            self.running[event.index] = text
            elapsed = time.perf_counter() - self.started
            now = ", ".join(self.running.values())
            status = f"{elapsed:6.1f} s  {self.done}/{self.total} done  running: {now}"
            self.stream.write("\r\033[K" + status[:160])
        elif event.total and event.done * 4 // event.total != (event.done - 1) * 4 // event.total:
            self.stream.write(f"[{event.index}/{self.total}] {text}\n")
        self.stream.flush()

    def drain(self, events: Any, until: Any) -> None:
        """Show the events of ``events`` (a queue) until ``until()`` is true and the
        queue is empty."""
        while True:
            try:
                self.show(events.get(timeout=0.2))
            except queue.Empty:
                if until():
                    return
