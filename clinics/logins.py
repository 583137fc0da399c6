"""Login protection for every login form (the staff one and the admin's), with django-axes.

Three counts, each with its own limit, over the failures of the last LOGIN_COOLOFF_MINUTES:
- a username at one address (LOGIN_FAILURE_LIMIT): one person's typos lock only that person, at that
  computer, so the rest of a clinic behind the same router logs in as usual;
- an account from anywhere (LOGIN_ACCOUNT_FAILURE_LIMIT): guessing one password from many addresses;
- an address for every username (LOGIN_ADDRESS_FAILURE_LIMIT): one machine spraying many usernames.
axes itself has one limit for all its lockout parameters; `LoginGuardHandler.get_failures` scales each
count to it, so "locked" still means `failures >= AXES_FAILURE_LIMIT` everywhere axes checks it.

A successful login forgets only that username's failures at that address (the person proved who they
are there), never the whole address's nor the account's elsewhere. axes hooks `authenticate()`, so a
new login form is covered without a decorator. It replaced the per-address `login` scope of
clinics/ratelimit.py, which locked a whole clinic behind one router and missed the admin's form.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

# The axes lockout parameters we use, each with the setting that holds its limit.
LIMITS = {
    ("ip_address", "username"): "LOGIN_FAILURE_LIMIT",
    ("username",): "LOGIN_ACCOUNT_FAILURE_LIMIT",
    ("ip_address",): "LOGIN_ADDRESS_FAILURE_LIMIT",
}


def client_ip(request) -> str:
    # Behind a proxy, gunicorn's --forwarded-allow-ips makes REMOTE_ADDR the client's; we never trust a
    # client's own X-Forwarded-For (see clinics.ratelimit.client_ip, the same rule).
    return request.META.get("REMOTE_ADDR", "")


# axes stores the username as typed in a varchar(255); a name no account can have (a pasted page, a
# hostile megabyte) is kept as its first USERNAME_KEPT characters, still counted against that prefix.
USERNAME_KEPT = 150  # auth.User.username's length


def client_username(request, credentials=None) -> str | None:
    typed = (credentials or {}).get("username") or request.POST.get("username")
    return typed[:USERNAME_KEPT] if isinstance(typed, str) else typed


def _limit(parameter) -> int:
    key = (parameter,) if isinstance(parameter, str) else tuple(sorted(parameter))
    return max(1, getattr(settings, LIMITS[key]))


class LoginGuardHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        scale = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        worst = 0
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            count = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            # count >= its own limit  <=>  count * scale // limit >= scale
            worst = max(worst, count * scale // _limit(parameter))
        return worst

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return deleted


def failure_limit(request, credentials) -> int:
    return settings.LOGIN_FAILURE_LIMIT


def locked_out(request, original_response=None, credentials=None):
    """The styled lockout page (429): what happened, when to try again, who can lift it sooner."""
    context = {"cooloff_minutes": settings.LOGIN_COOLOFF_MINUTES}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(settings.LOGIN_COOLOFF_MINUTES * 60)
    return response
