"""Appointment pages: booking in the clinic's time, the day list per practitioner, status moves (a cancelled
appointment is no longer moved), its reminders shown; compose's "send at" in clinic time."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from clinics.models import Appointment
from messaging.models import Message

pytestmark = pytest.mark.django_db


def test_book_list_and_move_an_appointment(client_a, clinic_a, staff_a, patient_a):
    membership = staff_a.memberships.get()
    day = date.today() + timedelta(days=2)
    form = {
        "patient": patient_a.pk,
        "practitioner": membership.pk,
        "day": day.isoformat(),
        "start": "09:30",
        "end": "09:00",
        "form_clinic": clinic_a.pk,
    }
    refused = client_a.post("/messages/appointments/new/", form)
    assert refused.status_code == 200 and "The end must be after the start." in refused.content.decode()
    assert not Appointment.objects.exists()
    made = client_a.post("/messages/appointments/new/", {**form, "end": "10:00"})
    appointment = Appointment.objects.get()
    assert made.status_code == 302
    local = timezone.localtime(appointment.starts_at, clinic_a.tzinfo)
    assert (local.date(), local.hour, local.minute) == (day, 9, 30)  # 09:30 in Sydney, whatever the server's zone

    listed = client_a.get(f"/messages/appointments/?day={day.isoformat()}&practitioner={membership.pk}")
    assert "Lovelace, Ada" in listed.content.decode() and "09:30–10:00" in listed.content.decode()
    other_day = client_a.get(f"/messages/appointments/?day={(day + timedelta(days=1)).isoformat()}")
    assert "Lovelace, Ada" not in other_day.content.decode()

    detail = f"/messages/appointments/{appointment.pk}/"
    client_a.post(detail + "move/", {"move": "cancel", "form_clinic": clinic_a.pk})
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    client_a.post(detail + "move/", {"move": "attended", "form_clinic": clinic_a.pk})
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    page = client_a.get(detail).content.decode()
    assert "None: the appointment is cancelled." in page and 'id="move-attended"' not in page


def test_compose_send_at_waits_until_then_in_clinic_time(client_a, clinic_a, patient_a):
    page = client_a.get("/messages/new/")
    key = page.context["form"]["request_key"].value()
    later = (timezone.localtime(timezone.now(), clinic_a.tzinfo) + timedelta(days=1)).replace(
        tzinfo=None, second=0, microsecond=0
    )
    form = {
        "request_key": key,
        "patient": patient_a.pk,
        "channel": "sms",
        "body": "Tomorrow",
        "form_clinic": clinic_a.pk,
    }
    assert client_a.post("/messages/new/", {**form, "send_at": later.strftime("%Y-%m-%dT%H:%M")}).status_code == 302
    message = Message.objects.get()
    assert message.next_attempt_at == timezone.make_aware(later, clinic_a.tzinfo)
    assert message.status == "pending" and "scheduled for" in message.events.get().detail
    past = datetime(2020, 1, 1, 9, 0)
    refused = client_a.post(
        "/messages/new/", {**form, "request_key": "other", "send_at": past.strftime("%Y-%m-%dT%H:%M")}
    )
    assert "This time has passed" in refused.content.decode() and Message.objects.count() == 1
