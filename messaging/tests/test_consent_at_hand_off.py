"""Consent is checked again when a message is handed off, not only when it was written.

A reminder queued on Monday must not go out on Tuesday to a patient who texted STOP in between (or whom
staff marked "no SMS", or who declined): the worker withholds it, staff see why, and the rest of its
batch goes as usual. The fault ledger checks the carrier got each other message once and every status
is what the events say.
"""

import pytest

from clinics import consent
from clinics import sql as clinics_sql
from clinics.services import patient_create, patient_update
from messaging import worker
from messaging.consent import apply_inbound
from messaging.models import Dispatch, EventKind, Message, Status
from messaging.services import message_send
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db


def test_a_stop_after_queueing_withholds_the_message_and_the_rest_of_the_batch_goes(clinic_a, patient_a, carrier):
    other = patient_create(
        clinic=clinic_a, first_name="Bo", last_name="Other", mobile="+61412000099", messaging_consent="opted_in"
    )
    reminder = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you tomorrow")
    typed = message_send(clinic=clinic_a, channel="sms", recipient="0412 000 001", body="Typed, same number")
    fine = message_send(clinic=clinic_a, patient=other, channel="sms", body="See you tomorrow")

    # The patient texts STOP after the messages were queued and before a worker took them.
    apply_inbound(inbound_id="sim:in-1", sender="+61412000001", to=clinic_a.sms_sender, text="STOP", occurred_at=None)
    worker.drain()

    for withheld in (reminder, typed):
        withheld.refresh_from_db()
        assert withheld.dispatch == Dispatch.DONE
        assert withheld.status == Status.CANCELLED
        assert withheld.status_detail.startswith("Not sent: the recipient opted out of SMS")
        assert withheld.events.filter(kind=EventKind.WITHHELD).count() == 1
        assert withheld.send_key is None  # never given a send key: nothing went to the carrier
    fine.refresh_from_db()
    assert fine.status == Status.SENDING
    assert [r.to for r in carrier.sink.values()] == ["+61412000099"]
    assert_ledger(expected=3, carrier=carrier)


def test_an_opt_out_or_decline_recorded_on_the_patient_after_queueing_withholds_it(clinic_a, patient_a, carrier):
    sms = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results")
    patient_update(patient=patient_a, sms_opt_out=True)
    worker.send_batch()
    sms.refresh_from_db()
    assert sms.status == Status.CANCELLED
    assert sms.status_detail == "Not sent: the patient opted out of SMS after it was queued"

    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Results", body="Hi")
    patient_update(patient=patient_a, messaging_consent="declined")
    worker.send_batch()
    email.refresh_from_db()
    assert email.status == Status.CANCELLED
    assert email.status_detail == "Not sent: the patient declined electronic messages after it was queued"
    assert not carrier.sink


def test_staff_allowing_the_address_again_lets_the_next_message_go(clinic_a, patient_a, carrier, staff_a):
    consent.address_opt_out(clinic=clinic_a, channel="sms", address="+61412000001", by=staff_a)
    consent.address_allow(clinic=clinic_a, channel="sms", address="+61412000001", by=staff_a)
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Welcome back")
    worker.send_batch()
    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert len(carrier.sink) == 1


def test_another_clinics_opt_out_does_not_withhold_this_clinics_message(clinic_a, clinic_b, patient_b, carrier):
    message = message_send(clinic=clinic_a, channel="sms", recipient=str(patient_b.mobile), body="From Alpha")
    patient_update(patient=patient_b, sms_opt_out=True)  # at Beta
    consent.address_opt_out(clinic=clinic_b, channel="sms", address=str(patient_b.mobile))
    worker.send_batch()
    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert len(carrier.sink) == 1


def test_fax_to_a_declined_patient_is_clinical_correspondence_and_still_goes(clinic_a, carrier, pdf):
    referrer = patient_create(clinic=clinic_a, first_name="Dr", last_name="Ref", fax="+61299990000")
    message = message_send(clinic=clinic_a, patient=referrer, channel="fax", attachment=pdf)
    patient_update(patient=referrer, messaging_consent="declined")
    worker.send_batch()
    message.refresh_from_db()
    assert message.dispatch != Dispatch.DONE or message.status != Status.CANCELLED
    assert len(carrier.sink) == 1


def test_withholding_never_touches_messages_already_handed_off(clinic_a, patient_a, carrier):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Sent first")
    worker.send_batch()
    patient_update(patient=patient_a, sms_opt_out=True)
    worker.drain()
    message.refresh_from_db()
    assert message.status == Status.SENDING and not message.events.filter(kind=EventKind.WITHHELD).exists()
    assert Message.objects.count() == 1


def test_the_check_stays_on_the_patient_contact_indexes_beside_many_patients(clinic_a):
    """One query per claimed batch, on the hot path: it must probe the contact indexes, never read the
    whole patient table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO clinics_patient (clinic_id, first_name, last_name, email, mobile, fax, email_opt_out,
                   sms_opt_out, fax_opt_out, messaging_consent, created_at, updated_at)
               SELECT %s, 'P', 'N' || i, 'p' || i || '@example.com', '+614' || lpad(i::text, 8, '0'), '',
                      false, mod(i, 100) = 1, false, 'opted_in', now(), now()
                 FROM generate_series(1, 20000) AS i""",
            [clinic_a.pk],
        )
        cursor.execute("ANALYZE clinics_patient")
    rows = [
        consent.Outgoing(
            i, clinic_a.pk, None, "sms" if i % 2 else "email", f"+614{i:08d}" if i % 2 else f"p{i}@x.example"
        )
        for i in range(1, 501)
    ]
    with connection.cursor() as cursor:
        columns = [[r.id for r in rows], [r.clinic_id for r in rows], [r.patient_id for r in rows]]
        columns += [[r.channel for r in rows], [r.address for r in rows]]
        cursor.execute("EXPLAIN " + clinics_sql.WITHHELD_SQL, [*columns, "opted_out", "declined"])
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "Seq Scan on clinics_patient" not in plan, plan
    withheld = consent.withheld(rows)
    # Odd rows are SMS to patient i's number; patients 1, 101, ... opted out of SMS. Even rows are email to
    # addresses no patient has.
    assert set(withheld) == {1, 101, 201, 301, 401}
    assert withheld[1] == "the patient opted out of SMS"


def test_a_batch_withheld_whole_does_not_stop_the_drain_before_the_messages_behind_it(
    clinic_a, patient_a, carrier, settings
):
    """A patient with more queued reminders than a batch texts STOP: the drain goes on past them to the
    message behind, instead of ending as if the lane were empty."""
    settings.MESSAGING_BATCH_SIZE = 5
    for i in range(12):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")
    other = patient_create(
        clinic=clinic_a, first_name="Bo", last_name="Other", mobile="+61412000099", messaging_consent="opted_in"
    )
    behind = message_send(clinic=clinic_a, patient=other, channel="sms", body="Written just now")
    patient_update(patient=patient_a, sms_opt_out=True)
    assert worker.send_batch() == 1
    behind.refresh_from_db()
    assert behind.status == Status.SENDING
    assert Message.objects.filter(events__kind=EventKind.WITHHELD).count() == 12
