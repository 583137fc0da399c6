"""What tests need to send over each channel: the simulated carrier's secret, a real SMTP server on
loopback (aiosmtpd) that records what it received and can refuse recipients, a PDF to fax."""

import email

from tests.support.processes import free_port

SIM_SECRET = "test-sim-secret"
# The simulated carrier's pace in tests: one message per request, at the low end of a real API's 100-300 ms.
SIM_LATENCY_MS = 100
SIM_JITTER_MS = 50
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Inbox:
    """What an aiosmtpd server on loopback received; recipients listed in `refuse` get a 550, those in
    `busy` a 451."""

    def __init__(self):
        self.messages = []  # the envelopes, as the server took them
        self.refuse = set()
        self.busy = set()

    @property
    def received(self) -> list[email.message.Message]:
        """The messages parsed, for reading their headers (`m["Subject"]`)."""
        return [email.message_from_bytes(envelope.original_content) for envelope in self.messages]

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


def start_smtp(settings, handler):
    """Start aiosmtpd on a free loopback port with `handler`, and point Django's SMTP backend at it;
    returns the controller (the caller stops it)."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return controller
