"""The access audit: who opened, edited or exported which patient's record, messages or claims, and when.

Health records must say who looked. A view that shows or exports patient data makes one call here after
it has found its object (`opened`, `exported`, or `patient_opened` for a patient's own record), so the
hook in each view is one line; Django admin's patient pages call `patient_admin_opened`, and every save
of a patient (staff page, API, admin) `patient_edited`. Rows are inserted, never changed (a trigger
refuses UPDATE and DELETE: clinics.models.AccessRecord); an export writes one row per patient in it,
so "who saw this patient's claims" is one query. Only the clinic's managers read them
(clinics.views.access_audit), their clinic's alone. Nothing here logs: the audit is a table, not a log
line with patient ids in it.

When a clinic turns on `audit_asks_reason`, opening a patient who has a practitioner other than the
person opening it first asks why; the reason is kept for the rest of that session (one ask per patient,
not one per click) and copied into every row it covers.
"""

from django import forms
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from clinics.models import AccessRecord, StaffMembership

Action, Kind = AccessRecord.Action, AccessRecord.Kind
SESSION_REASONS = "kalix_audit_reasons"


def may_read(*, user, clinic) -> bool:
    """Whether `user` reads `clinic`'s audit: its practice managers only (the page and the menu ask this)."""
    if clinic is None or not user.is_authenticated:
        return False
    return StaffMembership.objects.filter(user=user, clinic=clinic, role=StaffMembership.Role.MANAGER).exists()


def _via(request) -> str:
    if request.path.startswith("/api/"):
        return "api"
    return "admin" if request.path.startswith(reverse("admin:index")) else "page"


def record(*, request, clinic_id: int, action: str, kind: str, object_id: int, patient_ids, reason: str = "") -> int:
    """One row per patient (one without a patient when there is none); returns how many."""
    user = request.user
    now = timezone.now()
    rows = [
        AccessRecord(
            clinic_id=clinic_id,
            at=now,
            user_id=user.pk,
            username=user.get_username(),
            action=action,
            kind=kind,
            object_id=object_id,
            patient_id=patient_id,
            via=_via(request),
            reason=reason,
        )
        for patient_id in (sorted(set(patient_ids)) or [None])
    ]
    AccessRecord.objects.bulk_create(rows)
    return len(rows)


def opened(request, *, kind: str, obj, patient_id) -> None:
    """A page or API answer showed `obj` (a message, a claim) of patient `patient_id`."""
    record(
        request=request,
        clinic_id=obj.clinic_id,
        action=Action.VIEW,
        kind=kind,
        object_id=obj.pk,
        patient_ids=[patient_id] if patient_id else [],
        reason=_reason(request, patient_id),
    )


def exported(request, *, kind: str, obj, patient_ids) -> None:
    """An export of `obj` (a batch of claims) carrying these patients' data left Kalix."""
    record(
        request=request,
        clinic_id=obj.clinic_id,
        action=Action.EXPORT,
        kind=kind,
        object_id=obj.pk,
        patient_ids=patient_ids,
    )


def patient_admin_opened(request, *, patient) -> None:
    """Django admin showed `patient`'s record (a superuser: Kalix's own people, asked no reason)."""
    _patient_row(request, patient=patient, action=Action.VIEW)


def patient_edited(request, *, patient) -> None:
    """`patient`'s record was saved (added or changed) with what `request` posted."""
    _patient_row(request, patient=patient, action=Action.EDIT)


def _patient_row(request, *, patient, action: str) -> None:
    record(
        request=request,
        clinic_id=patient.clinic_id,
        action=action,
        kind=Kind.PATIENT,
        object_id=patient.pk,
        patient_ids=[patient.pk],
        reason=_reason(request, patient.pk),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        strip=True,
        label="Why are you opening this record?",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def _reason(request, patient_id) -> str:
    return request.session.get(SESSION_REASONS, {}).get(str(patient_id), "") if patient_id else ""


def has_reason(request, patient) -> bool:
    """A reason for opening `patient` was given in this session."""
    return bool(_reason(request, patient.pk))


def asks_reason(request, patient) -> bool:
    return bool(
        request.clinic.audit_asks_reason
        and patient.practitioner_id is not None
        and patient.practitioner_id != request.user.pk
    )


def patient_opened(request, *, patient):
    """Record that `patient`'s record is opened; or, when the clinic asks for a reason and none has been
    given in this session, the page asking for it (to answer instead: nothing is recorded or shown)."""
    if asks_reason(request, patient) and not _reason(request, patient.pk):
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            reasons = request.session.get(SESSION_REASONS, {})
            reasons[str(patient.pk)] = form.cleaned_data["reason"]
            request.session[SESSION_REASONS] = reasons
            return redirect(request.path)
        return render(request, "clinics/audit_reason.html", {"form": form})
    record(
        request=request,
        clinic_id=patient.clinic_id,
        action=Action.VIEW,
        kind=Kind.PATIENT,
        object_id=patient.pk,
        patient_ids=[patient.pk],
        reason=_reason(request, patient.pk),
    )
    return None
