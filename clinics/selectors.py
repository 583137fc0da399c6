from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from clinics.models import AccessRecord, Clinic, Patient, StaffMembership
from clinics.search import phone_prefix, words


def patient_list(*, clinic: Clinic, query: str = "") -> QuerySet[Patient]:
    """This clinic's patients matching every word (name, email, phone digits), or the typed phone number
    in any format (clinics.search); ordered as the list shows them, "Last, First"."""
    patients = Patient.objects.filter(clinic=clinic)
    number = phone_prefix(query)
    if number is not None:
        return patients.filter(Q(mobile__startswith=number) | Q(fax__startswith=number))
    for word in words(query):
        digits = "".join(ch for ch in word if ch.isdigit())
        match = Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        if len(digits) >= 3:
            match |= Q(mobile__contains=digits) | Q(fax__contains=digits)
        patients = patients.filter(match)
    return patients


def patient_get(*, clinic: Clinic, pk) -> Patient:
    """The patient with this id in this clinic, or 404: another clinic's patient does not exist here."""
    return get_object_or_404(Patient, clinic=clinic, pk=pk)


def practitioner_list(*, clinic: Clinic) -> QuerySet:
    """The clinic's clinicians: its staff whose role there is practitioner (who render services, and who
    may be a patient's own practitioner)."""
    return (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, memberships__role=StaffMembership.Role.PRACTITIONER)
        .order_by("username")
    )


def practitioners_anywhere() -> QuerySet:
    """Users who are a practitioner at some clinic: whom admin's Add patient offers before the clinic
    is known (the save then keeps to the clinic's own, clinics.services)."""
    return (
        get_user_model()
        .objects.filter(pk__in=StaffMembership.objects.filter(role=StaffMembership.Role.PRACTITIONER).values("user"))
        .order_by("username")
    )


def practitioner_choices(*, clinic: Clinic, patient: Patient | None = None) -> QuerySet:
    """Whom the patient form and the API offer as a patient's practitioner: the clinic's practitioners,
    and whoever the patient already has (kept until someone changes it: clinics.services)."""
    offered = Q(pk__in=practitioner_list(clinic=clinic).values("pk"))
    if patient is not None and patient.practitioner_id:
        offered |= Q(pk=patient.practitioner_id)
    return get_user_model().objects.filter(offered).order_by("username")


def access_records(*, clinic: Clinic) -> QuerySet[AccessRecord]:
    return AccessRecord.objects.filter(clinic=clinic).select_related("patient").order_by("-at", "-id")
