"""How `bonemets bulk` shows an upload and a running job: a live bar on a terminal, plain lines anywhere else.

Logs, CI and cron capture stdout without a terminal: there a bar's carriage returns and ANSI codes would be noise,
so each step is one plain line, written when the job has moved 5 points or a minute has passed (a log shows it is
alive without a line per poll). On a terminal, rich draws the bar with lines done of total, lines/s and an ETA.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

STEP = 0.05  # a plain line each time the job has moved this much of its total…
HEARTBEAT_S = 60.0  # …or this long after the previous line
RATE_WINDOW_S = 30.0  # lines/s and the ETA are measured over the last samples this long


class Progress(Protocol):
    def upload(self, sent: int, size: int) -> None: ...
    def job(self, job: dict[str, Any]) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


def for_stream(out: IO[str]) -> Progress:
    """A live bar where `out` is a terminal that can draw one, plain lines otherwise."""
    if out.isatty() and os.environ.get("TERM", "") != "dumb":
        return LiveProgress(out)
    return PlainProgress(out)


def megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Rate:
    """Units per second over a sliding window, so a job that waited in the queue is not judged by that wait."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, value: int) -> None:
        t = self._now()
        self._samples.append((t, value))
        while len(self._samples) > 2 and t - self._samples[1][0] >= RATE_WINDOW_S:
            self._samples.popleft()

    def per_second(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, v0), (t1, v1) = self._samples[0], self._samples[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 and v1 > v0 else None


def processed(job: dict[str, Any]) -> int:
    return int(job.get("done", 0)) + int(job.get("failed", 0))


class PlainProgress:
    """One plain line per step (never a control code), flushed at once so a log is current."""

    def __init__(self, out: IO[str], now: Callable[[], float] = time.monotonic) -> None:
        self._out, self._now = out, now
        self._job_rate = Rate(now)
        self._upload_started: float | None = None
        self._job_started: float | None = None
        self._last_line = float("-inf")
        self._last_fraction = -1.0
        self._last_status = ""

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
        self._last_line = self._now()

    def _due(self, fraction: float) -> bool:
        return fraction - self._last_fraction >= STEP - 1e-9 or self._now() - self._last_line >= HEARTBEAT_S

    def upload(self, sent: int, size: int) -> None:
        """Called with 0 before the first block, then as each is sent: the rate is the average since the start
        (a window would measure the socket's buffer filling, not the server reading)."""
        if self._upload_started is None or sent == 0:
            self._upload_started = self._last_line = self._now()
            self._last_fraction = 0.0
            return
        fraction, took = sent / size if size else 1.0, self._now() - self._upload_started
        rate = f", {megabytes(sent / took)}/s" if took > 0 else ""
        if sent >= size:
            self._print(f"uploaded {megabytes(size)} in {clock(took)}{rate}; the server is storing the lines")
            self._last_fraction = -1.0
        elif self._due(fraction):
            self._last_fraction = fraction
            self._print(f"uploading: {megabytes(sent)} of {megabytes(size)} ({fraction:.0%}){rate}")

    def job(self, job: dict[str, Any]) -> None:
        total, count = int(job["total"]), processed(job)
        if self._job_started is None:
            self._job_started = self._now()
        self._job_rate.add(count)
        fraction = count / total if total else 1.0
        finished = job["status"] in ("succeeded", "failed", "cancelled")
        if not (finished or job["status"] != self._last_status or self._due(fraction)):
            return
        self._last_fraction, self._last_status = fraction, job["status"]
        text = f"job {job['id']} {job['status']}: {count:,} of {total:,} lines ({fraction:.1%})"
        if job.get("failed"):
            text += f", {int(job['failed']):,} failed"
        rate = self._job_rate.per_second()
        if finished:
            took = self._now() - self._job_started
            if took >= 1:  # seen running here, not found finished
                text += f", in {clock(took)}" + (f" ({count / took:,.0f} lines/s)" if count else "")
        elif rate:
            text += f", {rate:,.0f} lines/s, ETA {clock((total - count) / rate)}"
        self._print(text)

    def note(self, text: str) -> None:
        self._print(text)

    def close(self) -> None:
        pass


class LiveProgress:
    """rich's live bars on a terminal: the upload in MB, then the job in lines, each with its rate and ETA."""

    def __init__(self, out: IO[str]) -> None:
        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), RateColumn(), TimeRemainingColumn(),
                             console=Console(file=out), transient=False)
        self._bar.start()
        self._upload: Any = None
        self._job: Any = None

    def upload(self, sent: int, size: int) -> None:
        if self._upload is None:
            self._upload = self._bar.add_task("upload", total=size, unit="MB")
        storing = " (the server stores the lines)" if sent >= size else ""
        self._bar.update(self._upload, completed=sent, description=f"upload{storing}")

    def job(self, job: dict[str, Any]) -> None:
        if self._upload is not None:
            self._bar.update(self._upload, description="upload")
        if self._job is None:
            self._job = self._bar.add_task(f"job {job['id']}", total=int(job["total"]), unit="lines")
        failed = f", {int(job['failed']):,} failed" if job.get("failed") else ""
        self._bar.update(self._job, completed=processed(job), description=f"{job['status']}{failed}")

    def note(self, text: str) -> None:
        self._bar.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        self._bar.stop()


class RateColumn(ProgressColumn):
    """`1,200/10,000 lines · 850 lines/s`, or the same in MB for the upload."""

    def render(self, task: Any) -> Text:
        unit, speed = task.fields.get("unit", ""), task.speed
        if unit == "MB":
            done = f"{task.completed / 1e6:,.1f}/{(task.total or 0) / 1e6:,.1f} MB"
            rate = f" · {speed / 1e6:,.1f} MB/s" if speed else ""
        else:
            done = f"{int(task.completed):,}/{int(task.total or 0):,} {unit}"
            rate = f" · {speed:,.0f} {unit}/s" if speed else ""
        return Text(done + rate)

