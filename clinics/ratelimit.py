"""Fixed-window rate limits shared by every process, counted with one atomic upsert in PostgreSQL.

We do not require memcached or Redis, and django-ratelimit refuses the database cache (its increment
is not atomic); an INSERT ... ON CONFLICT DO UPDATE ... RETURNING is, and costs one round trip.
"""

import hashlib
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinics.sql import HIT_SQL
from kalix_site.sql import scalar


def hit(key: str, *, window_s: int) -> int:
    """Count one hit for `key` in the current window and return the window's total."""
    now = timezone.now()
    start = datetime.fromtimestamp(int(now.timestamp()) // window_s * window_s, tz=now.tzinfo)
    with connection.cursor() as cursor:
        cursor.execute(HIT_SQL, [key, start])
        return scalar(cursor, "hits")


def purge_older_than(age: timedelta) -> int:
    """Delete buckets of windows older than `age` (clinics.housekeeping's schedule; buckets are never read
    after their window)."""
    from clinics.models import RateLimitBucket

    deleted, _ = RateLimitBucket.objects.filter(window_start__lt=timezone.now() - age).delete()
    return deleted


def client_ip(request) -> str:
    # Behind a proxy, SECURE_PROXY_SSL_HEADER users also set REMOTE_ADDR correctly (gunicorn
    # --forwarded-allow-ips); we never trust X-Forwarded-For from an arbitrary client.
    return request.META.get("REMOTE_ADDR", "")


def ratelimit(
    *, scope: str, rate_setting: str, window_s: int = 60, methods=("POST",), key=client_ip, page: bool = True
):
    """Refuse with 429 once `key(request)` has made more than settings.<rate_setting> requests in a window:
    for people (`page`) the styled page with a way back, for machines (webhooks) one line of text."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            limit = getattr(settings, rate_setting)
            if limit and request.method in methods:
                who = hashlib.sha256(f"{scope}:{key(request)}".encode()).hexdigest()[:32]
                if hit(f"{scope}:{who}", window_s=window_s) > limit:
                    if page:
                        response = render(request, "429.html", {"back": request.path}, status=429)
                    else:
                        response = HttpResponse("Too many requests. Try again in a minute.", status=429)
                    response["Retry-After"] = str(window_s)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
