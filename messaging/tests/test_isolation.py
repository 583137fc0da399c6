"""Per-message isolation: nothing raised for one message defers, fails or resends another.

Each test puts one bad message (or one provider fault) into an ordinary batch of other clinics'
messages and counts, at the real mail server or the simulated carrier, that every other message was
taken exactly once; the fault ledger checks every status against its events.
"""

import re
import smtplib
from collections import Counter

import pytest
from django.utils import timezone

from messaging import providers, worker
from messaging.models import Dispatch, Message, Status
from messaging.providers import SimulatedCarrier
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET, Inbox, start_smtp
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db

SEND_KEY = re.compile(rb"X-Kalix-Send-Key: ([0-9a-f-]{36})")


def drain_until_settled(rounds=6):
    """Drain as successive pokes would, with every retry made due at once (time passes)."""
    for _ in range(rounds):
        Message.objects.filter(dispatch=Dispatch.QUEUED).update(next_attempt_at=timezone.now())
        worker.drain()


def emails_of_two_clinics(clinic_a, clinic_b, patient_a, patient_b, n=50):
    made = []
    for i in range(n):
        clinic, patient = (clinic_a, patient_a) if i % 2 else (clinic_b, patient_b)
        made.append(message_send(clinic=clinic, patient=patient, channel="email", subject=f"Note {i}", body="Hi"))
    return made


def delivered_keys(inbox) -> Counter:
    return Counter(SEND_KEY.search(envelope.original_content).group(1).decode() for envelope in inbox.messages)


# --- SMTP: a poisoned header -------------------------------------------------------------------------


def test_a_poisoned_subject_fails_alone_and_the_rest_of_the_batch_is_delivered_once(
    clinic_a, clinic_b, patient_a, patient_b, smtp_server
):
    messages = emails_of_two_clinics(clinic_a, clinic_b, patient_a, patient_b)
    poisoned = messages[17]
    # A row that bypassed input validation (an old row, a bad import, a bug elsewhere).
    Message.objects.filter(pk=poisoned.pk).update(subject="a\r\nBcc: x@evil.example")

    drain_until_settled()

    keys = delivered_keys(smtp_server)
    others = {str(m.send_key) for m in Message.objects.exclude(pk=poisoned.pk)}
    assert set(keys) == others and set(keys.values()) == {1}, "49 delivered, each exactly once"
    assert all("x@evil.example" not in e.rcpt_tos for e in smtp_server.messages)
    poisoned.refresh_from_db()
    assert (poisoned.status, poisoned.dispatch, poisoned.attempts) == (Status.FAILED, Dispatch.DONE, 1)
    assert poisoned.status_detail == "Rejected by the provider: the subject contains a line break"
    assert set(Message.objects.exclude(pk=poisoned.pk).values_list("status", flat=True)) == {Status.SUCCESS}
    assert_ledger(expected=50)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("subject", "Results\x07ready", "the subject contains a control character"),
        ("recipient", '"ada\x01"@example.com', "the recipient address contains a control character"),
    ],
)
def test_other_poisoned_header_values_fail_alone(clinic_a, patient_a, smtp_server, field, value, reason):
    good, bad = (
        message_send(clinic=clinic_a, patient=patient_a, channel="email", subject=f"Note {i}", body="Hi")
        for i in range(2)
    )
    Message.objects.filter(pk=bad.pk).update(**{field: value})
    worker.drain()
    bad.refresh_from_db()
    assert (bad.status, bad.status_detail) == (Status.FAILED, f"Rejected by the provider: {reason}")
    assert delivered_keys(smtp_server) == {str(Message.objects.get(pk=good.pk).send_key): 1}
    assert_ledger(expected=2)


def test_a_clinic_sender_address_with_a_line_break_fails_only_that_clinics_email(
    clinic_a, clinic_b, patient_a, patient_b, smtp_server
):
    clinic_a.email_from = "alpha@clinic.example\r\nBcc: x@evil.example"
    clinic_a.save(update_fields=["email_from"])
    theirs = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    ours = message_send(clinic=clinic_b, patient=patient_b, channel="email", subject="Hi", body="Hello")
    worker.drain()
    theirs.refresh_from_db()
    assert theirs.status_detail == "Rejected by the provider: the sender address contains a line break"
    assert delivered_keys(smtp_server) == {str(Message.objects.get(pk=ours.pk).send_key): 1}


# --- SMTP: the connection drops mid-batch ------------------------------------------------------------


class DroppingInbox(Inbox):
    """An SMTP server that hangs up: on the RCPT of the n-th message (before it has any content), after
    taking the n-th message's DATA without answering, or with 421 after `per_connection` messages."""

    def __init__(self, *, drop_at_rcpt=(), drop_after_data=(), per_connection=0):
        super().__init__()
        self.drop_at_rcpt, self.drop_after_data = set(drop_at_rcpt), set(drop_after_data)
        self.per_connection, self.seen, self.connections = per_connection, 0, Counter()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.connections[id(session)] += 1
        if self.per_connection and self.connections[id(session)] > self.per_connection:
            return "421 4.7.0 Too many messages on this connection"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.seen += 1
        if self.seen in self.drop_at_rcpt:
            server.transport.close()
            return "451 gone"  # never reaches the client
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        if len(self.messages) in self.drop_after_data:
            server.transport.close()  # the message is stored; the client never hears "250"
        return "250 Message accepted"


@pytest.fixture
def dropping_smtp(settings):
    # The faults are numbered in the order the server sees messages: one connection at a time keeps
    # that order the batch's (the pool's shares are tested in test_worker).
    settings.MESSAGING_SMTP_CONNECTIONS = 1
    started = []

    def start(**faults):
        inbox = DroppingInbox(**faults)
        started.append(start_smtp(settings, inbox))
        return inbox

    yield start
    for controller in started:
        controller.stop()


def emails(clinic, patient, n):
    return [
        message_send(clinic=clinic, patient=patient, channel="email", subject=f"Note {i}", body="Hi") for i in range(n)
    ]


def test_a_drop_before_the_content_was_sent_reconnects_and_delivers_everything_once(clinic_a, patient_a, dropping_smtp):
    inbox = dropping_smtp(drop_at_rcpt={3})
    emails(clinic_a, patient_a, 6)
    worker.drain()  # one drain: nothing waits for a retry
    assert len(inbox.messages) == 6
    assert set(delivered_keys(inbox).values()) == {1}
    assert set(Message.objects.values_list("status", "attempts")) == {(Status.SUCCESS, 1)}
    assert_ledger(expected=6)


def test_421_after_some_messages_reconnects_for_the_rest(clinic_a, patient_a, dropping_smtp):
    inbox = dropping_smtp(per_connection=4)
    emails(clinic_a, patient_a, 10)
    worker.drain()
    assert len(inbox.messages) == 10 and set(delivered_keys(inbox).values()) == {1}
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SUCCESS}
    assert_ledger(expected=10)


@pytest.mark.django_db(transaction=True)
def test_a_drop_after_the_content_was_sent_leaves_that_one_unknown_never_resent(
    clinic_a, patient_a, dropping_smtp, settings
):
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    inbox = dropping_smtp(drop_after_data={3})
    made = emails(clinic_a, patient_a, 6)
    worker.drain()  # delivers 1, 2, 3 (unanswered), reconnects for 4, 5, 6
    in_flight = Message.objects.get(pk=made[2].pk)
    assert len(inbox.messages) == 6 and set(delivered_keys(inbox).values()) == {1}
    assert (in_flight.status, in_flight.dispatch) == (Status.SENDING, Dispatch.HANDING_OFF)
    assert in_flight.status_detail == "Handing to carrier, not yet accepted"

    drain_until_settled(3)  # recovery settles it: SMTP cannot be asked, so staff decide
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.dispatch) == (Status.FAILED, Dispatch.DONE)
    assert "not resent automatically" in in_flight.status_detail
    assert len(inbox.messages) == 6 and set(delivered_keys(inbox).values()) == {1}
    assert Message.objects.filter(status=Status.SUCCESS).count() == 5
    assert_ledger(expected=6)


def test_a_server_that_keeps_hanging_up_defers_only_what_it_never_took(clinic_a, patient_a, dropping_smtp):
    inbox = dropping_smtp(drop_at_rcpt=set(range(2, 100)))  # takes the first message, then never another
    emails(clinic_a, patient_a, 5)
    worker.drain()
    assert len(inbox.messages) == 1
    states = Counter(Message.objects.values_list("status", "dispatch"))
    assert states == {(Status.SUCCESS, Dispatch.HANDED_OFF): 1, (Status.PENDING, Dispatch.QUEUED): 4}


# --- Simulated carrier: one message of a batch refused -----------------------------------------------


def sms_of_two_clinics(clinic_a, clinic_b, patient_a, patient_b, n=50, *, odd_one=None):
    made = []
    for i in range(n):
        clinic, patient = (clinic_a, patient_a) if i % 2 else (clinic_b, patient_b)
        if i == odd_one:
            made.append(message_send(clinic=clinic, channel="sms", recipient="+61491570199", body=f"Reminder {i}"))
        else:
            made.append(message_send(clinic=clinic, patient=patient, channel="sms", body=f"Reminder {i}"))
    return made


@pytest.mark.parametrize("strict", [False, True], ids=["per-message-error", "whole-request-400"])
def test_a_carrier_refusing_one_message_fails_only_that_one(
    clinic_a, clinic_b, patient_a, patient_b, sim_settings, strict
):
    config = CarrierConfig(secret=SIM_SECRET, send_reports=False, reject_to=("+61491570199",), strict=strict)
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        made = sms_of_two_clinics(clinic_a, clinic_b, patient_a, patient_b, odd_one=23)
        drain_until_settled()

        refused = Message.objects.get(pk=made[23].pk)
        assert (refused.status, refused.dispatch, refused.attempts) == (Status.FAILED, Dispatch.DONE, 1)
        assert refused.status_detail == "Rejected by the provider: invalid destination number"
        others = Message.objects.exclude(pk=refused.pk)
        assert set(others.values_list("status", flat=True)) == {Status.SENDING}
        assert {str(m.send_key) for m in others} == set(carrier.sink)
        accepted = Counter(carrier.receipts)
        assert len(carrier.sink) == 49 and all(accepted[ref] == 1 for ref in carrier.sink)
        assert str(refused.send_key) in carrier.rejected
        assert_ledger(expected=50, carrier=carrier)


def test_content_the_carrier_refuses_fails_alone(clinic_a, patient_a, sim_settings):
    config = CarrierConfig(secret=SIM_SECRET, send_reports=False, reject_text=("WIN A PRIZE",), strict=True)
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        spam = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="WIN A PRIZE now")
        fine = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you Tuesday")
        worker.drain()
        spam.refresh_from_db()
        fine.refresh_from_db()
        assert spam.status_detail == "Rejected by the provider: content rejected by the carrier's filter"
        assert fine.status == Status.SENDING and list(carrier.sink) == [str(fine.send_key)]


# --- A provider that raises part-way ------------------------------------------------------------------


class HandsOverThenBreaks(SimulatedCarrier):
    """Hands the first `n` messages to the carrier, then fails with a bug before answering at all."""

    def __init__(self, n):
        self.n = n

    def send_batch(self, messages):
        list(super().send_batch(messages[: self.n]))  # the carrier has these now
        raise RuntimeError("a provider bug")


class AnswersThenBreaks(SimulatedCarrier):
    """Answers for the first `n` messages as it goes, then fails with a bug."""

    def __init__(self, n):
        self.n = n

    def send_batch(self, messages):
        yield from super().send_batch(messages[: self.n])
        raise RuntimeError("a provider bug")


@pytest.mark.parametrize("faulty", [HandsOverThenBreaks, AnswersThenBreaks])
@pytest.mark.django_db(transaction=True)
def test_a_provider_raising_mid_batch_never_sends_anything_twice(
    clinic_a, clinic_b, patient_a, patient_b, carrier, monkeypatch, settings, faulty
):
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    sms_of_two_clinics(clinic_a, clinic_b, patient_a, patient_b, n=10)
    calls = []

    def provider_for(channel):
        calls.append(channel)
        return faulty(4) if len(calls) == 1 else providers.provider_for(channel)

    monkeypatch.setattr(worker, "provider_for", provider_for)
    worker.drain()  # the first batch meets the bug
    assert len(carrier.sink) == 4
    assert not Message.objects.filter(dispatch=Dispatch.QUEUED).exists(), "nothing is queued to be sent again"

    drain_until_settled(3)  # recovery asks the carrier: what it has is accepted, the rest goes once
    assert Counter(carrier.receipts) == Counter(set(carrier.receipts)), "nothing sent twice"
    assert len(carrier.sink) == 10
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENDING}
    assert_ledger(expected=10, carrier=carrier)


@pytest.mark.django_db(transaction=True)
def test_an_email_provider_bug_after_the_server_took_one_message_touches_only_that_one(
    clinic_a, patient_a, smtp_server, monkeypatch, settings
):
    """The mail server took message 3, then something in our stack raised: 3 is unknown (never resent),
    1, 2, 4 and 5 are delivered once."""
    from django.core.mail.backends.smtp import EmailBackend

    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    made = emails(clinic_a, patient_a, 5)
    original = EmailBackend.send_messages

    def send_messages(self, email_messages):
        sent = original(self, email_messages)
        if email_messages[0].subject == "Note 2":
            raise RuntimeError("a bug after the hand-over")
        return sent

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    drain_until_settled(3)
    assert len(smtp_server.messages) == 5 and set(delivered_keys(smtp_server).values()) == {1}
    unknown = Message.objects.get(pk=made[2].pk)
    assert (unknown.status, unknown.dispatch) == (Status.FAILED, Dispatch.DONE)
    assert "not resent automatically" in unknown.status_detail
    assert Message.objects.filter(status=Status.SUCCESS).count() == 4
    assert_ledger(expected=5)


def test_an_smtp_refusal_of_one_recipient_is_final_and_the_rest_go(
    clinic_a, clinic_b, patient_a, patient_b, smtp_server
):
    smtp_server.refuse.add("ada@example.com")
    smtp_server.busy.add("grace@example.com")
    refused = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    busy = message_send(clinic=clinic_b, patient=patient_b, channel="email", subject="Hi", body="Hello")
    other = message_send(clinic=clinic_a, channel="email", recipient="someone@example.com", subject="Hi", body="x")
    worker.drain()
    states = {m.pk: (m.status, m.dispatch) for m in Message.objects.all()}
    assert states == {
        refused.pk: (Status.FAILED, Dispatch.DONE),
        busy.pk: (Status.PENDING, Dispatch.QUEUED),
        other.pk: (Status.SUCCESS, Dispatch.HANDED_OFF),
    }
    assert Message.objects.get(pk=busy.pk).status_detail.startswith("Temporary problem, will retry: mail server")


def test_smtp_errors_are_classified_per_message():
    """A refusal with a code proves the server did not take the message; 421 also means it hung up."""
    refusal = providers.smtp_refusal
    assert refusal(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")})) == ("rejected", 550, False)
    assert refusal(smtplib.SMTPRecipientsRefused({"a@b": (421, b"bye")})) == ("deferred", 421, True)
    assert refusal(smtplib.SMTPSenderRefused(421, b"bye", "a@b")) == ("deferred", 421, True)
    assert refusal(smtplib.SMTPDataError(552, b"too big")) == ("rejected", 552, False)
    assert refusal(smtplib.SMTPDataError(451, b"later")) == ("deferred", 451, False)


@pytest.mark.django_db(transaction=True)
def test_a_carrier_that_cannot_be_asked_during_recovery_does_not_stop_the_lane(
    clinic_a, patient_a, carrier, smtp_server, monkeypatch, settings
):
    """SMS left unknown wait for the carrier to answer a lookup; the email queued meanwhile goes out."""
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Reminder")
    monkeypatch.setattr(worker, "provider_for", lambda channel: HandsOverThenBreaks(0))
    worker.drain()  # the SMS is left unknown
    monkeypatch.setattr(worker, "provider_for", providers.provider_for)
    settings.SIMCARRIER_URL = "http://127.0.0.1:9"  # the carrier is down: lookups fail
    email = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")

    worker.drain()
    assert Message.objects.get(pk=email.pk).status == Status.SUCCESS
    assert Message.objects.get(channel="sms").dispatch == Dispatch.HANDING_OFF  # asked again next time

    settings.SIMCARRIER_URL = carrier.url
    worker.drain()
    assert Message.objects.get(channel="sms").status == Status.SENDING and len(carrier.sink) == 1
    assert_ledger(expected=2, carrier=None)


@pytest.mark.django_db(transaction=True)
def test_an_esp_refusing_one_message_and_failing_another_touches_only_those(
    clinic_a, patient_a, settings, monkeypatch, mailoutbox
):
    """Through django-anymail (its test backend): a refused recipient fails alone, an API error that may
    have come after the ESP took the message leaves that one unknown (never resent), the rest are sent."""
    from anymail.exceptions import AnymailAPIError
    from anymail.message import AnymailRecipientStatus

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    emails(clinic_a, patient_a, 4)
    answers = {
        "Note 1": {"recipient_status": {"ada@example.com": AnymailRecipientStatus("esp-1", "rejected")}},
        "Note 2": AnymailAPIError("the ESP answered something we cannot read"),
    }
    build = providers.EmailProvider._email

    def with_answer(self, m):
        email = build(self, m)
        if m.subject in answers:
            email.anymail_test_response = answers[m.subject]
        return email

    monkeypatch.setattr(providers.EmailProvider, "_email", with_answer)
    drain_until_settled(3)
    states = {m.subject: (m.status, m.status_detail) for m in Message.objects.all()}
    assert states["Note 1"] == (Status.FAILED, "Rejected by the provider: the email service refused the recipient")
    assert states["Note 2"][0] == Status.FAILED and "not resent automatically" in states["Note 2"][1]
    assert {states["Note 0"][0], states["Note 3"][0]} == {Status.SUCCESS}
    handed = Counter(str(e.extra_headers["X-Kalix-Send-Key"]) for e in mailoutbox)
    assert set(handed.values()) == {1} and len(handed) == 4, "each handed to the ESP once"
    assert_ledger(expected=4)
