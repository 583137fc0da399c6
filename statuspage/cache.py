"""Cached public pages and API bodies, invalidated across processes by a generation number.

Every write bumps one row (PageGeneration) in the writer's transaction. Each process keeps its
rendered bodies in its own LocMem cache keyed by that generation, and re-reads the generation at most
every STATUSPAGE_GENERATION_CHECK_SECONDS: one tiny query per process per interval, so a change shows
everywhere within that interval (and at once in the process that made it), while thousands of reads
per second never touch the database.
"""

import hashlib
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone

from statuspage.models import PageGeneration

_seen = {"generation": None, "updated_at": None, "checked": 0.0}


def _read() -> tuple[int, datetime]:
    row = PageGeneration.objects.filter(pk=1).values_list("generation", "updated_at").first()
    return row if row else (0, timezone.now())


def current() -> tuple[int, datetime]:
    """(generation, updated_at) as this process last saw it, re-read when the check interval passed."""
    now = time.monotonic()
    if _seen["generation"] is None or now - _seen["checked"] >= settings.STATUSPAGE_GENERATION_CHECK_SECONDS:
        _seen["generation"], _seen["updated_at"] = _read()
        _seen["checked"] = now
    return _seen["generation"], _seen["updated_at"]


def forget() -> None:
    _seen["generation"] = None


def bump() -> None:
    """Mark every cached page stale; call inside the write's transaction."""
    now = timezone.now()
    updated = PageGeneration.objects.filter(pk=1).update(generation=F("generation") + 1, updated_at=now)
    if not updated:
        PageGeneration.objects.get_or_create(pk=1, defaults={"generation": 1, "updated_at": now})
    transaction.on_commit(forget)
    forget()


# The hottest bodies also live in a plain dict of this process, {key: (generation, expires, body)}: no
# pickling or locking per read, which the LocMem backend does. Bounded by the number of cached URLs.
_hot: dict[str, tuple[int, float, bytes, str]] = {}


def peek(key: str) -> tuple[bytes, str] | None:
    """(body, ETag) cached under `key` for the current generation, or None (the fast path's read)."""
    generation, _ = current()
    entry = _hot.get(key)
    if entry and entry[0] == generation and entry[1] > time.monotonic():
        return entry[2], entry[3]
    return None


def get_or_build(key: str, build):
    """The body cached under `key` for the current generation, built (and cached) when missing."""
    generation, _ = current()
    full_key = f"statuspage:{generation}:{key}"
    store = caches[settings.STATUSPAGE_CACHE_ALIAS]
    value = store.get(full_key)
    if value is None:
        value = build()
        store.set(full_key, value, settings.STATUSPAGE_CACHE_SECONDS)
    if isinstance(value, bytes) and not key.startswith("page:incident:"):
        _hot[key] = (generation, time.monotonic() + settings.STATUSPAGE_CACHE_SECONDS, value, etag(value))
    return value


CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}


def etag(body: bytes) -> str:
    """A strong validator of the body: the same bytes in every process give the same tag."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    offered = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in offered or tag in offered


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",  # Statuspage's API is readable from any page
    "Access-Control-Expose-Headers": "ETag",
}


def response(body: bytes, kind: str, request=None) -> HttpResponse:
    """The one way a cached body is answered, by the views and by the fast path alike.

    With an ETag; a request whose If-None-Match names it gets 304 without the body. The body is the
    same for everyone (no user data), so the session the middleware may have loaded does not make
    it vary by cookie.
    """
    tag = etag(body)
    if request is not None and not_modified(request.headers.get("If-None-Match"), tag):
        answer = HttpResponse(status=304)
        del answer["Content-Type"]
    else:
        answer = HttpResponse(body, content_type=CONTENT_TYPES[kind])
    answer["ETag"] = tag
    answer["Cache-Control"] = f"public, max-age={settings.STATUSPAGE_BROWSER_CACHE_SECONDS}"
    if kind == "json":
        for header, value in CORS_HEADERS.items():
            answer[header] = value
    session = getattr(request, "session", None)
    if session is not None and not session.modified:
        session.accessed = False  # the body does not depend on it: no "Vary: Cookie"
    return answer


def preflight(request) -> HttpResponse:
    """CORS preflight of the public API: any origin may GET it, with the headers it asks to send."""
    answer = HttpResponse(status=204)
    answer["Access-Control-Allow-Origin"] = "*"
    answer["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    answer["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Accept, If-None-Match"
    )
    answer["Access-Control-Max-Age"] = "86400"
    del answer["Content-Type"]
    return answer
