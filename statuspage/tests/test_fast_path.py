"""The WSGI fast path answers cached bodies exactly as Django did, and only where Django said 200."""

import io

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from statuspage.wsgi import status_fast_path


@pytest.fixture
def app(components):
    """Django behind the fast path, counting the requests that reach Django."""
    signals.request_started.disconnect(close_old_connections)  # keep the test transaction open,
    signals.request_finished.disconnect(close_old_connections)  # as Django's test client does
    django = WSGIHandler()

    def counting(environ, start_response):
        counting.calls += 1
        return django(environ, start_response)

    counting.calls = 0
    wrapped = status_fast_path(counting)
    wrapped.django = counting
    yield wrapped
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def get(app, path, *, host="testserver", query="", extra=None):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        **(extra or {}),
    }
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    answer["body"] = b"".join(app(environ, start_response))
    return answer


@pytest.mark.parametrize("path", ["/api/v2/summary.json", "/status/"])
def test_second_request_is_answered_without_django_and_identically(app, path):
    built = get(app, path)
    fast = get(app, path)
    assert app.django.calls == 1
    assert fast["status"] == built["status"] == "200 OK"
    assert fast["body"] == built["body"]
    assert fast["headers"] == built["headers"]  # security headers, content type, CORS, cache control


def test_a_write_sends_the_next_request_to_django(app, open_incident):
    get(app, "/api/v2/incidents/unresolved.json")
    open_incident(name="Fresh")
    assert b"Fresh" in get(app, "/api/v2/incidents/unresolved.json")["body"]
    assert app.django.calls == 2


def test_hosts_django_refuses_never_take_the_fast_path(app):
    get(app, "/status/")
    assert get(app, "/status/", host="evil.example")["status"].startswith("400")
    assert get(app, "/status/", host="evil.example")["status"].startswith("400")
    assert app.django.calls == 3


def test_query_strings_and_other_urls_go_to_django(app):
    get(app, "/status/")
    get(app, "/status/", query="x=1")
    get(app, "/status/feed.atom")
    assert app.django.calls == 3


def test_a_conditional_get_is_answered_304_by_django_with_the_fast_paths_etag(app):
    get(app, "/api/v2/status.json")
    fast = get(app, "/api/v2/status.json")
    again = get(app, "/api/v2/status.json", extra={"HTTP_IF_NONE_MATCH": fast["headers"]["ETag"]})
    assert again["status"].startswith("304") and again["body"] == b""
    assert app.django.calls == 2
