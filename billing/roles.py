"""Who may do what in billing, from the user's role in the clinic (clinics.StaffMembership.role).

Invariant: the services ask these, so the staff pages, the API and admin refuse the same things. Only a
practitioner renders services (an invoice's practitioner); only a practice manager voids invoices, cancels
or submits batches, records payments, imports remittances and overrides a duplicate-claim error. A call
with no user (by=None) is the platform's own (the live-lane worker, the demo loader); a superuser is the
platform's owner. Everyone else on the clinic's staff may raise invoices and request batches.
"""

from django.core.exceptions import PermissionDenied

from clinics.models import Clinic, StaffMembership

Role = StaffMembership.Role


def role_of(*, clinic: Clinic, user) -> str | None:
    if user is None:
        return None
    return StaffMembership.objects.filter(clinic=clinic, user=user).values_list("role", flat=True).first()


def is_manager(*, clinic: Clinic, user) -> bool:
    if user is not None and user.is_superuser:
        return True
    return role_of(clinic=clinic, user=user) == Role.MANAGER


def require_manager(*, clinic: Clinic, user, action: str) -> None:
    """Refuse (PermissionDenied: 403 on the pages and the API) unless `user` manages this clinic."""
    if user is None:
        return  # the platform itself (worker, demo loader)
    if not is_manager(clinic=clinic, user=user):
        raise PermissionDenied(f"Only a practice manager can {action}.")


def is_practitioner(*, clinic: Clinic, user) -> bool:
    return role_of(clinic=clinic, user=user) == Role.PRACTITIONER
