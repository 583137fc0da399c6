"""Rate limits as real SMS APIs apply them: a per-account limit answered 429 with Retry-After.

A 429 says the provider did not process the request, so the message may go again, and only that
message waits: nothing is sent twice, nothing fails for it, no attempt is counted, everything is
eventually sent. With our token bucket (lanes.buckets) set to the account's limit, 429s are rare.
"""

from collections import Counter
from datetime import timedelta

import pytest

from lanes import buckets
from lanes.models import RateBucket
from messaging import worker
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db(transaction=True)


def storm_carrier(**config):
    values = {"secret": SIM_SECRET, "send_reports": False, "latency_ms": 20, "jitter_ms": 10}
    return SimCarrier(CarrierConfig(**{**values, **config}))


def send(clinic, patient, n):
    return [message_send(clinic=clinic, patient=patient, channel="sms", body=f"Reminder {i}") for i in range(n)]


def drain_until_handed_off(rounds=20):
    for _ in range(rounds):
        worker.drain()
        if not Message.objects.exclude(dispatch=Dispatch.HANDED_OFF).exists():
            return


def test_a_429_storm_sends_nothing_twice_fails_nothing_and_sends_everything(clinic_a, patient_a, sim_settings):
    """No bucket of ours: the carrier's limit (20/s, burst 5) meets 60 requests at once."""
    with storm_carrier(limit_per_s=20, limit_burst=5) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        send(clinic_a, patient_a, 60)
        drain_until_handed_off()

    assert carrier.http_429 > 0, "the storm never came"
    assert len(carrier.sink) == 60
    assert not [ref for ref, n in Counter(carrier.receipts).items() if n > 1], "nothing sent twice"
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENDING}
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}, "a 429 is not an attempt"
    assert_ledger(expected=60, carrier=carrier)


def current(name):
    """The bucket's state from wherever it lives (PostgreSQL or Redis), as the dashboard reads it."""
    return next(b for b in buckets.overview() if b.name == name)


def age(name, seconds, store):
    """As if the bucket's last grant was `seconds` ago."""
    if store == "redis":
        from lanes import redis_buckets

        redis_buckets.client().hincrbyfloat(redis_buckets.key(name), "at", -seconds)
    else:
        from django.db.models import F

        RateBucket.objects.filter(name=name).update(refilled_at=F("refilled_at") - timedelta(seconds=seconds))


def test_a_429_lowers_the_buckets_rate_and_it_climbs_back(db, settings, bucket_store):
    buckets.ensure("sim:default", rate_per_s=100, burst=10)
    buckets.take("sim:default", 1)
    buckets.throttled("sim:default")
    buckets.throttled("sim:default")  # the same burst of 429s: lowered once
    bucket = current("sim:default")
    assert bucket.current_rate == pytest.approx(100 * settings.BUCKET_BACKOFF_FACTOR)
    assert bucket.throttled == 2 and bucket.last_throttled_at is not None
    age("sim:default", 365 * 86400, bucket_store)
    buckets.take("sim:default", 1)
    assert current("sim:default").current_rate == pytest.approx(100), "back to the set rate, never above"


def test_a_429_empties_the_bucket(db, bucket_store):
    buckets.ensure("sim:default", rate_per_s=0.5, burst=10)
    assert buckets.take("sim:default", 1)[0] == 1
    buckets.throttled("sim:default")
    granted, wait = buckets.take("sim:default", 1)
    assert granted == 0 and wait > 1, "no token left, the next one in about two seconds"


def test_a_bucket_grants_no_more_than_its_burst_at_once(db, bucket_store):
    buckets.ensure("sim:default", rate_per_s=5, burst=3)
    granted, wait = buckets.take("sim:default", 10)
    assert granted == 3 and wait == 0
    granted, wait = buckets.take("sim:default", 10)
    assert granted == 0 and 0 < wait <= 0.2 + 0.01  # the next token in 1/5 s


def test_with_our_bucket_at_the_accounts_limit_429s_are_rare(clinic_a, patient_a, sim_settings, bucket_store):
    buckets.ensure("sim:default", rate_per_s=40, burst=5)
    with storm_carrier(limit_per_s=40, limit_burst=10) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        send(clinic_a, patient_a, 80)
        drain_until_handed_off()
    assert len(carrier.sink) == 80
    assert carrier.http_429 <= 2, f"{carrier.http_429} 429s of {carrier.requests} requests"
    assert current("sim:default").taken >= 80


def test_a_long_retry_after_defers_only_that_message_without_counting_an_attempt(clinic_a, patient_a, sim_settings):
    sim_settings.PROVIDER_RETRY_AFTER_MAX_SECONDS = 0  # every 429 goes back to the queue
    with storm_carrier(limit_per_s=1, limit_burst=2, retry_after_s=30) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        made = send(clinic_a, patient_a, 5)
        worker.drain()
    states = Counter(Message.objects.values_list("dispatch", flat=True))
    assert states == {Dispatch.HANDED_OFF: 2, Dispatch.QUEUED: 3}
    for m in Message.objects.filter(dispatch=Dispatch.QUEUED):
        assert m.status == Status.PENDING
        assert "(not an attempt)" in m.status_detail and "429" in m.status_detail
        assert (m.next_attempt_at - m.updated_at).total_seconds() >= 29
    assert len(carrier.sink) == 2 and len(made) == 5


def test_any_number_of_long_429s_uses_no_attempt_and_the_message_goes_once(clinic_a, patient_a, sim_settings):
    """A Retry-After past the cap defers the message to the queue; more 429s than the attempts budget
    then an acceptance: sent once, its attempt number as without the 429s, never failed for attempts."""
    sim_settings.PROVIDER_RETRY_AFTER_MAX_SECONDS = 0  # every 429 goes back to the queue
    throttles = sim_settings.MESSAGING_MAX_ATTEMPTS + 2
    with storm_carrier(throttle_first=throttles, retry_after_s=30) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        (made,) = send(clinic_a, patient_a, 1)
        seen_attempts = set()
        for _ in range(throttles + 1):
            worker.drain()
            m = Message.objects.get(pk=made.pk)
            seen_attempts.add(m.attempts)
            if m.dispatch == Dispatch.HANDED_OFF:
                break
            assert m.dispatch == Dispatch.QUEUED and m.status == Status.PENDING, m.status_detail
            Message.objects.filter(pk=m.pk).update(next_attempt_at=m.updated_at)  # its Retry-After has passed

    m = Message.objects.get(pk=made.pk)
    assert carrier.http_429 == throttles
    assert m.dispatch == Dispatch.HANDED_OFF and m.status == Status.SENDING
    assert m.attempts == 1 and seen_attempts == {0, 1}, "a 429 is no attempt, as staff see it"
    assert list(carrier.sink) == [str(m.send_key)] and Counter(carrier.receipts)[str(m.send_key)] == 1
    kinds = Counter(m.events.values_list("kind", flat=True))
    assert kinds["deferred"] == throttles, "each deferral is on the timeline"
    assert kinds["handed_off"] == throttles + 1 and kinds["failed"] == 0
    assert_ledger(expected=1, carrier=carrier)
