from functools import wraps
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinics import audit, consent, hub, selectors, services
from clinics.forms import ClinicSwitchForm, PatientForm, show_conflict
from clinics.services import PATIENT_FIELDS
from clinics.tenancy import SESSION_KEY, form_clinic_refusal, resolve_clinic
from kalix_site import errors


def staff_required(view):
    """Logged in and a member of the clinic this request acts for; a post must come from a form rendered
    for that clinic (clinics.tenancy.form_clinic_refusal), else it is refused before the view runs."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.clinic is None:  # rendered, not raised: a refusal is no error and logs no traceback
            context = {"exception": "This page is for clinic staff; you are not on the staff of any clinic."}
            return render(request, "403.html", context, status=403)
        refusal = form_clinic_refusal(request)
        if refusal is not None:
            return _refuse(request, refusal)
        return view(request, *args, **kwargs)

    wrapper.clinic_scoped = True  # lets the tests find every staff view from the URL resolver
    return wrapper


def _refuse(request, refusal):
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    context = {"refusal": refusal, "back": back}
    return render(request, "clinics/form_refused.html", context, status=refusal.status)


@login_required
@require_POST
def switch_clinic(request):
    form = ClinicSwitchForm(request.POST)
    clinic = resolve_clinic(request.user, clinic_id=form.data.get("clinic")) if form.is_valid() else None
    if clinic is None or str(clinic.pk) != str(form.cleaned_data.get("clinic")):
        return render(request, "403.html", {"exception": "Not a clinic of yours."}, status=403)
    request.session[SESSION_KEY] = clinic.pk
    messages.info(request, f"Now working in {clinic.name}.")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(_page_of_any_clinic(target))


def _page_of_any_clinic(target: str) -> str:
    """`target`, or for a page of one object (an id in its path: the old clinic's), the nearest page
    above it that names none: /patients/12/edit/ becomes /patients/, the list of the new clinic."""
    asked = urlsplit(target).path or "/"  # a Referer is a whole URL
    path = asked
    while True:
        try:
            match = resolve(path)
        except Resolver404:
            return "/"
        if not match.kwargs:
            return target if path == asked else path
        path = path.rstrip("/").rpartition("/")[0] + "/"


@staff_required
def patient_list(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.patient_list(clinic=request.clinic, query=query), 25).get_page(request.GET.get("page"))
    return render(request, "clinics/patient_list.html", {"page": page, "query": query})


@staff_required
def patient_detail(request, pk):
    """The hub: the patient's facts, consent per channel, and each app's section (clinics.hub)."""
    patient = selectors.patient_get(clinic=request.clinic, pk=pk)
    if (ask_reason := audit.patient_opened(request, patient=patient)) is not None:
        return ask_reason
    context = {
        "patient": patient,
        "channel_consents": consent.channel_consents(patient),
        "address_consents": consent.consents_of(patient),
        "sections": hub.sections_for(request, patient),
    }
    return render(request, "clinics/patient_detail.html", context)


PICKER_RESULTS = 10


@staff_required
def patient_search(request):
    """The compose picker's search-as-you-type: this clinic's patients matching what was typed, as the
    list shows them. Logs nothing of the query (a patient's name or number is health data)."""
    query = request.GET.get("q", "").strip()[:100]
    found = selectors.patient_list(clinic=request.clinic, query=query)[:PICKER_RESULTS] if query else []
    results = [
        {
            "id": p.pk,
            "label": f"{p.last_name}, {p.first_name}",
            "contacts": {"sms": str(p.mobile or ""), "email": p.email, "fax": str(p.fax or "")},
            "detail": " · ".join(
                str(v) for v in (p.date_of_birth and p.date_of_birth.strftime("%-d %b %Y"), p.mobile, p.email) if v
            ),
        }
        for p in found
    ]
    return JsonResponse({"results": results})


@staff_required
def patient_create(request):
    form = PatientForm(request.POST or None, clinic=request.clinic)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(clinic=request.clinic, **_fields(form))
        except ValidationError as error:  # the service's own rules (a future date of birth): on the form
            errors.add_form_errors(form, error)
        else:
            audit.patient_edited(request, patient=patient)
            messages.success(request, "Patient added.")
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "clinics/patient_form.html", {"form": form, "creating": True})


@staff_required
def patient_edit(request, pk):
    """The edit form shows the record as the hub does: it opens the same way (a reason first where the
    clinic asks one for another practitioner's patient, a row in the access audit), so choosing oneself
    as the practitioner is no way round the reason."""
    patient = selectors.patient_get(clinic=request.clinic, pk=pk)
    # a GET opens it; a POST without the reason asked for is the reason's form (or refused: nothing saved)
    reason_missing = audit.asks_reason(request, patient) and not audit.has_reason(request, patient)
    if (request.method == "GET" or reason_missing) and (
        ask_reason := audit.patient_opened(request, patient=patient)
    ) is not None:
        return ask_reason
    form = PatientForm(request.POST or None, instance=patient, clinic=request.clinic)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.patient_update(
                patient=selectors.patient_get(clinic=request.clinic, pk=pk),
                opened=form.cleaned_data["opened"],
                **_fields(form),
            )
        except ValidationError as error:
            errors.add_form_errors(form, error)
        except services.PatientConflict as conflict:
            show_conflict(form, conflict)
        else:
            audit.patient_edited(request, patient=saved)
            messages.success(request, "Patient saved.")
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "clinics/patient_form.html", {"form": form, "patient": patient, "creating": False})


def _fields(form) -> dict:
    return {name: form.cleaned_data[name] for name in PATIENT_FIELDS if name in form.cleaned_data}


@staff_required
def access_audit(request):
    """The clinic's access audit, newest first: its managers only, their clinic's rows only."""
    if not audit.may_read(user=request.user, clinic=request.clinic):
        raise PermissionDenied("Only the practice managers read the access audit.")
    page = Paginator(selectors.access_records(clinic=request.clinic), 50).get_page(request.GET.get("page"))
    return render(request, "clinics/access_audit.html", {"page": page})
