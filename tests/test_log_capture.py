"""The main flows log nothing of a patient's: no message body, no name, no email address, no phone number.

Every logger is turned up to DEBUG and every record is captured (message, arguments and traceback).
The live lane's work runs in-process (messaging.worker.drain), so its records are captured here too.
"""

import base64
import json
import logging
from datetime import UTC, date, datetime

import pytest

from messaging.authenticity import sim_headers
from tests.support.channels import PDF, SIM_SECRET

FIRST, LAST = "Zebedee", "Quixotic-Farnsworth"
EMAIL = "zebedee.quixotic@example.com"
MOBILE, FAX = "+61412999123", "+61298765432"
BODY = "Your biopsy results are ready, Zebedee"
SUBJECT = "Biopsy results for Zebedee"
SECRETS = [FIRST, LAST, EMAIL, MOBILE, MOBILE[3:], FAX, FAX[3:], BODY, SUBJECT, "biopsy"]


# The test's own SMTP server (aiosmtpd) is the recipient's side, not part of Kalix.
NOT_OURS = ("mail.log",)


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        if record.name.startswith(NOT_OURS):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text} {record.__dict__.get('extra', '')}")


@pytest.fixture
def every_log_line():
    capture = Capture()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(capture)
    logging.getLogger().addHandler(capture)
    yield capture.lines
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        logger.removeHandler(capture)


@pytest.mark.django_db
def test_main_flows_log_no_patient_details(
    every_log_line,
    client,
    staff_a,
    clinic_a,
    carrier,
    smtp_server,
    settings,
    payer_a,
    make_invoice,
):
    from billing.batches import batch_request, drain_batch_requests
    from clinics.models import Patient
    from messaging import inbox, worker
    from messaging.models import Message, WebhookInbox
    from messaging.services import message_send

    client.force_login(staff_a)
    response = client.post(
        "/patients/new/",
        {
            "first_name": FIRST,
            "last_name": LAST,
            "email": EMAIL,
            "mobile": MOBILE,
            "fax": FAX,
            "messaging_consent": "opted_in",
            "form_clinic": clinic_a.pk,
        },
    )
    assert response.status_code == 302
    patient = Patient.objects.get(last_name=LAST)

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/messages/new/",
        {"patient": patient.pk, "channel": "sms", "body": BODY, "form_clinic": clinic_a.pk, "request_key": "k-1"},
    )
    assert response.status_code == 302
    message_send(clinic=clinic_a, patient=patient, channel="email", subject=SUBJECT, body=BODY)
    message_send(
        clinic=clinic_a,
        patient=patient,
        channel="fax",
        attachment=SimpleUploadedFile("letter.pdf", PDF, content_type="application/pdf"),
    )
    worker.drain()
    assert smtp_server.messages, "the email went out"
    sms = Message.objects.filter(channel="sms", provider_message_id__gt="").first()

    reports = [
        {
            "id": "r1",
            "ref": str(sms.send_key),
            "message_id": sms.provider_message_id,
            "status": "delivered",
            "at": datetime.now(UTC).isoformat(),  # a report dated before its message is refused
            "error": f"{MOBILE} {BODY}",
        },
        {"id": "r2", "ref": "not-a-uuid", "message_id": BODY, "status": "sent", "at": "x"},
    ]
    for batch in ([reports[0]], reports):
        body = json.dumps({"reports": batch}).encode()
        client.post(
            "/messages/webhooks/sim/",
            body,
            content_type="application/json",
            headers=sim_headers(body, SIM_SECRET),
        )
    client.post("/messages/webhooks/sim/", body, content_type="application/json", HTTP_X_SIM_SIGNATURE="forged")
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    email = Message.objects.get(channel="email")
    bounce = {
        "RecordType": "Bounce",
        "MessageID": email.provider_message_id or "esp-1",
        "Type": "HardBounce",
        "ID": 9,
        "Email": EMAIL,
        "Description": BODY,
        "BouncedAt": datetime.now(UTC).isoformat(),
    }
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    client.post(
        "/messages/webhooks/anymail/postmark/tracking/",
        bounce,
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    inbox.apply_batch()
    assert not WebhookInbox.objects.filter(provider="sim").exists()

    # The patient texts back: a STOP (applied to consent) and a text that is no keyword (dropped), then
    # a typed send to the number is refused, naming the patient, to staff only.
    texts = [
        {"id": "in-1", "from": MOBILE, "to": "+61400000000", "text": "STOP"},
        {"id": "in-2", "from": MOBILE, "to": "+61400000000", "text": BODY},
    ]
    body = json.dumps({"inbound": texts}).encode()
    response = client.post(
        "/messages/webhooks/sim/inbound/",
        body,
        content_type="application/json",
        headers=sim_headers(body, SIM_SECRET),
    )
    assert response.status_code == 204
    response = client.post(
        "/messages/new/",
        {"channel": "sms", "recipient": MOBILE, "body": BODY, "form_clinic": clinic_a.pk, "request_key": "k-2"},
    )
    assert response.status_code == 200 and "opted out of SMS" in response.content.decode()

    make_invoice(patient=patient, payer=payer_a)
    batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=date.today())
    drain_batch_requests()
    client.post("/status/subscribe/", {"email": EMAIL})

    assert len(every_log_line) > 3, "the flows log something (the capture works)"
    leaks = [line for line in every_log_line if any(secret.lower() in line.lower() for secret in SECRETS)]
    assert not leaks, "\n".join(line[:2000] for line in leaks)


@pytest.fixture
def console_output():
    """What the configured console handler writes (its formatter is the one production logs through)."""
    import io

    handler = next(h for h in logging.getLogger().handlers if getattr(h, "name", "") == "console")
    stream = io.StringIO()
    saved, handler.stream = handler.stream, stream
    saved_levels = {name: logging.getLogger(name).level for name in ("", "django", "django.server")}
    for name in saved_levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    handler.stream = saved
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.django_db
def test_logs_carry_no_query_strings_header_values_or_exception_messages(
    console_output, client, staff_a, clinic_a, patient_a, monkeypatch, smtp_server
):
    from django.test import Client

    from messaging import worker
    from messaging.providers import EmailProvider
    from messaging.services import message_send

    # A search, as runserver's request line logs it (gunicorn's access format has no query: see
    # kalix_site/tests/test_run_script.py), and a page a patient search led to.
    logging.getLogger("django.server").info('"%s" %s %s', f"GET /patients/?q={FIRST}+{LAST} HTTP/1.1", 200, 1234)
    client.force_login(staff_a)
    client.get(f"/patients/999999/?q={LAST}", HTTP_REFERER=f"http://testserver/patients/?q={FIRST}")
    # Header values: a forged Host, a cross-site Origin, both named after the patient.
    Client(raise_request_exception=False).get("/status/", HTTP_HOST=f"{FIRST.lower()}.evil.example")
    forged = Client(enforce_csrf_checks=True, raise_request_exception=False)
    forged.force_login(staff_a)
    forged.post("/patients/new/", {"first_name": FIRST}, HTTP_ORIGIN=f"https://{LAST.lower()}.evil.example")
    # A provider that raises, quoting the email's subject in its exception.
    message_send(clinic=clinic_a, patient=patient_a, channel="email", subject=SUBJECT, body=BODY)

    def broken(self, batch):
        raise RuntimeError(f"could not send {SUBJECT!r} to {EMAIL}")
        yield  # a generator, as providers are

    monkeypatch.setattr(EmailProvider, "send_batch", broken)
    worker.drain()
    # And whatever logs an exception with the subject in it (a library, PostgreSQL's "Failing row").
    try:
        raise ValueError(f"Failing row contains (1, {SUBJECT}, {EMAIL})")
    except ValueError:
        logging.getLogger("kalix.test").exception("insert failed")

    output = console_output.getvalue()
    assert "RuntimeError" in output and "ValueError" in output and "Traceback" in output, output[-2000:]
    assert "/patients/?<query>" in output
    leaks = [line for line in output.splitlines() if any(s.lower() in line.lower() for s in SECRETS)]
    assert not leaks, "\n".join(leaks)
