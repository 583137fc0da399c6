"""The status page's own fixtures. Components, `fresh_generation`, the SMTP server and the Support user
are shared (tests/support/fixtures/)."""

import pytest

from statuspage import services, states


@pytest.fixture(autouse=True)
def _sees_its_own_writes(fresh_generation):
    """Every status page test reads what it just wrote, not a cached generation."""


@pytest.fixture
def support_client(client, support):
    client.force_login(support)
    return client


@pytest.fixture
def open_incident(components):
    def make(**kwargs):
        defaults = {
            "name": "Email delays",
            "status": states.INVESTIGATING,
            "body": "We are looking into it.",
            "components": {components["email"]: states.DEGRADED_PERFORMANCE},
        }
        return services.incident_open(**{**defaults, **kwargs})

    return make


@pytest.fixture
def webhook_server(settings):
    """A real HTTP server on loopback that records each POST; `answers` sets the status codes to give."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    settings.STATUSPAGE_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.received, server.answers = received, answers
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def past_timeline(components):
    """A real past incident, years ago: five updates over 7 days 4 hours, each with its own component states."""
    from datetime import timedelta

    from django.utils import timezone

    start = (timezone.now() - timedelta(days=3 * 365 + 17)).replace(second=0, microsecond=0)
    email, sms = components["email"], components["sms"]
    steps = [
        (states.INVESTIGATING, timedelta(0), "SMS are **not delivered**.", {sms: states.MAJOR_OUTAGE}),
        (states.IDENTIFIED, timedelta(hours=9), "A carrier certificate expired.", {sms: states.PARTIAL_OUTAGE}),
        (states.MONITORING, timedelta(days=2), "Renewed; watching delivery.", {sms: states.DEGRADED_PERFORMANCE}),
        (states.MONITORING, timedelta(days=5), "Email slowed while SMS retried.", {email: states.DEGRADED_PERFORMANCE}),
        (
            states.RESOLVED,
            timedelta(days=7, hours=4),
            "All delivered.",
            {sms: states.OPERATIONAL, email: states.OPERATIONAL},
        ),
    ]
    return [
        {"status": status, "display_at": start + offset, "body": body, "components": affected}
        for status, offset, body, affected in steps
    ]
