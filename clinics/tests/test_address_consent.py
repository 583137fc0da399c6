"""The rules of consent by address: moves as data, history append-only, each event once, late reports
never undoing newer changes, and what staff see on the patient's page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from clinics import consent
from clinics.models import AddressConsent, AddressConsentChange

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"


def at(hour: int) -> datetime:
    return datetime(2026, 11, 28, hour, tzinfo=UTC)


def record(clinic, move, source, *, hour, event_id="", reason=""):
    return consent.record(
        clinic_id=clinic.pk,
        channel="email",
        address=EMAIL,
        move=move,
        source=source,
        reason=reason,
        occurred_at=at(hour),
        event_id=event_id,
    )


def state(clinic) -> str:
    return AddressConsent.objects.get(clinic=clinic, channel="email", address=EMAIL).state


def test_every_move_is_defined_from_every_state():
    for move, table in consent.MOVES.items():
        assert set(table) == set(AddressConsent.State.values), move
        assert set(table.values()) <= set(AddressConsent.State.values), move


def test_a_bounce_never_lifts_an_opt_out_and_a_delivery_is_no_consent(clinic_a):
    S = AddressConsent.Source
    record(clinic_a, "opt_out", S.COMPLAINT, hour=1)
    record(clinic_a, "bounce", S.BOUNCE, hour=2, reason="550 mailbox unknown")
    record(clinic_a, "delivered", S.DELIVERY, hour=3)
    assert state(clinic_a) == "opted_out"
    row = AddressConsent.objects.get()
    assert row.reason == ""  # the opt-out's reason stays; the bounce is in the history
    assert [c.state for c in row.changes.all()] == ["opted_out", "opted_out"]  # a quiet delivery left no row


def test_a_repeated_event_is_recorded_once(clinic_a):
    assert record(clinic_a, "bounce", "bounce", hour=1, event_id="pm:1", reason="550")
    assert not record(clinic_a, "bounce", "bounce", hour=1, event_id="pm:1", reason="550")
    assert AddressConsentChange.objects.count() == 1


def test_a_late_report_is_kept_in_the_history_but_does_not_undo_a_newer_change(clinic_a):
    record(clinic_a, "opt_out", "sms_keyword", hour=10, event_id="stop")
    record(clinic_a, "allow", "sms_keyword", hour=9, event_id="old-start")  # happened before the STOP
    assert state(clinic_a) == "opted_out"
    assert AddressConsentChange.objects.count() == 2


def test_staff_decide_now_whatever_a_providers_clock_said(clinic_a, staff_a):
    future = timezone.now() + timedelta(days=365)
    consent.record(
        clinic_id=clinic_a.pk, channel="email", address=EMAIL, move="opt_out", source="complaint", occurred_at=future
    )
    change = AddressConsentChange.objects.get()
    assert change.occurred_at <= timezone.now()  # a clock ahead of ours cannot make a change permanent
    consent.address_allow(clinic=clinic_a, channel="email", address="ADA@example.com", by=staff_a)
    assert state(clinic_a) == "allowed"


def test_consent_is_per_clinic(clinic_a, clinic_b):
    record(clinic_a, "opt_out", "complaint", hour=1)
    assert consent.refusal(clinic=clinic_a, channel="email", address=EMAIL)
    assert consent.refusal(clinic=clinic_b, channel="email", address=EMAIL) is None


def test_the_patient_page_shows_when_and_why_each_address_was_stopped(client_a, clinic_a, patient_a):
    record(clinic_a, "bounce", "bounce", hour=1, reason="smtp;550 5.1.1 User unknown")
    consent.record(
        clinic_id=clinic_a.pk,
        channel="sms",
        address="+61412000001",
        move="opt_out",
        source="sms_keyword",
        reason="texted STOP",
        occurred_at=at(2),
    )
    page = client_a.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "email ada@example.com" in page and "Bouncing: smtp;550 5.1.1 User unknown" in page
    assert "SMS +61412000001" in page and "Opted out: texted STOP" in page
    assert "28 Nov 2026 13:00" in page  # 02:00 UTC in Sydney
