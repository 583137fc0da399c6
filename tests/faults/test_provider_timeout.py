"""A provider that takes the request and hangs past KALIX_PROVIDER_TIMEOUT_SECONDS. It may or may not
have the message: we never resend blindly. The message shows Sending, "not yet accepted" (true), and
the recovery asks the carrier: what it got is recorded as accepted, the rest goes out again."""

import time

import pytest

from messaging import worker
from messaging.models import DeliveryEvent, Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db(transaction=True)

N = 5


class HangsOnce(SimCarrier):
    """Hangs on its first batch; `keeps` says whether it keeps that batch (answered too late) or drops it."""

    def __init__(self, *, keeps: bool, hang_s: float):
        super().__init__(CarrierConfig(secret=SIM_SECRET, send_reports=False))
        self.keeps, self.hang_s, self.hung = keeps, hang_s, False

    def receive(self, messages):
        if self.hung:
            return super().receive(messages)
        self.hung = True
        results = super().receive(messages) if self.keeps else []
        if not self.keeps:
            self.dropped = [m["ref"] for m in messages]
        time.sleep(self.hang_s)
        return results


@pytest.fixture
def timeouts(sim_settings):
    sim_settings.MESSAGING_SMS_PROVIDER = "simbatch"  # one request for the batch: all of it unknown at once
    sim_settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    sim_settings.MESSAGING_RECOVERY_GRACE_SECONDS = 1
    sim_settings.MESSAGING_RETRY_BASE_SECONDS = 1
    return sim_settings


@pytest.mark.parametrize("keeps", [True, False], ids=["carrier-kept-it", "carrier-dropped-it"])
def test_provider_timeout_never_sends_twice_and_status_stays_true(timeouts, clinic_a, patient_a, keeps):
    with HangsOnce(keeps=keeps, hang_s=1.5) as carrier:
        timeouts.SIMCARRIER_URL = carrier.url
        for i in range(N):
            message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")

        worker.drain()  # the batch times out: nobody knows whether the carrier has it
        assert set(Message.objects.values_list("dispatch", "status", "status_detail")) == {
            (Dispatch.HANDING_OFF, Status.SENDING, "Handing to carrier, not yet accepted")
        }
        assert_ledger_statuses()

        time.sleep(1.6)  # the grace period passes, and the carrier's late answer with it
        worker.drain()  # as the next poke or the safety net would: recover, then send what is due

    assert_ledger(expected=N, carrier=carrier, final={Status.SENDING})
    assert {d.split(":")[0] for d in Message.objects.values_list("status_detail", flat=True)} == {
        "Handed to carrier, waiting for delivery report"
    }
    assert len(carrier.receipts) == N
    retried = DeliveryEvent.objects.filter(kind="deferred").count()
    assert retried == (0 if keeps else N), "only what the carrier never got goes out again"


def assert_ledger_statuses():
    from messaging.status import derive

    for m in Message.objects.all():
        assert m.status == derive(m.events.all()).status
