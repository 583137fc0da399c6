"""Messaging fixtures: a simulated carrier on loopback, an SMTP server on loopback, message helpers."""

import socket

import pytest

from messaging.simcarrier import CarrierConfig, SimCarrier

SIM_SECRET = "test-sim-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sim_settings(settings):
    settings.SIMCARRIER_SECRET = SIM_SECRET
    settings.MESSAGING_SMS_PROVIDER = "simulated"
    settings.MESSAGING_FAX_PROVIDER = "simulated"
    return settings


@pytest.fixture
def carrier(sim_settings):
    """A simulated carrier that sends no delivery reports (tests that need them use live_server)."""
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, send_reports=False)) as sim:
        sim_settings.SIMCARRIER_URL = sim.url
        yield sim


class Inbox:
    """What an aiosmtpd server on loopback received; recipients listed in `refuse` get a 550."""

    def __init__(self):
        self.messages = []
        self.refuse = set()
        self.busy = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.busy:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf")
