from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from clinics.models import AccessRecord, Clinic, Patient
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


def access_records(*, clinic: Clinic) -> QuerySet[AccessRecord]:
    return AccessRecord.objects.filter(clinic=clinic).select_related("patient").order_by("-at", "-id")
