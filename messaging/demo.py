"""Demo messages: a few per clinic, through the same message_send as staff use, so the live lane,
the simulated carrier and its delivery reports give them their statuses when `make run` starts.

Idempotent: every demo message has an idempotency key, so loading again makes nothing new. What staff
see once the lanes have run: delivered SMS and email, one held for the patient's opt-in, one cancelled
before it left, and one the carrier could not deliver (the simulated carrier's undeliverable number).
"""

from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError

from clinics.models import Clinic, Patient
from messaging.services import message_cancel, message_send_or_replay

REMINDER = "Hi {first}, a reminder of your appointment at {clinic} tomorrow at 10:00. Reply STOP to opt out."
RESULTS = "Your results are ready: please book a review appointment at {clinic}."
FICTIONAL_MOBILE = "+61491570156"  # a number Australia reserves for fiction


def _messages(clinic: Clinic) -> Iterator[tuple[str, dict]]:
    """(key, message_send arguments) of one clinic's demo messages."""
    for patient in Patient.objects.filter(clinic=clinic).order_by("id"):
        words = {"first": patient.first_name, "clinic": clinic.name}
        if patient.mobile:
            yield f"sms-{patient.pk}", {"patient": patient, "channel": "sms", "body": REMINDER.format(**words)}
        if patient.email:
            body = RESULTS.format(**words)
            yield (
                f"email-{patient.pk}",
                {"patient": patient, "channel": "email", "subject": "Your results", "body": body},
            )
    yield "cancelled", {"channel": "sms", "recipient": FICTIONAL_MOBILE, "body": f"{clinic.name}: test"}
    for number in settings.SIMCARRIER_UNDELIVERABLE[:1]:
        yield "undeliverable", {"channel": "sms", "recipient": number, "body": f"{clinic.name}: your booking link"}


def load(clinics: list[Clinic]) -> int:
    """Send each clinic's demo messages that are not there yet; returns how many were made."""
    made = 0
    for clinic in clinics:
        membership = clinic.memberships.select_related("user").order_by("id").first()
        by = membership.user if membership else None
        _reminders_demo(clinic, membership)
        for key, fields in _messages(clinic):
            try:
                message, created = message_send_or_replay(
                    clinic=clinic, idempotency_key=f"demo-{key}", created_by=by, **fields
                )
            except ValidationError:
                continue  # the patient opted out: refused, as it would be for staff
            made += created
            if created and key == "cancelled":
                message_cancel(message=message, user=by)
    return made


DAY_BEFORE = (
    "Hi {first_name}, a reminder of your appointment at {clinic_name} on {appointment_date} at "
    "{appointment_time}. Reply Y to confirm or N if you cannot come."
)


def _reminders_demo(clinic: Clinic, membership) -> None:
    """A "day before" template and rule, and one appointment per patient the day after tomorrow at 10:00
    in the clinic's time (its reminder falls due tomorrow morning); once per clinic."""
    from datetime import time, timedelta

    from django.utils import timezone

    from clinics.appointments import appointment_book, local_datetime
    from messaging import reminders, templating
    from messaging.models import MessageTemplate

    if membership is None or MessageTemplate.objects.filter(clinic=clinic, name="Day before").exists():
        return
    template = templating.template_save(clinic=clinic, name="Day before", channel="sms", body=DAY_BEFORE)
    reminders.rule_create(clinic=clinic, template=template, hours_before=24)
    day = timezone.localtime(timezone.now(), clinic.tzinfo).date() + timedelta(days=2)
    for n, patient in enumerate(Patient.objects.filter(clinic=clinic).order_by("id")[:8]):
        start = local_datetime(clinic, day, time(10 + n // 2, 30 * (n % 2)))
        appointment_book(
            clinic=clinic,
            patient=patient,
            practitioner=membership,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
