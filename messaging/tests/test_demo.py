"""The demo messages go through the real pipeline and end in the statuses staff are meant to see."""

import pytest
from django.core.management import call_command
from django_q.models import OrmQ

from messaging import worker
from messaging.models import Message, Status
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.processes import wait_for


@pytest.mark.django_db(transaction=True)
def test_demo_messages_reach_delivered_held_cancelled_and_undelivered(live_server, sim_settings):
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, report_delay_ms=50)) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        sim_settings.PUBLIC_URL = live_server.url
        call_command("demo", verbosity=0)
        made = Message.objects.count()
        assert OrmQ.objects.filter(key="live").exists()  # the demo's sends poked the live lane
        call_command("demo", verbosity=0)
        assert Message.objects.count() == made  # loading again sends nothing new

        def settled():
            worker.drain()
            return not Message.objects.filter(status=Status.SENDING).exists() and carrier.pending_reports() == 0

        wait_for(settled, timeout=30, interval=0.2, message="demo messages settled")

    by_key = {m.idempotency_key.split("-", 1)[1]: m for m in Message.objects.filter(clinic__slug="harbour-dietetics")}
    mia = next(m for m in by_key.values() if m.patient and m.patient.first_name == "Mia")
    assert (mia.status, mia.status_detail) == (Status.PENDING, "Waiting for the patient's opt-in")
    assert by_key["cancelled"].status == Status.CANCELLED
    assert by_key["undeliverable"].status == Status.FAILED
    assert by_key["undeliverable"].status_detail.startswith("Carrier could not deliver")
    olivia_sms = next(
        m for m in by_key.values() if m.patient and m.patient.first_name == "Olivia" and m.channel == "sms"
    )
    assert (olivia_sms.status, olivia_sms.status_detail) == (Status.SUCCESS, "Delivered")
    assert Message.objects.filter(channel="email", status=Status.SUCCESS).exists()
    assert not Message.objects.filter(status=Status.SENDING).exists()


@pytest.mark.django_db
def test_demo_clinics_have_a_reminder_rule_and_appointments_once(sim_settings, carrier):
    from clinics.models import Appointment
    from messaging import reminders
    from messaging.models import ReminderRule

    call_command("demo", verbosity=0)
    call_command("demo", verbosity=0)
    rules = ReminderRule.objects.select_related("template")
    assert rules.count() >= 2 and {r.hours_before for r in rules} == {24}
    assert Appointment.objects.exists() and not Appointment.objects.filter(reply__gt="").exists()
    per_patient = Appointment.objects.values("patient").distinct().count()
    assert Appointment.objects.count() == per_patient  # loading again booked nothing twice
    assert reminders.due_reminders()[0] == 0  # due tomorrow morning, not at load
