"""Staff pages for appointments: the day list per practitioner, booking, and an appointment's page with
its status moves, the patient's reply and the reminders sent for it.

The pages are messaging's, though the model is clinics' (clinics.appointments): an appointment's page
shows its reminders and replies, which are messaging's, and clinics may import no domain app."""

from datetime import timedelta

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinics import appointments
from clinics.views import staff_required
from kalix_site import errors
from messaging import reminders
from messaging.forms import AppointmentForm, DayForm


@staff_required
def day_list(request):
    form = DayForm(request.GET or None, clinic=request.clinic)
    today = timezone.localtime(timezone.now(), request.clinic.tzinfo).date()
    filters = form.cleaned_data if form.is_valid() else {}
    day = filters.get("day") or today
    practitioner = filters.get("practitioner")
    return render(
        request,
        "messaging/appointment_day.html",
        {
            "form": form,
            "day": day,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "practitioner": practitioner,
            "appointments": appointments.day_list(clinic=request.clinic, day=day, practitioner=practitioner),
        },
    )


@staff_required
def appointment_book(request):
    initial = {"day": request.GET.get("day") or None}
    form = AppointmentForm(request.POST or None, clinic=request.clinic, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            appointment = appointments.appointment_book(
                clinic=request.clinic,
                patient=data["patient"],
                practitioner=data["practitioner"],
                starts_at=appointments.local_datetime(request.clinic, data["day"], data["start"]),
                ends_at=appointments.local_datetime(request.clinic, data["day"], data["end"]),
                notes=data["notes"],
            )
        except ValidationError as exc:
            errors.add_form_errors(form, ValidationError(_on_form_fields(exc)))
        else:
            flash.success(request, "Appointment booked.")
            return redirect("messaging:appointment-detail", pk=appointment.pk)
    return render(request, "messaging/appointment_form.html", {"form": form})


def _on_form_fields(exc: ValidationError) -> dict:
    """The service speaks of starts_at and ends_at; the form of start and end."""
    names = {"starts_at": "start", "ends_at": "end"}
    return {names.get(k, k): v for k, v in errors.error_dict(exc).items()}


@staff_required
def appointment_detail(request, pk):
    appointment = appointments.appointment_get(clinic=request.clinic, pk=pk)
    moves = [(m, appointments.MOVE_WORDS[m]) for m in appointments.STATUS.allowed(appointment.status)]
    return render(
        request,
        "messaging/appointment_detail.html",
        {"appointment": appointment, "moves": moves, "reminders": reminders.reminders_of(appointment)},
    )


@staff_required
@require_POST
def appointment_move(request, pk):
    appointment = appointments.appointment_get(clinic=request.clinic, pk=pk)
    move = request.POST.get("move", "")
    try:
        if move == "cancel":
            withdrawn = reminders.appointment_cancel(appointment=appointment, user=request.user)
            flash.success(
                request, "Appointment cancelled." + (f" {withdrawn} reminder(s) not sent." if withdrawn else "")
            )
        else:
            appointments.appointment_move(appointment=appointment, move=move)
            flash.success(request, f"Appointment {appointment.get_status_display().lower()}.")
    except ValidationError as exc:
        flash.error(request, errors.as_text(exc))
    return redirect("messaging:appointment-detail", pk=pk)
