"""Session limits for shared clinic computers: signed out after SESSION_IDLE_MINUTES without a request,
and SESSION_MAX_HOURS after signing in whatever the activity (a shift, not a fortnight: Django's default
is two weeks). The cookie also ends when the browser closes (SESSION_EXPIRE_AT_BROWSER_CLOSE).

Django has no idle timeout of its own; saving the session on every request would make one would cost a
database write per request, so the last-seen time is written at most once a minute (SEEN_EVERY_S): the
idle limit is exact to that minute.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

STARTED_KEY = "kalix_session_started"
SEEN_KEY = "kalix_session_seen"
SEEN_EVERY_S = 60
# The public status page and its API answer everyone alike and cacheably: they neither read nor touch
# the session (a write would add Set-Cookie and Vary: Cookie to a public answer), nor count as activity.
PUBLIC_PREFIXES = ("/status/", "/api/v2/")


class SessionLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request):
        now = time.time()
        session = request.session
        started = session.setdefault(STARTED_KEY, now)
        seen = session.get(SEEN_KEY, now)
        if now - seen > settings.SESSION_IDLE_MINUTES * 60:
            self._end(request, f"You were signed out after {settings.SESSION_IDLE_MINUTES} minutes without activity.")
        elif now - started > settings.SESSION_MAX_HOURS * 3600:
            self._end(request, f"You were signed out: a session lasts at most {settings.SESSION_MAX_HOURS} hours.")
        elif SEEN_KEY not in session or now - seen >= SEEN_EVERY_S:
            session[SEEN_KEY] = now

    def _end(self, request, why: str):
        logout(request)  # flushes the session; the view then sees an anonymous user (login page, 401/403)
        messages.info(request, why)
