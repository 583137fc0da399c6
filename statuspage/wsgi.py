"""Fast path for the hottest public URLs, in front of Django: a cached body is answered directly.

`kalix_site/wsgi.py` wraps Django's application with `status_fast_path`. For a GET of one of the
fixed public URLs whose body is cached for the current generation (statuspage/cache.py), the body is
answered with the headers Django itself gave that URL, for that scheme and host, the last time it
served it with 200: so security headers, host validation and the HTTPS redirect stay exactly Django's
(a host Django refused, or an http request it redirected, never got a 200 and never takes the fast
path). Anything else, and any error, goes to Django.
"""

import logging

from statuspage import cache

log = logging.getLogger(__name__)

FAST_PATHS = {
    "/api/v2/summary.json": "v2:summary",
    "/api/v2/status.json": "v2:status",
    "/api/v2/components.json": "v2:components",
    "/api/v2/incidents.json": "v2:incidents",
    "/api/v2/incidents/unresolved.json": "v2:incidents/unresolved",
    "/api/v2/scheduled-maintenances.json": "v2:scheduled-maintenances",
    "/api/v2/scheduled-maintenances/upcoming.json": "v2:scheduled-maintenances/upcoming",
    "/api/v2/scheduled-maintenances/active.json": "v2:scheduled-maintenances/active",
    "/status/": "page:home",
    "/status/history/": "page:history",
}
DROPPED_HEADERS = {"content-length", "set-cookie", "date", "etag"}  # the ETag is the body's, added per answer
MAX_LEARNED = 200  # (url, scheme, host) combinations remembered; Django only ever approves real hosts


def status_fast_path(django_app):
    learned: dict[tuple, list[tuple[str, str]]] = {}

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        key = FAST_PATHS.get(path)
        if (
            key is None
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_IF_NONE_MATCH")  # conditional GETs (304) are Django's
        ):
            return django_app(environ, start_response)
        origin = (
            path,
            environ.get("wsgi.url_scheme"),
            environ.get("HTTP_HOST"),
            environ.get("HTTP_X_FORWARDED_PROTO"),
        )
        headers = learned.get(origin)
        if headers is not None:
            try:
                hot = cache.peek(key)
            except Exception:  # e.g. the database went away while re-reading the generation
                log.exception("status fast path: falling back to Django")
                hot = None
            if hot is not None:
                body, tag = hot  # the tag was computed once, when the body was cached
                start_response("200 OK", [*headers, ("ETag", tag), ("Content-Length", str(len(body)))])
                return [body]

        def remember(status, response_headers, exc_info=None):
            if status.startswith("200 ") and len(learned) < MAX_LEARNED:
                learned[origin] = [(k, v) for k, v in response_headers if k.lower() not in DROPPED_HEADERS]
            return start_response(status, response_headers, exc_info)

        return django_app(environ, remember)

    return application
