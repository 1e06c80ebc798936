"""The audit hash: one canonical encoding, whichever path computes it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.audit import COLUMNS, HASHED_FIELDS, record_hash, row_hash

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
