"""The bulk lines tally behind bonemets_bulk_lines_total (api.metrics.LineTally): a counter Prometheus can take the
rate() of, read from the jobs' own counters, that never falls when a job goes and counts each line once, in one
process or shared by several through a file."""

from datetime import UTC, datetime, timedelta

import pytest

from api.metrics import FINISHED_MARGIN, LineTally

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture(params=["memory", "file"])
def tally(request, tmp_path):
    return LineTally(None if request.param == "memory" else tmp_path / "bonemets_bulk_lines.json")


def test_the_first_reading_is_the_baseline_and_what_jobs_do_after_it_is_added(tally):
    tally.record({"job-a": (100, 2)}, at(0))
    assert tally.totals() == (0, 0)
    tally.record({"job-a": (150, 3), "job-b": (10, 0)}, at(15))  # job-b is new: it counts from 0
    assert tally.totals() == (60, 1)
    tally.record({"job-a": (150, 3), "job-b": (40, 5)}, at(30))
    assert tally.totals() == (90, 6)


def test_a_job_deleted_or_expired_never_makes_the_counter_fall(tally):
    tally.record({"job-a": (0, 0), "job-b": (0, 0)}, at(0))
    tally.record({"job-a": (500, 0), "job-b": (200, 1)}, at(15))
    tally.record({"job-b": (300, 1)}, at(30))  # job-a deleted by its client: its lines stay counted
    assert tally.totals() == (800, 1)
    tally.record({}, at(45))
    assert tally.totals() == (800, 1)


def test_a_reading_older_than_the_last_one_recorded_is_dropped(tally):
    tally.record({"job-a": (0, 0)}, at(0))
    tally.record({"job-a": (300, 0)}, at(20))
    tally.record({"job-a": (100, 0), "job-old": (50, 0)}, at(10))  # an abandoned read that ended late
    tally.record({"job-a": (400, 0)}, at(30))
    assert tally.totals() == (400, 0)


def test_the_window_reaches_back_from_the_last_reading_by_the_clock_margin(tally):
    since, started = tally.window()
    assert datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) == started - FINISHED_MARGIN
    tally.record({}, at(0))
    since, _ = tally.window()
    assert since == (at(0) - FINISHED_MARGIN).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_processes_sharing_the_file_count_each_line_once_whichever_reads(tmp_path):
    path = tmp_path / "bonemets_bulk_lines.json"
    first, second = LineTally(path), LineTally(path)  # two API processes of one server
    first.record({"job-a": (0, 0)}, at(0))
    second.record({"job-a": (120, 0)}, at(15))
    first.record({"job-a": (200, 4)}, at(30))
    second.record({"job-a": (200, 4), "job-b": (7, 0)}, at(45))
    assert first.totals() == second.totals() == (207, 4)
