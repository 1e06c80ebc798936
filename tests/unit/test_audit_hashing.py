"""The audit hash: one canonical encoding, whichever path computes it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.audit import COLUMNS, HASHED_FIELDS, AuditEntry, chain, prepare, record_hash, row_hash

TEXT = st.text(max_size=40)
ROWS = st.fixed_dictionaries({
    **{name: TEXT for name in HASHED_FIELDS},
    "seq": st.integers(1, 10**12), "patient_hash": st.none() | TEXT, "job_id": st.none() | TEXT, "hash": TEXT,
})


@settings(max_examples=300)
@given(ROWS)
def test_the_fast_row_hash_equals_the_canonical_record_hash(row):
    assert row_hash(tuple(row[c] for c in COLUMNS)) == record_hash(row)


def test_a_change_in_any_hashed_field_changes_the_hash():
    row = {name: "v" for name in HASHED_FIELDS} | {"seq": 1, "hash": ""}
    base = record_hash(row)
    for name in HASHED_FIELDS:
        assert record_hash({**row, name: 2 if name == "seq" else "w"}) != base, name


def test_audit_ids_do_not_repeat_when_someone_reseeds_the_global_random():
    import random

    from infra.audit import new_id

    random.seed(42)
    first = new_id()
    random.seed(42)
    assert new_id() != first


ENTRIES = st.builds(
    AuditEntry, id=TEXT, client=TEXT, roles=TEXT, endpoint=TEXT, action=TEXT, request_id=TEXT,
    patient_hash=st.none() | TEXT, input_json=TEXT, output_json=TEXT, rule_ids=st.tuples(TEXT, TEXT) | st.just(()),
    guideline_version=TEXT, engine_version=TEXT, rules_version=TEXT, job_id=st.none() | TEXT)


@settings(max_examples=300)
@given(st.lists(ENTRIES, min_size=1, max_size=5), st.integers(0, 10**12), st.text(min_size=64, max_size=64))
def test_hashes_linked_from_entries_prepared_before_the_lock_equal_the_canonical_record_hash(entries, seq, prev):
    """prepare() encodes each record around created_at, prev_hash and seq before the chain's lock; chain() only
    splices them in. Whatever the texts hold (quotes, escapes, a value that looks like a placeholder), the hash is
    the one verify recomputes from the stored row."""
    chained = chain((seq, prev), prepare(entries))
    for row, receipt in zip(chained.rows, chained.receipts, strict=True):
        stored = dict(zip(COLUMNS, row, strict=True))
        assert record_hash(stored) == stored["hash"] == receipt.hash
        assert row_hash(row) == stored["hash"]
    assert [r[COLUMNS.index("prev_hash")] for r in chained.rows] == [prev] + [r.hash for r in chained.receipts[:-1]]


@settings(max_examples=500)
@given(st.integers(0, 2**128 - 1))
def test_audit_ids_are_the_version_4_uuids_the_standard_library_makes(bits):
    import uuid

    from infra.audit import _uuid4_text

    assert _uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
