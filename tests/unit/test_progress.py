"""The report's progress display: plain lines in event order off a terminal, one redrawn
status line on a terminal."""

from __future__ import annotations

import io

from impact.report.progress import Progress, StepEvent


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_say_when_each_step_starts_and_ends():
    out = io.StringIO()
    p = Progress(2, stream=out)
    for e in (StepEvent(2, "table", "production"), StepEvent(1, "table", "main"),
              StepEvent(1, "table", "main", 1.25), StepEvent(2, "table", "production", 3.0)):  # fmt: skip
        p.show(e)
    assert out.getvalue().splitlines() == [
        "[2/2] table production ...", "[1/2] table main ...",
        "[1/2] table main: 1.2 s", "[2/2] table production: 3.0 s",
    ]  # fmt: skip


def test_a_terminal_gets_one_status_line_with_the_running_steps():
    out = _Tty()
    p = Progress(2, stream=out)
    p.show(StepEvent(1, "table", "main"))
    assert "running: table main" in out.getvalue() and "\n" not in out.getvalue()
    p.show(StepEvent(1, "table", "main", 0.5))
    p.show(StepEvent(2, "figure", "rollout"))
    p.show(StepEvent(2, "figure", "rollout", 0.1))
    assert out.getvalue().endswith("2/2 done  running: -\n")


def test_bootstrap_draws_show_at_each_quarter_off_a_terminal():
    out = io.StringIO()
    p = Progress(1, stream=out)
    p.show(StepEvent(1, "table", "production"))
    for done in range(1, 9):
        p.show(StepEvent(1, "table", "production", draws="acf bootstrap", done=done, total=8))
    lines = out.getvalue().splitlines()
    assert lines[1:] == [f"[1/1] table production: acf bootstrap {d}/8 draws" for d in (2, 4, 6, 8)]


def test_bootstrap_draws_enter_the_terminal_status_line():
    out = _Tty()
    p = Progress(2, stream=out)
    p.show(StepEvent(1, "table", "production"))
    p.show(StepEvent(1, "table", "production", draws="lp bootstrap", done=3, total=19))
    assert out.getvalue().rsplit("\r", 1)[-1].endswith("lp bootstrap 3/19 draws")
    assert p.done == 0  # draws are not steps


def test_a_bootstrap_calls_its_progress_callback_once_per_draw():
    from impact.productivity.bootstrap import draw_progress

    seen: list[tuple[int, int]] = []
    report = draw_progress(5, lambda done, total: seen.append((done, total)))
    for b in range(1, 6):
        report(b)
    assert seen == [(b, 5) for b in range(1, 6)]
