"""The simulated carrier's reports travel over real HTTP to our webhook, duplicated and out of order."""

import pytest

from messaging import worker
from messaging.models import DeliveryEvent, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.processes import wait_for


@pytest.mark.django_db(transaction=True)
def test_reports_posted_to_the_webhook_settle_every_status(live_server, sim_settings, clinic_a, patient_a):
    config = CarrierConfig(
        secret=SIM_SECRET, report_delay_ms=50, failure_rate=0.25, duplicate_rate=0.5, reorder_rate=0.5, seed=7
    )
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        sim_settings.PUBLIC_URL = live_server.url
        for i in range(40):
            message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")

        def settled():
            worker.drain()
            return not Message.objects.filter(status__in=[Status.PENDING, Status.SENDING]).exists()

        wait_for(settled, timeout=30, interval=0.2, message="every message delivered or failed")
        # the statuses can settle before the carrier has posted its duplicate copies: wait for those too
        wait_for(lambda: carrier.pending_reports() == 0, timeout=30, message="the carrier posted every copy")

    final = dict(Message.objects.values_list("send_key", "status"))
    for ref, received in carrier.sink.items():
        outcome = "delivered" if Message.objects.get(send_key=ref).status == Status.SUCCESS else "undelivered"
        assert DeliveryEvent.objects.filter(event_id=f"sim:{received.carrier_id}-{outcome}").exists()
    assert set(final.values()) == {Status.SUCCESS, Status.FAILED}  # seed 7 fails some of the 40
    assert DeliveryEvent.objects.filter(source="provider").count() == 80  # duplicates were ignored
