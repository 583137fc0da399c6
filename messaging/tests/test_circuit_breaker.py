"""A provider that keeps failing is circuit-broken (lanes.circuits): its messages wait, Pending,
"Waiting for the SMS provider", without using up attempts; email goes on; /healthz says degraded; a
probe after the cool-down closes the circuit and everything goes, once."""

import time
from collections import Counter

import pytest

from lanes.models import Circuit, CircuitState
from messaging import worker
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def breaker(sim_settings):
    sim_settings.CIRCUIT_FAILURES = 3
    sim_settings.CIRCUIT_COOLDOWN_SECONDS = 2
    sim_settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    port = free_port()
    sim_settings.SIMCARRIER_URL = f"http://127.0.0.1:{port}"  # nothing listens yet: the carrier is down
    return port


def carrier_on(port):
    return SimCarrier(CarrierConfig(secret=SIM_SECRET, send_reports=False, latency_ms=50, jitter_ms=25), port=port)


def test_a_dead_carrier_opens_the_circuit_and_its_recovery_closes_it_with_nothing_lost(
    breaker, clinic_a, patient_a, smtp_server, client
):
    sms = [message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}") for i in range(10)]
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Note", body="Hi")
    worker.drain()

    circuit = Circuit.objects.get(name="sim")
    assert circuit.state == CircuitState.OPEN
    waiting = Message.objects.filter(pk__in=[m.pk for m in sms])
    assert set(waiting.values_list("status", "dispatch", "attempts")) == {(Status.PENDING, Dispatch.QUEUED, 1)}
    assert all(
        d.startswith("Temporary problem, will retry: Waiting for the SMS provider")
        for d in waiting.values_list("status_detail", flat=True)
    )
    email.refresh_from_db()
    assert email.status == Status.SUCCESS and len(smtp_server.messages) == 1, "other channels go on"
    health = client.get("/healthz").json()
    assert health["degraded"] is True and health["providers"] == {"sim": {"ok": False, "circuit": "open"}}

    waiting.update(next_attempt_at=Message.objects.get(pk=sms[0].pk).created_at)  # due, but the circuit is open
    worker.drain()
    assert set(waiting.values_list("attempts", flat=True)) == {1}, "no claim while the circuit is open"

    with carrier_on(breaker) as carrier:
        time.sleep(2.2)  # the cool-down passes: the next drain probes with one message
        for _ in range(5):
            worker.drain()
            if not waiting.exclude(dispatch=Dispatch.HANDED_OFF).exists():
                break
    assert Circuit.objects.get(name="sim").state == CircuitState.CLOSED
    assert len(carrier.sink) == 10 and max(Counter(carrier.receipts).values()) == 1
    assert set(waiting.values_list("attempts", flat=True)) == {2}
    assert client.get("/healthz").json()["degraded"] is False
    assert {str(m.send_key) for m in waiting} == set(carrier.sink)
    assert_ledger(expected=11)


def test_a_failed_probe_keeps_the_circuit_open(breaker, clinic_a, patient_a):
    for i in range(5):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")
    worker.drain()
    Circuit.objects.update(probe_at=Circuit.objects.get().opened_at)  # the probe is due
    Message.objects.update(next_attempt_at=Message.objects.first().created_at)
    worker.drain()
    circuit = Circuit.objects.get()
    assert circuit.state == CircuitState.OPEN
    assert Counter(Message.objects.values_list("attempts", flat=True)) == {1: 4, 2: 1}, "one probe, not the batch"
