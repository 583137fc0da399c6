"""Acceptance, with a real live-lane cluster and the simulated carrier over HTTP: a reminder goes out
once, when it falls due (made due in the test by moving the appointments, not slept for), never for a
cancelled appointment or an opted-out patient, however often the drain is poked; the patient's "Y" to
it, through the signed inbound webhook, confirms the appointment."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clinics.appointments import appointment_book, appointment_move
from clinics.models import Appointment
from clinics.services import patient_create
from lanes.models import WaitingPoke
from lanes.pokes import LIVE, poke
from messaging import reminders, templating
from messaging.models import Message, Reminder
from tests.support.channels import SIM_SECRET
from tests.support.processes import wait_for

pytestmark = pytest.mark.cluster


def drained() -> bool:
    return not WaitingPoke.objects.exists() and reminders.due_reminders()[0] == 0


def test_a_reminder_is_sent_once_at_its_due_time_and_a_y_confirms(
    lane_cluster, over_http, clinic_a, patient_a, staff_a
):
    practitioner = staff_a.memberships.get()
    template = templating.template_save(
        clinic=clinic_a, name="Day before", channel="sms", body="Hi {first_name}, {appointment_time} tomorrow. Y/N?"
    )
    reminders.rule_create(clinic=clinic_a, template=template, hours_before=24)
    opted_out = patient_create(
        clinic=clinic_a,
        first_name="Otto",
        last_name="Out",
        mobile="+61412000099",
        messaging_consent="opted_in",
        sms_opt_out=True,
    )
    start = timezone.now() + timedelta(hours=30)  # not due for another six hours
    booked = appointment_book(
        clinic=clinic_a,
        patient=patient_a,
        practitioner=practitioner,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )
    cancelled = appointment_book(
        clinic=clinic_a,
        patient=patient_a,
        practitioner=practitioner,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )
    out = appointment_book(
        clinic=clinic_a,
        patient=opted_out,
        practitioner=practitioner,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )
    appointment_move(appointment=cancelled, move="cancel")

    lane_cluster(LIVE, KALIX_SIMCARRIER_URL=over_http.url, KALIX_SIMCARRIER_SECRET=SIM_SECRET)
    poke(reminders.DRAIN, lane=LIVE)
    wait_for(drained, timeout=30, message="the reminder drain ran")
    assert not Reminder.objects.exists() and not over_http.receipts, "nothing is due yet"

    # Make them fall due: 23 h 59 min to go, inside the 24 h rule.
    Appointment.objects.update(starts_at=timezone.now() + timedelta(hours=23, minutes=59))
    for _ in range(3):  # the schedule, a poke after a rule change, an operator: each finds nothing more
        poke(reminders.DRAIN, lane=LIVE)
    wait_for(lambda: len(over_http.receipts) >= 1, timeout=30, message="the reminder reached the carrier")
    wait_for(drained, timeout=30, message="every drain finished")
    poke(reminders.DRAIN, lane=LIVE)
    poke("messaging.worker.drain", lane=LIVE)
    wait_for(drained, timeout=30, message="the last drains finished")

    assert len(over_http.receipts) == 1 and len(over_http.sink) == 1
    (sent,) = over_http.sink.values()
    message = Message.objects.get()
    assert message.reminder.appointment == booked and message.recipient == sent.to == "+61412000001"
    assert message.body.startswith("Hi Ada, ") and str(message.send_key) == sent.ref
    assert not cancelled.reminders.exists()
    assert out.reminders.get().outcome == "skipped" and "opted out" in out.reminders.get().detail

    assert over_http.send_text(over_http.inbound_url, sender="0412 000 001", to="AlphaDiet", text="Y") == 204
    booked.refresh_from_db()
    assert booked.reply == Appointment.Reply.CONFIRMED and booked.status == Appointment.Status.BOOKED
