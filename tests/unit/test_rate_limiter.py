"""The token bucket of the rate limits (api/ratelimit.py), on an explicit clock: a burst of `requests`, then one
request every `seconds / requests`; a refusal takes nothing; what each answer says (left, window) is exact."""

from hypothesis import given
from hypothesis import strategies as st

from api.ratelimit import MAX_IDLE_BUCKETS, Limiter, Policy, policy_for


def test_a_full_bucket_serves_its_burst_then_one_request_per_refill_period():
    policy = Policy("api", 480, 120)  # 4 a second
    answers = [policy.take("a", 100.0) for _ in range(481)]
    assert [served for served, _, _ in answers] == [True] * 480 + [False]
    assert answers[0] == (True, 479, 1) and answers[479] == (True, 0, 1) and answers[480] == (False, 0, 1)
    assert policy.take("a", 100.125) == (False, 0, 1)  # half a token
    assert policy.take("a", 100.25) == (True, 0, 1)  # one token a quarter of a second later
    assert policy.take("b", 100.25) == (True, 479, 1)  # another client, its own bucket


def test_the_window_is_when_the_next_token_comes_and_a_refusal_does_not_push_it_back():
    policy = Policy("bulk", 20, 3600)  # one every 180 s
    for _ in range(20):
        policy.take("r", 0.0)
    assert policy.take("r", 0.0) == (False, 0, 180)
    assert policy.take("r", 90.0) == (False, 0, 90)  # knocking meanwhile changes nothing
    assert policy.take("r", 179.5) == (False, 0, 1)
    assert policy.take("r", 180.0) == (True, 0, 180)


@given(st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=60))
def test_no_client_is_served_more_than_its_burst_plus_the_refill_of_the_elapsed_time(gaps, requests, seconds):
    policy, now, served = Policy("api", requests, seconds), 0.0, 0
    for gap in gaps:
        now += gap
        ok, left, window = policy.take("c", now)
        served += ok
        assert 0 <= left < requests and window >= 1
        assert served <= requests + now * requests / seconds + 1e-6


def test_idle_buckets_are_forgotten_past_the_bound_and_busy_ones_kept():
    policy = Policy("cds", 10, 10)
    for n in range(MAX_IDLE_BUCKETS):
        policy.take(f"idle-{n}", 0.0)
    for _ in range(10):
        policy.take("busy", 100.0)
    policy.take("new", 100.0)  # the bound reached: the refilled buckets go, the busy one stays
    assert set(policy.buckets) == {"busy", "new"}
    assert policy.take("busy", 100.0) == (False, 0, 1)


def test_each_route_draws_from_its_policy_and_an_empty_limiter_is_off():
    assert policy_for("POST", "/v1/scores/sins") == "api"
    assert policy_for("GET", "/v1/bulk-jobs/0b7e5c1e-6a7d-4a8e-9a53-0f4d2c1b9e11") == "api"
    assert policy_for("POST", "/v1/bulk-jobs") == policy_for("POST", "/v1/bulk-jobs/") == "bulk"
    assert policy_for("GET", "/v1/audit/verify") == "audit"
    assert policy_for("POST", "/cds-services/bonemets-patient-view") == "cds"
    assert not Limiter({}) and Limiter({"api": (1, 1)})
    assert Policy("api", 600, 60).policy_field == b'"api";q=600;w=60'
