from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clinics import consent, selectors, services
from clinics.forms import ClinicSwitchForm, PatientForm
from clinics.services import PATIENT_FIELDS
from clinics.tenancy import SESSION_KEY, form_clinic_refusal, resolve_clinic
from kalix_site import errors


def staff_required(view):
    """Logged in and a member of the clinic this request acts for; a post must come from a form rendered
    for that clinic (clinics.tenancy.form_clinic_refusal), else it is refused before the view runs."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.clinic is None:
            raise PermissionDenied("You are not on the staff of any clinic.")
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


@staff_required
def home(request):
    return redirect("patient-list")


@login_required
@require_POST
def switch_clinic(request):
    form = ClinicSwitchForm(request.POST)
    clinic = resolve_clinic(request.user, clinic_id=form.data.get("clinic")) if form.is_valid() else None
    if clinic is None or str(clinic.pk) != str(form.cleaned_data.get("clinic")):
        raise PermissionDenied("Not a clinic of yours.")
    request.session[SESSION_KEY] = clinic.pk
    messages.info(request, f"Now working in {clinic.name}.")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


@staff_required
def patient_list(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.patient_list(clinic=request.clinic, query=query), 25).get_page(request.GET.get("page"))
    return render(request, "clinics/patient_list.html", {"page": page, "query": query})


@staff_required
def patient_detail(request, pk):
    patient = selectors.patient_get(clinic=request.clinic, pk=pk)
    context = {"patient": patient, "address_consents": consent.consents_of(patient)}
    return render(request, "clinics/patient_detail.html", context)


@staff_required
def patient_create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(clinic=request.clinic, **_fields(form))
        except ValidationError as error:  # the service's own rules (a future date of birth): on the form
            errors.add_form_errors(form, error)
        else:
            messages.success(request, "Patient added.")
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "clinics/patient_form.html", {"form": form, "creating": True})


@staff_required
def patient_edit(request, pk):
    patient = selectors.patient_get(clinic=request.clinic, pk=pk)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=selectors.patient_get(clinic=request.clinic, pk=pk), **_fields(form))
        except ValidationError as error:
            errors.add_form_errors(form, error)
        else:
            messages.success(request, "Patient saved.")
            return redirect("patient-detail", pk=patient.pk)
    return render(request, "clinics/patient_form.html", {"form": form, "patient": patient, "creating": False})


def _fields(form) -> dict:
    return {name: form.cleaned_data[name] for name in PATIENT_FIELDS if name in form.cleaned_data}
