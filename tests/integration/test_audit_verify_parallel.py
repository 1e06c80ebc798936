"""`verify` with several processes (issue 14, P4) gives the serial walk's verdict, to the first broken record and its
reason, whatever was tampered with and wherever it falls against the ranges the processes walk."""

import pytest

from infra import audit
from infra.db import make_engine
from infra.migrate import migrate
from tests.conftest import _reset_postgres
from tests.integration.test_audit_chain import execute, populate

pytestmark = pytest.mark.postgres

# 40 records, 2 processes: 4 ranges of 10 (1-10, 11-20, 21-30, 31-40) while none is missing
TAMPERING = {
    "nothing": [],
    "a range's first record modified": ["UPDATE audit_record SET output_json = '{}' WHERE seq = 11"],
    "a range's last record modified": ["UPDATE audit_record SET output_json = '{}' WHERE seq = 20"],
    "a range's last record deleted": ["DELETE FROM audit_record WHERE seq = 10"],
    "a range's first record deleted": ["DELETE FROM audit_record WHERE seq = 21"],
    "a whole range deleted": ["DELETE FROM audit_record WHERE seq BETWEEN 11 AND 20"],
    "two ranges' ends swapped": ["UPDATE audit_record SET seq = -1 WHERE seq = 10",
                                 "UPDATE audit_record SET seq = 10 WHERE seq = 11",
                                 "UPDATE audit_record SET seq = 11 WHERE seq = -1"],
    "the first records deleted": ["DELETE FROM audit_record WHERE seq <= 5"],
    "the first record's link forged": ["UPDATE audit_record SET prev_hash = repeat('1', 64) WHERE seq = 1"],
    "the tail truncated": ["DELETE FROM audit_record WHERE seq >= 36"],
    "a record past the head": ["UPDATE audit_head SET seq = 39 WHERE id = 1"],
    "two breaks, in different ranges": ["DELETE FROM audit_record WHERE seq = 33",
                                        "UPDATE audit_record SET output_json = '{}' WHERE seq = 17"],
}


@pytest.fixture
def pg_engine(postgres_server):
    _reset_postgres(postgres_server)
    engine = make_engine(postgres_server)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("tampering", TAMPERING)
def test_processes_give_the_serial_verdict(pg_engine, tampering, monkeypatch):
    populate(pg_engine, 40)
    if TAMPERING[tampering]:
        execute(pg_engine, *TAMPERING[tampering])
    serial = audit.verify(pg_engine)

    walked = []
    real = audit._walk_ranges
    monkeypatch.setattr(audit, "PARALLEL_MIN_RECORDS", 1)
    monkeypatch.setattr(audit, "_walk_ranges", lambda *args: walked.append(args[2]) or real(*args))
    parallel = audit.verify(pg_engine, workers=2)

    assert walked, "the ranges were not walked by processes"
    assert parallel == serial
    assert serial.intact == (tampering == "nothing")


def test_a_short_trail_is_walked_by_this_process(pg_engine, monkeypatch):
    populate(pg_engine, 5)
    monkeypatch.setattr(audit, "_walk_ranges", lambda *args: pytest.fail("processes started for 5 records"))
    result = audit.verify(pg_engine, workers=2)
    assert (result.intact, result.records) == (True, 5)
