"""A PET moved out of the 15 days after G-CSF (IMG-2) stays the order the EHR wrote: the same occurrence[x], the
time of day kept, a window kept when the new day is still inside it (infra.cds.rescheduled)."""

import datetime as dt

from infra.cds import rescheduled

DAY = dt.date(2026, 12, 9)


def test_a_date_time_keeps_its_time_and_offset_and_a_period_keeps_what_it_can():
    assert rescheduled({"occurrenceDateTime": "2026-11-28T09:30:00+01:00"}, DAY) == {
        "occurrenceDateTime": "2026-12-09T09:30:00+01:00"}
    assert rescheduled({"occurrenceDateTime": "2026-11-28"}, DAY) == {"occurrenceDateTime": "2026-12-09"}
    assert rescheduled({}, DAY) == {"occurrenceDateTime": "2026-12-09"}
    inside = {"occurrencePeriod": {"start": "2026-12-01T08:00:00Z", "end": "2026-12-27T18:00:00Z"}}
    assert rescheduled(inside, DAY) == {"occurrencePeriod": {"start": "2026-12-09T08:00:00Z",
                                                             "end": "2026-12-27T18:00:00Z"}}
    past = {"occurrencePeriod": {"start": "2026-11-28", "end": "2026-12-02"}}
    assert rescheduled(past, DAY) == {"occurrencePeriod": {"start": "2026-12-09", "end": "2026-12-13"}}
