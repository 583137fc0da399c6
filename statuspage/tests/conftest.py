import pytest

from statuspage import cache, services, states


@pytest.fixture(autouse=True)
def fresh_generation(settings):
    """Each test sees its own writes at once (the generation is re-read on every request)."""
    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 0
    settings.PUBLIC_URL = "http://status.test"
    cache.forget()
    cache._hot.clear()
    from django.core.cache import caches

    caches["default"].clear()
    yield
    cache.forget()


@pytest.fixture
def components(db):
    from statuspage.models import Component, ComponentGroup

    messaging = ComponentGroup.objects.create(name="Messaging", position=0)
    return {
        "email": Component.objects.create(
            name="Email", group=messaging, position=0, lane="live", staff_path="/messages/"
        ),
        "sms": Component.objects.create(name="SMS", group=messaging, position=1),
        "api": Component.objects.create(name="API", position=2),
    }


@pytest.fixture
def support(make_user):
    """A Support user. The group's grants are re-applied: a transactional test flushes migration data."""
    import importlib

    from django.apps import apps

    from clinics.roles import SUPPORT

    importlib.import_module("statuspage.migrations.0002_support_and_schedules").forward(apps, None)
    return make_user("sam", groups=[SUPPORT], is_staff=True)


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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback (aiosmtpd); Django's SMTP backend is pointed at it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    controller.received = received
    yield controller
    controller.stop()


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
