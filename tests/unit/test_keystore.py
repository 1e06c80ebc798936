"""The key store (issue 10): unknown keys cost no query after the first and never push a valid key out;
revocation and expiry take effect within the stated bound."""

import time

import pytest
from sqlalchemy import event

from infra import keys as keys_module
from infra.db import make_engine
from infra.keys import KeyStore, create_key, revoke_key
from infra.migrate import migrate


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def queries(engine):
    counted = []
    event.listen(engine, "before_cursor_execute", lambda *a, **k: counted.append(1))
    return counted


def test_unknown_keys_cost_no_query_after_the_first_and_malformed_ones_none(engine, monkeypatch):
    monkeypatch.setattr(keys_module, "NEGATIVE_CACHE_MAX", 50)
    store = KeyStore(engine, ttl_s=60)
    valid = create_key(engine, "hospital-a", ("scoring",))
    assert store.lookup(valid).client == "hospital-a"
    counted = queries(engine)
    assert store.lookup("not-a-key") is None and store.lookup("bm_zz_short") is None and counted == []
    unknown = "bm_0123456789ab_" + "A" * 43
    assert store.lookup(unknown) is None and len(counted) == 1
    assert store.lookup(unknown) is None and len(counted) == 1  # the second time: no query
    for i in range(200):  # a flood of unknown keys fills the bounded negative cache, not the valid one
        store.lookup(f"bm_{i:012x}_" + "B" * 43)
    assert len(store._unknown) == 50
    before = len(counted)
    assert store.lookup(valid).client == "hospital-a" and len(counted) == before  # still cached, no query


def test_a_revoked_key_is_refused_within_the_cache_ttl(engine):
    store = KeyStore(engine, ttl_s=0.3)
    key = create_key(engine, "hospital-a", ("scoring",))
    assert store.lookup(key) is not None
    assert revoke_key(engine, key.split("_")[1])
    time.sleep(0.35)
    assert store.lookup(key) is None


def test_an_expired_key_is_refused_even_from_the_cache(engine):
    store = KeyStore(engine, ttl_s=60)
    key = create_key(engine, "hospital-a", ("scoring",), expires_in_days=0.5 / 86400)  # half a second
    assert store.lookup(key) is not None
    time.sleep(0.6)
    assert store.cached(key) == (True, None) and store.lookup(key) is None


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BONEMETS_PSEUDONYM_KEY", " " * 32, "blank"), ("BONEMETS_AUDIT_RETENTION_DAYS", "-1", "at least 1 day")])
def test_settings_refuse_a_blank_key_and_a_negative_retention(tmp_path, name, value, message):
    from infra.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=message):
        load_settings({"BONEMETS_VAR_DIR": str(tmp_path), name: value}, install=True)
