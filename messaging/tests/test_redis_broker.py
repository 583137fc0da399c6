"""Scale-out on the Redis broker: a real live cluster on LaneRedis is seen alive and drains its pokes.

Uses the Redis at KALIX_TEST_REDIS_URL (default database 13 of 127.0.0.1:6379), emptied before and after.
Without a Redis server it is skipped with the reason shown, except in CI, where it fails.
"""

import os
from unittest import mock

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ

from lanes.heartbeats import lane_health
from lanes.pokes import LIVE
from messaging.models import Dispatch, Message
from messaging.services import message_send
from tests.support.channels import SIM_SECRET
from tests.support.processes import wait_for
from tests.support.redis_server import empty_database

REDIS_URL = os.environ.get("KALIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
LANE_REDIS = "lanes.brokers.LaneRedis"

pytestmark = pytest.mark.cluster


@pytest.fixture
def redis_broker():
    """This test process enqueues into Redis too (django-q2 reads its Conf, not settings, per call)."""
    client = empty_database(REDIS_URL, "KALIX_TEST_REDIS_URL")
    with mock.patch.object(Conf, "BROKER_CLASS", LANE_REDIS), mock.patch.object(Conf, "REDIS", REDIS_URL):
        yield client
    client.flushdb()


def test_a_live_cluster_on_redis_is_alive_and_sends_what_it_is_poked_for(
    lane_cluster, redis_broker, carrier, clinic_a, patient_a
):
    lane_cluster(
        LIVE,
        KALIX_Q_BROKER_CLASS=LANE_REDIS,
        REDIS_URL=REDIS_URL,
        KALIX_SIMCARRIER_URL=carrier.url,
        KALIX_SIMCARRIER_SECRET=SIM_SECRET,
    )  # waits for the lane's heartbeat: under the lane's name, not Redis's list key
    assert lane_health()["live"]["alive"]

    for i in range(20):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")

    wait_for(
        lambda: not Message.objects.exclude(dispatch=Dispatch.HANDED_OFF).exists(),
        timeout=30,
        message="every message handed off through the Redis-poked cluster",
    )
    assert len(carrier.sink) == 20
    assert not OrmQ.objects.exists()  # nothing went through the ORM broker
    assert redis_broker.llen("django_q:live:q") == 0
