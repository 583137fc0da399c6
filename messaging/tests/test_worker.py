"""The live-lane worker: batches, at-most-once hand-off, retries, recovery after a worker died."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from messaging import worker
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db


def send_sms(clinic, patient, n=1):
    return [message_send(clinic=clinic, patient=patient, channel="sms", body=f"Reminder {i}") for i in range(n)]


def test_a_drain_hands_queued_messages_to_the_carrier_in_one_batch(clinic_a, patient_a, carrier):
    messages = send_sms(clinic_a, patient_a, 5)
    result = worker.drain()
    assert result["messages"] == 5
    assert len(carrier.receipts) == 5
    for message in messages:
        message.refresh_from_db()
        assert (message.status, message.dispatch, message.provider) == (Status.SENDING, Dispatch.HANDED_OFF, "sim")
        assert message.status_detail == "Handed to carrier, waiting for delivery report"
        assert message.provider_message_id == carrier.sink[str(message.send_key)].carrier_id


def test_through_a_per_message_api_a_claim_is_small_so_a_new_message_is_never_behind_a_long_batch(
    clinic_a, patient_a, carrier, settings
):
    settings.MESSAGING_BATCH_SIZE, settings.MESSAGING_PER_MESSAGE_BATCH_SIZE = 500, 4
    send_sms(clinic_a, patient_a, 10)
    assert worker.send_batch() == 4  # one claim of the per-message size, not of 500
    settings.MESSAGING_SMS_PROVIDER = settings.MESSAGING_FAX_PROVIDER = "simbatch"  # one request per batch
    assert worker.claim_size() == 500


def test_claims_follow_priority_then_id_and_a_claimed_message_is_not_claimed_again(clinic_a, patient_a, carrier):
    low, urgent, normal = send_sms(clinic_a, patient_a, 3)
    Message.objects.filter(pk=urgent.pk).update(priority=10)
    token, claimed = worker.claim_batch(limit=2)
    try:
        assert [c.id for c in claimed] == [urgent.pk, low.pk]
        _, again = worker.claim_batch(limit=10)
        assert [c.id for c in again] == [normal.pk]
        worker.release_claim(_)
    finally:
        worker.release_claim(token)
    assert Message.objects.get(pk=urgent.pk).send_key is not None


def test_a_claimed_message_shows_sending_not_yet_accepted(clinic_a, patient_a, carrier):
    (message,) = send_sms(clinic_a, patient_a)
    token, _ = worker.claim_batch()
    try:
        message.refresh_from_db()
        assert (message.status, message.dispatch) == (Status.SENDING, Dispatch.HANDING_OFF)
        assert message.status_detail == "Handing to carrier, not yet accepted"
    finally:
        worker.release_claim(token)


def test_a_second_drain_never_resends(clinic_a, patient_a, carrier):
    send_sms(clinic_a, patient_a, 3)
    worker.drain()
    worker.drain()
    assert len(carrier.receipts) == 3


def test_a_temporary_problem_is_retried_with_exponential_backoff(clinic_a, patient_a, sim_settings):
    sim_settings.SIMCARRIER_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    sim_settings.MESSAGING_RETRY_BASE_SECONDS = 30
    (message,) = send_sms(clinic_a, patient_a)
    before = timezone.now()
    worker.drain()
    message.refresh_from_db()
    assert (message.status, message.dispatch, message.attempts) == (Status.PENDING, Dispatch.QUEUED, 1)
    assert message.status_detail.startswith("Temporary problem, will retry: carrier unavailable")
    assert 29 <= (message.next_attempt_at - before).total_seconds() <= 31

    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    worker.drain()
    message.refresh_from_db()
    assert message.attempts == 2
    assert 59 <= (message.next_attempt_at - timezone.now()).total_seconds() <= 61


def test_retries_stop_at_the_limit_and_the_failure_is_final(clinic_a, patient_a, sim_settings):
    sim_settings.SIMCARRIER_URL = "http://127.0.0.1:9"
    sim_settings.MESSAGING_MAX_ATTEMPTS = 2
    (message,) = send_sms(clinic_a, patient_a)
    for _ in range(3):
        Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        worker.drain()
    message.refresh_from_db()
    assert (message.status, message.dispatch, message.attempts) == (Status.FAILED, Dispatch.DONE, 2)
    assert "gave up after 2 attempts" in message.status_detail


def test_a_real_email_reaches_an_smtp_server_on_loopback(clinic_a, patient_a, smtp_server):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Your results", body="Ready.")
    worker.drain()
    (envelope,) = smtp_server.messages
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert envelope.mail_from == "alpha@clinic.example"
    assert b"Subject: Your results" in envelope.content
    message.refresh_from_db()
    assert (message.status, message.status_detail) == (Status.SUCCESS, "Sent; delivery not confirmed yet")
    assert message.provider_message_id.encode() in envelope.content


def test_a_batch_goes_over_a_small_pool_of_smtp_connections(clinic_a, patient_a, smtp_server, monkeypatch, settings):
    import smtplib

    from django.core.mail.backends.smtp import EmailBackend

    opened = []

    class CountingSMTP(smtplib.SMTP):
        def connect(self, *args, **kwargs):
            opened.append(1)
            return super().connect(*args, **kwargs)

    monkeypatch.setattr(EmailBackend, "connection_class", property(lambda self: CountingSMTP))
    settings.MESSAGING_SMTP_CONNECTIONS = 3
    for i in range(12):
        message_send(clinic=clinic_a, patient=patient_a, channel="email", subject=f"Note {i}", body="Hi")
    worker.drain()
    assert len(smtp_server.messages) == 12
    assert len(opened) == 3, "one connection per share of the batch, not one per message"


def test_a_refused_recipient_is_a_final_failure(clinic_a, patient_a, smtp_server):
    smtp_server.refuse.add("ada@example.com")
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    worker.drain()
    message.refresh_from_db()
    assert (message.status, message.dispatch) == (Status.FAILED, Dispatch.DONE)
    assert message.status_detail == "Rejected by the provider: recipient refused by the mail server"


def claim_in_a_worker_that_dies(limit=10):
    """Claim a batch on another database connection, then drop that connection as a killed process would."""
    result = {}

    def run():
        result["token"], result["claimed"] = worker.claim_batch(limit=limit)
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            result["pid"] = cursor.fetchone()[0]
        connections["default"].close()  # the session (and its advisory lock) ends without an unlock

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()

    def backend_gone():  # the server ends the session a moment after the client hangs up
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [result["pid"]])
            return cursor.fetchone()[0] == 0

    wait_for(backend_gone, timeout=10, interval=0.02, message="the dead worker's session to end")
    return result["claimed"]


@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_batch_is_settled_by_asking_the_carrier(clinic_a, patient_a, carrier, settings):
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    send_sms(clinic_a, patient_a, 4)
    claimed = claim_in_a_worker_that_dies()
    carrier.receive([{"ref": str(c.send_key), "to": c.recipient} for c in claimed[:2]])  # it got two of them

    assert worker.recover_interrupted() == 4
    states = dict(Message.objects.values_list("send_key", "dispatch"))
    assert [states[c.send_key] for c in claimed[:2]] == [Dispatch.HANDED_OFF] * 2
    assert all(Message.objects.get(pk=c.id).dispatch == Dispatch.QUEUED for c in claimed[2:])
    worker.drain()
    assert sorted(carrier.receipts) == sorted(set(carrier.receipts))
    assert len(carrier.sink) == 4
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENDING}


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_batch_is_left_alone(clinic_a, patient_a, carrier, settings):
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    send_sms(clinic_a, patient_a, 2)
    token, claimed = worker.claim_batch()
    try:
        other = threading.Thread(target=lambda: (worker.recover_interrupted(), connection.close()))
        other.start()
        other.join()
        assert set(Message.objects.values_list("dispatch", flat=True)) == {Dispatch.HANDING_OFF}
    finally:
        worker.release_claim(token)


@pytest.mark.django_db(transaction=True)
def test_an_email_interrupted_mid_hand_off_is_marked_not_resent(clinic_a, patient_a, smtp_server, settings):
    settings.MESSAGING_RECOVERY_GRACE_SECONDS = 0
    message = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Hi", body="Hello")
    claim_in_a_worker_that_dies()
    worker.drain()
    message.refresh_from_db()
    assert (message.status, message.dispatch) == (Status.FAILED, Dispatch.DONE)
    assert message.status_detail == "Hand-off interrupted; not resent automatically: worker stopped during hand-off"
    assert smtp_server.messages == []


class FakeTime:
    """The drain's clock: sleeping moves it on, nothing else does (the passes are stubs)."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_a_trickle_is_gathered_between_passes_and_a_full_batch_goes_on_at_once(monkeypatch, settings):
    """The reports bench's finding: reports posted one a request made the drain spin, a pass of fixed
    cost (a transaction, the claim, the status re-derivation) per report or two, keeping a core busy beside
    the web processes. A pass that found less than a batch waits MESSAGING_DRAIN_LINGER_MS; a full one not."""
    from messaging import inbox

    settings.MESSAGING_DRAIN_LINGER_MS = 50
    passes = iter([3, 1, inbox.batch_size(), 2, 0])
    monkeypatch.setattr(inbox, "apply_due", lambda: inbox.Applied(matched=0, picked=next(passes)))
    monkeypatch.setattr(worker, "send_batch", lambda lane: 0)
    monkeypatch.setattr(worker, "recover_interrupted", lambda: 0)
    clock = FakeTime()
    monkeypatch.setattr(worker, "time", clock)

    worker.drain()

    # after 3, after 1, none after the full batch, after 2; then nothing was found and the drain returned
    assert clock.slept == [0.05, 0.05, 0.05]


def test_a_never_ending_trickle_hands_the_worker_over_after_the_linger_budget(monkeypatch, settings):
    """The incident bench's finding with the per-message carrier: a steady trickle kept both live workers
    in drains for their whole time budget, and a billing batch build waited seconds for a worker."""
    from messaging import inbox

    settings.MESSAGING_DRAIN_LINGER_MS = 50
    settings.MESSAGING_DRAIN_LINGER_BUDGET_MS = 120
    monkeypatch.setattr(inbox, "apply_due", lambda: inbox.Applied(matched=1, picked=1))  # never ends
    monkeypatch.setattr(worker, "send_batch", lambda lane: 0)
    monkeypatch.setattr(worker, "recover_interrupted", lambda: 0)
    monkeypatch.setattr(worker, "time", FakeTime())
    poked = []
    monkeypatch.setattr(worker, "poke", lambda func, **kw: poked.append((func, kw)))

    done = worker.drain()

    assert done["reports"] == 4  # three lingers (0.15 s >= 0.12 s run), then the fourth small pass hands over
    assert poked == [(worker.DRAIN, {"lane": "live"})]


def test_one_drain_gathers_a_trickle_at_a_time_and_another_leaves_its_worker_to_the_lane(monkeypatch, settings):
    """The incident bench's finding with the per-message carrier: both live workers lingered over the same
    trickle and a billing batch build waited for one. A second drain finding a trickle returns at once."""
    from django.db import connections

    from messaging import inbox

    settings.MESSAGING_DRAIN_LINGER_MS = 50
    monkeypatch.setattr(inbox, "apply_due", lambda: inbox.Applied(matched=1, picked=1))
    monkeypatch.setattr(worker, "send_batch", lambda lane: 0)
    monkeypatch.setattr(worker, "recover_interrupted", lambda: 0)
    clock = FakeTime()
    monkeypatch.setattr(worker, "time", clock)
    gathering = connections.create_connection("default")  # the drain on the other worker
    try:
        with gathering.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [worker.GATHER_LOCK])

        done = worker.drain()

        assert done["reports"] == 1 and clock.slept == []
    finally:
        gathering.close()
    # free again once the other drain is gone: the server ends that session (and drops its lock) a moment
    # after the client hangs up, so the first try right after close() can still find it held (seen in CI)
    wait_for(lambda: worker._gather_lock(take=True), timeout=10, interval=0.02, message="the gather lock freed")
    worker._gather_lock(take=False)
