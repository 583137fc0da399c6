"""Which clinic a request acts for.

Staff pick a clinic (the switcher stores its id in the session); API clients may name one with the
`X-Clinic` header (slug). Either way the clinic must be one the user is a member of, otherwise the
request has no clinic and every scoped view answers 404 or 403. Selectors take the clinic as an
argument; nothing reads it from a global.

The session's clinic can change under an open page: a second tab switches clinic, and the first tab's
form would then act for the new clinic. So every staff form carries the clinic it was rendered for
(`{% clinic_field %}`), and a staff post whose clinic is missing or is not the session's is refused
before the view runs (form_clinic_refusal, checked by clinics.views.staff_required for every staff
view): nothing is written or sent for either clinic. The API names its clinic on every request
(`X-Clinic`) and has no such race.
"""

import logging
from dataclasses import dataclass

from django.http import HttpRequest

from clinics.models import Clinic

log = logging.getLogger(__name__)

SESSION_KEY = "clinic_id"
FORM_CLINIC_FIELD = "form_clinic"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def clinics_for(user) -> list[Clinic]:
    if not user.is_authenticated:
        return []
    return list(Clinic.objects.filter(memberships__user=user).order_by("name"))


def resolve_clinic(user, *, clinic_id=None, slug=None) -> Clinic | None:
    """The clinic this user acts for: the one asked for if they belong to it, else their first."""
    if not user or not user.is_authenticated:
        return None
    mine = Clinic.objects.filter(memberships__user=user)
    if slug:
        return mine.filter(slug=slug).first()
    if clinic_id:
        chosen = mine.filter(pk=clinic_id).first()
        if chosen:
            return chosen
    return mine.order_by("name").first()


class CurrentClinicMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        request.clinic = None
        if request.user.is_authenticated:
            request.clinic = resolve_clinic(
                request.user,
                clinic_id=request.session.get(SESSION_KEY),
                slug=request.headers.get("X-Clinic"),
            )
        return self.get_response(request)


def clinic_context(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {"current_clinic": getattr(request, "clinic", None), "my_clinics": clinics_for(user)}


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    form_clinic: Clinic | None = None  # the form's clinic when it is one of the user's: offered to switch back


def form_clinic_refusal(request: HttpRequest) -> Refusal | None:
    """Why this staff request must not act, or None: a post without the clinic its form was rendered for
    (400) or for another clinic than the session's (409). Only the user's own clinics are named."""
    if request.method in SAFE_METHODS:
        return None
    sent = request.POST.get(FORM_CLINIC_FIELD, "").strip()
    if sent == str(request.clinic.pk):
        return None
    if not sent:
        log.info("staff post refused: no form clinic (session clinic %s, %s)", request.clinic.pk, request.path)
        return Refusal(400, "This form was sent without the clinic it was made for: reload the page and try again.")
    # isascii: "²".isdigit() is True but int("²") raises
    form_clinic = resolve_clinic(request.user, clinic_id=sent) if sent.isascii() and sent.isdigit() else None
    if form_clinic is not None and str(form_clinic.pk) != sent:
        form_clinic = None  # resolve_clinic falls back to the user's first clinic; that is not the form's
    log.info("staff post refused: form for another clinic (session clinic %s, %s)", request.clinic.pk, request.path)
    name = form_clinic.name if form_clinic else "another clinic"
    return Refusal(409, f"This form was for {name}; you are now working in {request.clinic.name}.", form_clinic)
