"""Appointments: booking, the status moves as data, a patient's reply, and the day list.

Times are entered and shown in the clinic's time zone and stored in UTC. Status moves only through
STATUS (kalix_site.transitions): booked → cancelled, attended or did not attend; an attended or missed
appointment can be put back to booked (a slip of the finger), a cancelled one cannot (book again). A
patient's "Y"/"N" to a reminder sets `reply` (messaging.threads calls appointment_reply), never the status:
staff decide what a "no" means.
"""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinics.models import Appointment, Clinic, Patient, StaffMembership
from kalix_site.transitions import Machine

Status = Appointment.Status

STATUS = Machine(
    "appointment",
    "status",
    {
        "cancel": ({Status.BOOKED}, Status.CANCELLED),
        "attended": ({Status.BOOKED, Status.NO_SHOW}, Status.ATTENDED),
        "no_show": ({Status.BOOKED, Status.ATTENDED}, Status.NO_SHOW),
        "rebook": ({Status.ATTENDED, Status.NO_SHOW}, Status.BOOKED),
    },
    states=Status.values,
)
MOVE_WORDS = {"cancel": "Cancel", "attended": "Attended", "no_show": "Did not attend", "rebook": "Back to booked"}


def local_datetime(clinic: Clinic, day: date, at: time) -> datetime:
    """A wall-clock date and time in the clinic's zone, as an aware datetime (a time that does not exist
    on a daylight-saving day moves forward, as a clock does)."""
    return timezone.make_aware(datetime.combine(day, at), clinic.tzinfo)


def day_bounds(clinic: Clinic, day: date) -> tuple[datetime, datetime]:
    return local_datetime(clinic, day, time.min), local_datetime(clinic, day + timedelta(days=1), time.min)


def _check(clinic: Clinic, patient: Patient, practitioner: StaffMembership, starts_at, ends_at) -> None:
    errors = {}
    if patient is None or patient.clinic_id != clinic.pk:
        errors["patient"] = "No such patient in this clinic."
    if practitioner is None or practitioner.clinic_id != clinic.pk:
        errors["practitioner"] = "No such practitioner in this clinic."
    if starts_at is None:
        errors["starts_at"] = "Give the start."
    if ends_at is None:
        errors["ends_at"] = "Give the end."
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "The end must be after the start."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def appointment_book(
    *, clinic: Clinic, patient: Patient, practitioner: StaffMembership, starts_at: datetime, ends_at: datetime, notes=""
) -> Appointment:
    _check(clinic, patient, practitioner, starts_at, ends_at)
    return Appointment.objects.create(
        clinic=clinic, patient=patient, practitioner=practitioner, starts_at=starts_at, ends_at=ends_at, notes=notes
    )


@transaction.atomic
def appointment_move(*, appointment: Appointment, move: str) -> Appointment:
    """Make a status move (STATUS), compare-and-set: TransitionRefused when not allowed from its state."""
    STATUS.check(
        move, appointment.status, f"A {appointment.get_status_display().lower()} appointment cannot be moved so."
    )
    STATUS.move_or_refuse(
        Appointment.objects.filter(pk=appointment.pk),
        move,
        "This appointment was changed meanwhile: reload the page.",
        updated_at=timezone.now(),
    )
    appointment.refresh_from_db()
    return appointment


def appointment_reply(*, appointment_id: int, reply: str, at: datetime | None = None) -> int:
    """Record a patient's answer to a reminder on a booked appointment; returns rows changed."""
    if reply not in (Appointment.Reply.CONFIRMED, Appointment.Reply.DECLINED):
        raise ValueError(reply)
    return Appointment.objects.filter(pk=appointment_id, status=Status.BOOKED).update(
        reply=reply, replied_at=at or timezone.now(), updated_at=timezone.now()
    )


# --- Reads ---------------------------------------------------------------------------------------------


def practitioners(*, clinic: Clinic) -> QuerySet[StaffMembership]:
    return StaffMembership.objects.filter(clinic=clinic).select_related("user").order_by("user__username")


def day_list(*, clinic: Clinic, day: date, practitioner: StaffMembership | None = None) -> QuerySet[Appointment]:
    start, end = day_bounds(clinic, day)
    found = Appointment.objects.filter(clinic=clinic, starts_at__gte=start, starts_at__lt=end)
    if practitioner is not None:
        found = found.filter(practitioner=practitioner)
    return found.select_related("patient", "practitioner__user").order_by("starts_at", "id")


def appointment_get(*, clinic: Clinic, pk) -> Appointment:
    return get_object_or_404(Appointment.objects.select_related("patient", "practitioner__user"), clinic=clinic, pk=pk)
