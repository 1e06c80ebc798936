"""A bulk line's stored result reuses its audit record's encoding of the answer (issue 14); it must be exactly the
line the encoding of the answer with its audit id gives, for every kind, in both languages, whatever the line id."""

import msgspec
import pytest

from domain.kinds import KINDS
from infra.jobs import JobRow
from worker.tasks import _line, outcome

JOB = {"id": "00000000-0000-4000-8000-000000000001", "client": "registry", "status": "running", "total": 1,
       "done": 0, "failed": 0, "chunk_size": 1000, "request_id": "r", "created_at": "2026-11-28T09:00:00Z",
       "started_at": None, "finished_at": None}


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("line_id", [7, "line \"7\" é", None])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_result_line_is_the_answer_with_its_audit_id(kind, line_id, language):
    payload = msgspec.json.encode({"kind": kind, **({"line_id": line_id} if line_id is not None else {}),
                                   **KINDS[kind].example}).decode()
    done = outcome(JobRow(**JOB, language=language), 12, payload, None, "ab" * 32)
    assert done.ok and done.audit is not None
    answer = msgspec.json.decode(done.audit.output_json)
    expected = _line(12, line_id, ok=True, key="result", value={**answer, "audit_id": done.audit.id})
    assert done.body == expected
    assert msgspec.json.decode(done.body)["result"]["audit_id"] == done.audit.id
