"""SIGKILL a real live-lane django-q2 cluster mid-batch: every message reaches the carrier exactly once."""

import pytest
from django.db import transaction

from lanes.pokes import LIVE, poke
from messaging.models import Dispatch, Message
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.processes import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

N = 300


@pytest.fixture
def slow_carrier(sim_settings):
    """Takes each message at once but answers only after 150 ms: a kill then lands mid-hand-off."""
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, latency_ms=150, send_reports=False)) as sim:
        yield sim


def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(lane_cluster, clinic_a, patient_a, slow_carrier):
    env = {
        "KALIX_SIMCARRIER_URL": slow_carrier.url,
        "KALIX_SIMCARRIER_SECRET": SIM_SECRET,
        "KALIX_MESSAGING_BATCH_SIZE": 10,
        "KALIX_MESSAGING_PER_MESSAGE_BATCH_SIZE": 10,  # the carrier takes one message per request
        "KALIX_MESSAGING_RECOVERY_GRACE_SECONDS": 1,
    }
    with transaction.atomic():  # one commit, one poke
        for i in range(N):
            message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")

    first = lane_cluster(LIVE, workers=2, **env)
    wait_for(lambda: len(slow_carrier.receipts) >= 60, timeout=60, message="the carrier received 60 messages")
    first.kill()  # SIGKILL to the sentinel and its workers, mid-batch
    stranded = Message.objects.filter(dispatch=Dispatch.HANDING_OFF).count()
    assert len(slow_carrier.receipts) < N, "the kill came too late to test anything"

    lane_cluster(LIVE, workers=2, **env)

    def all_handed_off():
        poke("messaging.worker.drain", lane=LIVE)  # as the safety-net schedule would
        return not Message.objects.exclude(dispatch=Dispatch.HANDED_OFF).exists()

    wait_for(all_handed_off, timeout=90, interval=1.0, message="every message handed off")
    assert len(slow_carrier.receipts) == N, f"{len(slow_carrier.receipts) - N} duplicate hand-offs"
    assert len(slow_carrier.sink) == N
    assert set(Message.objects.values_list("status", flat=True)) == {"sending"}
    for message in Message.objects.all():
        assert slow_carrier.sink[str(message.send_key)].carrier_id == message.provider_message_id
    print(f"stranded by the kill: {stranded} messages")
