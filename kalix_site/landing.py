"""Where each kind of user starts and which pages their menu names.

Clinic staff start on their clinic's patients; the platform's own staff have no clinic: Support start
on the status-page admin, Operations on the queue dashboard. A menu names only pages its user may open
(a link that answers 403 is a dead end), decided by the same permissions the pages check.
"""

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from clinics import audit


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    needs_clinic: bool = False
    perm: str = ""  # a permission the page checks ("" for none)
    staff_only: bool = False  # Django admin pages: is_staff too
    managers_only: bool = False  # the clinic's practice managers (clinics.audit.may_read)


CLINIC_LINKS = (
    Link("Patients", "/patients/", needs_clinic=True),
    Link("Messages", "/messages/", needs_clinic=True),
    Link("Inbox", "/messages/inbox/", needs_clinic=True),
    Link("Appointments", "/messages/appointments/", needs_clinic=True),
    Link("Templates", "/messages/templates/", needs_clinic=True),
    Link("Bulk sends", "/messages/bulk/", needs_clinic=True),
    Link("Billing", "/billing/", needs_clinic=True),
    Link("Access audit", "/audit/", needs_clinic=True, managers_only=True),
)
PLATFORM_LINKS = (
    Link("Status page admin", "/admin/statuspage/", perm="statuspage.change_incident", staff_only=True),
    Link("Queues", "/admin/lanes/", perm="lanes.view_lane", staff_only=True),
)
PUBLIC_LINKS = (Link("Status", "/status/"),)
ADMIN = Link("Admin", "/admin/", staff_only=True)


def may_open(link: Link, user, clinic) -> bool:
    if link.needs_clinic and clinic is None:
        return False
    if link.staff_only and not user.is_staff:
        return False
    if link.managers_only and not audit.may_read(user=user, clinic=clinic):
        return False
    return not link.perm or user.has_perm(link.perm)


def menu(user, clinic) -> list[Link]:
    """The links of `user`'s menu, in the order shown."""
    if not user.is_authenticated:
        return []
    links = [link for link in (*CLINIC_LINKS, *PLATFORM_LINKS, *PUBLIC_LINKS) if may_open(link, user, clinic)]
    platform_pages = any(link in PLATFORM_LINKS for link in links)
    if may_open(ADMIN, user, clinic) and (user.is_superuser or not platform_pages):
        links.append(ADMIN)  # Support and Operations have their own page there; the index adds nothing
    return links


def start_page(user, clinic) -> str | None:
    """The page `user` starts on, or None when there is none they may open."""
    for link in (*CLINIC_LINKS, *PLATFORM_LINKS, ADMIN):
        if may_open(link, user, clinic):
            return link.url
    return None


def menu_context(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    clinic = getattr(request, "clinic", None)
    return {"menu": menu(user, clinic), "start_page": start_page(user, clinic) or "/"}


@require_safe
@login_required
def home(request):
    start = start_page(request.user, request.clinic)
    if start is None:
        context = {"exception": "You are not on the staff of any clinic. Ask your clinic's manager to add you."}
        return render(request, "403.html", context, status=403)
    return redirect(start)
