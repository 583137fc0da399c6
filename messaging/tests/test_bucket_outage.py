"""A rate limiter that does not answer lets nothing through (fail closed): with the buckets in Redis and
Redis unreachable, a hand-off asks again and then defers its messages, without counting an attempt;
once Redis answers again they go, once each."""

from collections import Counter

import pytest

from lanes import buckets, redis_buckets
from messaging import worker
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.fixtures.providers import BUCKETS_REDIS_URL
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db(transaction=True)

NOBODY = "redis://127.0.0.1:1/12"  # a port nothing listens on


def test_an_unreachable_redis_grants_nothing(db, buckets_redis, settings):
    buckets.ensure("sim:default", rate_per_s=100, burst=10)
    settings.BUCKETS_REDIS_URL = NOBODY
    redis_buckets.forget()
    grant = buckets.take_for("sim:default", {"": 5})[""]
    assert grant.granted == 0 and grant.unavailable and grant.wait_s == settings.BUCKETS_REDIS_RETRY_SECONDS


def test_a_redis_outage_sends_nothing_then_everything_once(clinic_a, patient_a, sim_settings, buckets_redis):
    buckets.ensure("sim:default", rate_per_s=100, burst=10)
    sim_settings.PROVIDER_RETRY_AFTER_MAX_SECONDS = 0.3  # how long a hand-off waits for the limiter
    sim_settings.BUCKETS_REDIS_RETRY_SECONDS = 30  # not due again within this test's drain
    config = CarrierConfig(secret=SIM_SECRET, send_reports=False, latency_ms=10)
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        made = [message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"R {i}") for i in range(5)]
        sim_settings.BUCKETS_REDIS_URL = NOBODY
        redis_buckets.forget()
        worker.drain()
        assert carrier.requests == 0, "nothing goes without a grant"
        waiting = Message.objects.filter(pk__in=[m.pk for m in made])
        assert set(waiting.values_list("dispatch", "status", "attempts")) == {(Dispatch.QUEUED, Status.PENDING, 0)}
        assert all("waiting for the rate limiter" in d for d in waiting.values_list("status_detail", flat=True))

        sim_settings.BUCKETS_REDIS_URL = BUCKETS_REDIS_URL  # Redis answers again
        redis_buckets.forget()
        for m in waiting:
            Message.objects.filter(pk=m.pk).update(next_attempt_at=m.updated_at)
        worker.drain()

    assert set(waiting.values_list("dispatch", "attempts")) == {(Dispatch.HANDED_OFF, 1)}
    assert len(carrier.sink) == 5 and max(Counter(carrier.receipts).values()) == 1
    assert next(b for b in buckets.overview() if b.name == "sim:default").taken == 5
    assert_ledger(expected=5, carrier=carrier)


def test_a_redis_dropping_connections_is_asked_once_per_grant_not_retried(db, buckets_redis, settings):
    """One attempt per grant (lanes.redis_buckets.client says no retries outright): retries with backoff
    would make a grant against a Redis going down wait seconds. redis-py 8.1 retries nothing by default
    either; this holds the line if a release changes that."""
    import socket
    import threading

    buckets.ensure("sim:default", rate_per_s=100, burst=10)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        while True:
            try:
                conn = listener.accept()[0]
                accepted.append(conn)
                conn.close()  # dropped at once, as by a Redis going down
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    settings.BUCKETS_REDIS_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/12"
    settings.BUCKETS_REDIS_TIMEOUT_SECONDS = 0.2
    redis_buckets.forget()
    try:
        grant = buckets.take_for("sim:default", {"": 5})[""]
    finally:
        listener.close()
        redis_buckets.forget()

    assert grant.granted == 0 and grant.unavailable
    assert len(accepted) == 1, f"{len(accepted)} connections for one grant"
