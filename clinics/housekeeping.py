"""Purging what only grows: rate-limit buckets and expired sessions, on the bulk lane's schedule
("clinics: housekeeping", every HOUSEKEEPING_MINUTES).

Invariant: a bucket is deleted only after its window can no longer count (the longest window any limit
uses is a minute; an hour is kept), and a session only after it expired. Neither is read again, yet each
login attempt, webhook post and subscription left a bucket row, and every visit a session, forever.
"""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.utils import timezone

from clinics import ratelimit

PURGE = "clinics.housekeeping.purge"
BUCKET_KEEP = timedelta(hours=1)


def purge() -> dict[str, int]:
    buckets = ratelimit.purge_older_than(BUCKET_KEEP)
    sessions, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"rate-limit buckets": buckets, "sessions": sessions}
