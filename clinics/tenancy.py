"""Which clinic a request acts for.

Staff pick a clinic (the switcher stores its id in the session); API clients may name one with the
`X-Clinic` header (slug). Either way the clinic must be one the user is a member of, otherwise the
request has no clinic and every scoped view answers 404 or 403. Selectors take the clinic as an
argument; nothing reads it from a global.
"""

from django.http import HttpRequest

from clinics.models import Clinic

SESSION_KEY = "clinic_id"


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
