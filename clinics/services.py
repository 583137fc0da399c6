from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinics.models import Clinic, Patient

# What staff may set on a patient, in the order the form and the API show it.
PATIENT_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "mobile",
    "fax",
    "messaging_consent",
    "email_opt_out",
    "sms_opt_out",
    "fax_opt_out",
)


def _apply(patient: Patient, fields: dict) -> None:
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    old_consent = patient.messaging_consent
    for name, value in fields.items():
        setattr(patient, name, value)
    if patient.messaging_consent != old_consent or (patient.pk is None and patient.messaging_consent != "unknown"):
        patient.consent_at = timezone.now()


def _check_birth_date(patient: Patient) -> None:
    """No date of birth after today in the clinic's own time zone (a typo of the year, or a test value)."""
    born = patient.date_of_birth
    if born and born > timezone.localdate(timezone=ZoneInfo(patient.clinic.timezone)):
        raise ValidationError({"date_of_birth": "A date of birth cannot be in the future."})


@transaction.atomic
def patient_create(*, clinic: Clinic, **fields) -> Patient:
    patient = Patient(clinic=clinic)
    _apply(patient, fields)
    patient.full_clean()
    _check_birth_date(patient)
    patient.save()
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **fields) -> Patient:
    _apply(patient, fields)
    patient.full_clean()
    _check_birth_date(patient)
    patient.save()
    return patient
