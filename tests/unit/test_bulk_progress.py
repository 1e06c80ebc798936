"""The registry CLI's plain progress lines (stdout without a terminal): what a log of a long job shows."""

import io

from api.bulk_progress import HEARTBEAT_S, PlainProgress, for_stream


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def job(done: int, status: str = "running", total: int = 10_000, failed: int = 0) -> dict:
    return {"id": "J1", "status": status, "total": total, "done": done, "failed": failed}


def test_a_running_job_is_a_line_per_five_points_with_its_rate_and_eta_and_never_a_control_code():
    out, clock = io.StringIO(), Clock()
    progress = PlainProgress(out, now=clock)
    progress.job(job(0, "queued"))
    for done in range(100, 10_001, 100):  # 100 lines every 2 s poll: 50 lines/s
        clock.t += 2
        progress.job(job(done, "succeeded" if done == 10_000 else "running"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "job J1 queued: 0 of 10,000 lines (0.0%)"
    assert lines[1] == "job J1 running: 100 of 10,000 lines (1.0%), 50 lines/s, ETA 0:03:18"  # a new status: said
    assert lines[2] == "job J1 running: 600 of 10,000 lines (6.0%), 50 lines/s, ETA 0:03:08"
    assert lines[-1] == "job J1 succeeded: 10,000 of 10,000 lines (100.0%), in 0:03:20 (50 lines/s)"
    assert 20 <= len(lines) <= 24  # every 5 points, not every poll
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_a_stalled_job_still_shows_a_heartbeat_line():
    out, clock = io.StringIO(), Clock()
    progress = PlainProgress(out, now=clock)
    progress.job(job(5000))
    for _ in range(int(HEARTBEAT_S // 2) - 1):
        clock.t += 2
        progress.job(job(5000))
    assert len(out.getvalue().splitlines()) == 1
    clock.t += 2
    progress.job(job(5000))
    assert len(out.getvalue().splitlines()) == 2


def test_failed_lines_are_counted_in_the_progress_line():
    out = io.StringIO()
    PlainProgress(out, now=Clock()).job(job(40, total=50, failed=2, status="running"))
    assert out.getvalue() == "job J1 running: 42 of 50 lines (84.0%), 2 failed\n"


def test_an_upload_is_a_line_per_five_percent_with_its_average_rate_then_a_line_once_sent():
    out, clock = io.StringIO(), Clock()
    progress = PlainProgress(out, now=clock)
    size = 100_000_000
    progress.upload(0, size)
    for sent in range(1_000_000, size + 1, 1_000_000):  # 1 MB every 0.1 s: 10 MB/s
        clock.t += 0.1
        progress.upload(sent, size)
    lines = out.getvalue().splitlines()
    assert lines[0] == "uploading: 5.0 MB of 100.0 MB (5%), 10.0 MB/s"
    assert lines[-1] == "uploaded 100.0 MB in 0:00:10, 10.0 MB/s; the server is storing the lines"
    assert len(lines) == 20


def test_a_job_found_finished_says_no_duration():
    out = io.StringIO()
    PlainProgress(out, now=Clock()).job(job(10_000, "succeeded"))
    assert out.getvalue() == "job J1 succeeded: 10,000 of 10,000 lines (100.0%)\n"


def test_plain_lines_where_stdout_is_not_a_terminal():
    assert isinstance(for_stream(io.StringIO()), PlainProgress)
