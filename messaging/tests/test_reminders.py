"""Reminders: due reminders become messages once per appointment and rule, skipping cancelled appointments
and opted-out patients; Y/N replies confirm or flag the appointment."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from clinics.appointments import appointment_book, appointment_move
from clinics.models import Appointment
from messaging import reminders, templating
from messaging.models import Message, Reminder

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule_a(clinic_a):
    template = templating.template_save(
        clinic=clinic_a,
        name="Day before",
        channel="sms",
        body="Hi {first_name}, see you {appointment_time}. Reply Y or N",
    )
    return reminders.rule_create(clinic=clinic_a, template=template, hours_before=24)


def book(clinic, patient, staff, *, hours_from_now):
    start = timezone.now() + timedelta(hours=hours_from_now)
    return appointment_book(
        clinic=clinic,
        patient=patient,
        practitioner=staff.memberships.get(clinic=clinic),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )


def test_a_due_reminder_is_made_once(clinic_a, patient_a, staff_a, rule_a):
    due = book(clinic_a, patient_a, staff_a, hours_from_now=23)
    later = book(clinic_a, patient_a, staff_a, hours_from_now=30)
    assert reminders.due_reminders()[0] == 1
    assert reminders.drain()["reminders"] == 1
    assert reminders.drain()["reminders"] == 0
    reminder = Reminder.objects.get()
    assert (reminder.appointment, reminder.outcome) == (due, "sent")
    message = reminder.message
    assert message.recipient == "+61412000001" and message.body.startswith("Hi Ada, see you ")
    assert message.priority > 100 and message.dispatch == "queued"
    assert not later.reminders.exists()


def test_the_database_holds_one_reminder_per_appointment_and_rule(clinic_a, patient_a, staff_a, rule_a):
    appointment = book(clinic_a, patient_a, staff_a, hours_from_now=2)
    reminders.drain()
    with pytest.raises(IntegrityError):
        Reminder.objects.create(
            clinic=clinic_a,
            appointment=appointment,
            rule=rule_a,
            due_at=timezone.now(),
            outcome="sent",
            created_at=timezone.now(),
        )


def test_cancelled_appointments_and_opted_out_patients_get_no_message(clinic_a, patient_a, staff_a, rule_a):
    from clinics.consent import address_opt_out
    from clinics.services import patient_create

    cancelled = book(clinic_a, patient_a, staff_a, hours_from_now=5)
    appointment_move(appointment=cancelled, move="cancel")
    stopped = patient_create(
        clinic=clinic_a, first_name="Sto", last_name="P", mobile="+61412000077", messaging_consent="opted_in"
    )
    address_opt_out(clinic=clinic_a, channel="sms", address="+61412000077")
    flagged = patient_create(
        clinic=clinic_a,
        first_name="No",
        last_name="Sms",
        mobile="+61412000078",
        messaging_consent="opted_in",
        sms_opt_out=True,
    )
    book(clinic_a, stopped, staff_a, hours_from_now=5)
    book(clinic_a, flagged, staff_a, hours_from_now=5)
    reminders.drain()
    assert not Message.objects.exists()
    assert not cancelled.reminders.exists()
    skipped = dict(Reminder.objects.values_list("appointment__patient__first_name", "detail"))
    assert set(skipped) == {"Sto", "No"} and all("opted out" in why for why in skipped.values())


@pytest.mark.parametrize(
    ("text", "reply"), [("Y", "confirmed"), ("yes!", "confirmed"), ("N", "declined"), ("No", "declined")]
)
def test_a_reply_to_a_reminder_confirms_or_flags(clinic_a, patient_a, staff_a, rule_a, text, reply):
    appointment = book(clinic_a, patient_a, staff_a, hours_from_now=3)
    reminders.drain()
    answered = reminders.reply_to(clinic_id=clinic_a.pk, sender="+61412000001", text=text, at=None)
    assert answered == appointment
    appointment.refresh_from_db()
    assert appointment.reply == reply and appointment.status == Appointment.Status.BOOKED


def test_a_y_without_a_reminder_changes_nothing(clinic_a, patient_a, staff_a, rule_a):
    appointment = book(clinic_a, patient_a, staff_a, hours_from_now=30)
    assert reminders.reply_to(clinic_id=clinic_a.pk, sender="+61412000001", text="Y", at=None) is None
    appointment.refresh_from_db()
    assert appointment.reply == ""


def test_the_drain_walks_many_chunks_and_two_rules_once_each(clinic_a, patient_a, staff_a, rule_a, settings):
    settings.MESSAGING_REMINDER_CHUNK = 7
    week = templating.template_save(clinic=clinic_a, name="Two hours", channel="sms", body="Soon, {first_name}")
    reminders.rule_create(clinic=clinic_a, template=week, hours_before=2)
    made = [book(clinic_a, patient_a, staff_a, hours_from_now=1 + i / 100) for i in range(30)]
    assert reminders.drain()["reminders"] == 60  # both rules are due for every appointment
    assert reminders.drain()["reminders"] == 0
    assert Reminder.objects.count() == Message.objects.count() == 60
    assert {a.reminders.count() for a in made} == {2}


@pytest.mark.django_db(transaction=True)
def test_drains_at_once_remind_once(clinic_a, patient_a, staff_a, rule_a, settings):
    import threading

    from django.db import connection

    settings.MESSAGING_REMINDER_CHUNK = 10
    for i in range(40):
        book(clinic_a, patient_a, staff_a, hours_from_now=1 + i / 100)
    done = []

    def run():
        try:
            done.append(reminders.drain()["reminders"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done) == 40 and Reminder.objects.count() == Message.objects.count() == 40


def test_cancelling_an_appointment_withdraws_its_queued_reminder(client_a, clinic_a, patient_a, staff_a, rule_a):
    appointment = book(clinic_a, patient_a, staff_a, hours_from_now=5)
    reminders.drain()
    message = appointment.reminders.get().message
    assert message.dispatch == "queued"
    answer = client_a.post(
        f"/messages/appointments/{appointment.pk}/move/", {"move": "cancel", "form_clinic": clinic_a.pk}
    )
    assert answer.status_code == 302
    message.refresh_from_db()
    appointment.refresh_from_db()
    assert (appointment.status, message.status, message.dispatch) == ("cancelled", "cancelled", "done")
    assert "appointment cancelled by alice" in message.events.get(kind="cancelled").detail


def test_cancelling_appointments_in_admin_withdraws_their_queued_reminders(
    admin_client, client, ops, clinic_a, patient_a, staff_a, rule_a
):
    """The admin's Cancel is the staff page's cancel (reminders.appointment_cancel): it left the reminder
    queued, to go out for an appointment that was no longer happening. An attended appointment among the
    selection stays as it was, and so does everything for whoever may not change appointments."""
    from messaging.dispatch import DISPATCH

    booked = book(clinic_a, patient_a, staff_a, hours_from_now=5)
    attended = book(clinic_a, patient_a, staff_a, hours_from_now=6)
    reminders.drain()
    appointment_move(appointment=attended, move="attended")
    to_send = Message.objects.filter(reminder__appointment=booked, dispatch__in=DISPATCH.sources("cancel"))
    assert to_send.count() == 1
    action = {"action": "cancel", "_selected_action": [booked.pk, attended.pk]}

    client.force_login(ops)  # Operations steer queues; appointments are not theirs to change
    assert client.post("/admin/clinics/appointment/", action).status_code == 403
    assert to_send.count() == 1

    answer = admin_client.post("/admin/clinics/appointment/", action, follow=True)
    assert answer.status_code == 200
    booked.refresh_from_db()
    attended.refresh_from_db()
    assert (booked.status, attended.status) == ("cancelled", "attended")
    withdrawn = booked.reminders.get().message
    assert (withdrawn.status, withdrawn.dispatch) == ("cancelled", "done")
    assert "appointment cancelled by admin" in withdrawn.events.get(kind="cancelled").detail
    assert not to_send.exists()
    (said,) = [str(m) for m in answer.context["messages"]]
    assert said.startswith("Cancelled 1 appointment(s); 1 reminder(s) not sent. 1 not booked"), said
