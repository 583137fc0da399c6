from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber, to_python

from clinics.models import Clinic, Patient
from clinics.selectors import practitioner_list

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
    "practitioner",
)

MOBILE_INVALID = "Enter a mobile number, e.g. 0412 345 678 or +61 412 345 678."
# FIXED_LINE_OR_MOBILE: regions whose numbers do not tell the two apart (the US and Canada, +1).
MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def validate_mobile(value) -> None:
    """A patient's mobile is a mobile number of any region (national form read in the default region): a
    landline saved there counted the patient as reachable by SMS. ValidationError with MOBILE_INVALID."""
    number = to_python(value)
    if number in (None, ""):
        return
    if not (isinstance(number, PhoneNumber) and number.is_valid() and phonenumbers.number_type(number) in MOBILE_TYPES):
        raise ValidationError(MOBILE_INVALID, code="invalid")


def _apply(patient: Patient, fields: dict) -> None:
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    old_consent = patient.messaging_consent
    for name, value in fields.items():
        setattr(patient, name, value)
    if patient.messaging_consent != old_consent or (patient.pk is None and patient.messaging_consent != "unknown"):
        patient.consent_at = timezone.now()


OLDEST_AGE_YEARS = 125  # older than anyone alive: a year typed wrong (1892 for 1992)


def _check_birth_date(patient: Patient) -> None:
    """No date of birth after today in the clinic's own time zone, nor more than OLDEST_AGE_YEARS before
    it (a typo of the year, or a test value)."""
    born = patient.date_of_birth
    today = timezone.localdate(timezone=ZoneInfo(patient.clinic.timezone))
    if born and born > today:
        raise ValidationError({"date_of_birth": "A date of birth cannot be in the future."})
    if born and born.year < today.year - OLDEST_AGE_YEARS:
        raise ValidationError(
            {"date_of_birth": f"A date of birth more than {OLDEST_AGE_YEARS} years ago: check the year."}
        )


def _check_practitioner(patient: Patient, *, was: int | None) -> None:
    """A patient's own practitioner is one of their clinic's practitioners (Clinic.audit_asks_reason spares
    them the question): never another clinic's user, nor a receptionist or manager. One already set stays
    when the patient is saved unchanged, though they have since left or changed role: clearing them is a
    person's choice, not a side effect of fixing a phone number."""
    chosen = patient.practitioner_id
    if chosen is None or chosen == was:
        return
    if not practitioner_list(clinic=patient.clinic).filter(pk=chosen).exists():
        raise ValidationError({"practitioner": "Choose one of this clinic's practitioners."})


def _check_mobile(patient: Patient, *, was: str) -> None:
    """Checked when set or changed: a landline saved before this check stays until someone edits it, so
    recording an opt-out or a consent is never refused over it."""
    if str(patient.mobile or "") == was:
        return
    try:
        validate_mobile(patient.mobile)
    except ValidationError as exc:
        raise ValidationError({"mobile": exc.messages}) from None


def _full_clean(patient: Patient) -> None:
    """The model's own checks, with the mobile's error in our words (the field's says only "not valid")."""
    try:
        patient.full_clean()
    except ValidationError as exc:
        found = exc.message_dict
        if "mobile" in found:
            found["mobile"] = [MOBILE_INVALID]
        raise ValidationError(found) from None


def patient_check(patient: Patient, *, was_practitioner: int | None, was_mobile: str = "") -> None:
    """What a patient must be beyond its fields' own checks (a form that validates before the service,
    as the admin's, calls this too): ValidationError by field. `was_*`: as saved before this change."""
    _check_mobile(patient, was=was_mobile)
    _check_birth_date(patient)
    _check_practitioner(patient, was=was_practitioner)


@transaction.atomic
def patient_create(*, clinic: Clinic, **fields) -> Patient:
    patient = Patient(clinic=clinic)
    _apply(patient, fields)
    _full_clean(patient)
    patient_check(patient, was_practitioner=None)
    patient.save()
    return patient


def comparable(value) -> str:
    """A patient field's value as the edit form's snapshot holds it (`patient_snapshot`), to tell which
    fields someone changed: '' for empty, a related row by its id, a phone number in E.164."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(getattr(value, "pk", value))


def patient_snapshot(patient: Patient) -> dict[str, str]:
    """The editable fields as the form showed them: what `patient_update(opened=...)` merges against."""
    return {name: comparable(getattr(patient, name)) for name in PATIENT_FIELDS}


class PatientConflict(Exception):
    """Someone saved the same fields differently since the form was opened: nothing was saved."""

    def __init__(self, fields: list[str], current: Patient):
        super().__init__(", ".join(fields))
        self.fields, self.current = fields, current


def patient_merge(current: Patient, *, opened: dict[str, str], fields: dict) -> dict:
    """Of `fields` (as typed on a page that showed `opened`), those the person changed; PatientConflict if
    someone saved one of them differently since (`current` as saved now)."""
    changed = {name: value for name, value in fields.items() if comparable(value) != opened.get(name)}
    theirs = [n for n in changed if comparable(getattr(current, n)) not in (opened.get(n), comparable(changed[n]))]
    if theirs:
        raise PatientConflict(theirs, current)
    return changed


@transaction.atomic
def patient_update(*, patient: Patient, opened: dict[str, str] | None = None, **fields) -> Patient:
    """Save `fields` on the patient. With `opened` (the form's snapshot of what it showed), only the
    fields the person changed are saved, over whatever others saved meanwhile (two tabs, two people): a
    field both changed, to different values, is a PatientConflict and nothing is saved."""
    current = Patient.objects.select_for_update().get(pk=patient.pk)
    if opened is not None:
        fields, patient = patient_merge(current, opened=opened, fields=fields), current
    was_practitioner, was_mobile = current.practitioner_id, current.mobile
    _apply(patient, fields)
    _full_clean(patient)
    patient_check(patient, was_practitioner=was_practitioner, was_mobile=str(was_mobile or ""))
    patient.save()
    return patient
