"""Two recomputes of one message at once never leave a status older than its events.

A guard for the invariant "status = derive(events)" under concurrency: a recompute (single, range, or a
re-index chunk) that has to wait for a message's row lock must end with the status the committed events
give, not the one its statement saw when it started. Each case holds the lock in one thread (an event
inserted and recomputed, not yet committed), starts the other recompute so that it waits, then commits,
and checks the stored status against derive(events). (Written while chasing a one-off ledger mismatch in
the inbox flood test; PostgreSQL's re-check of the locked row gives the right answer here.)
"""

import threading

import pytest
from django.db import connection, connections, transaction

from lanes import registry
from lanes.models import ReindexJob
from messaging.events import NewEvent, insert_events, own_event_id
from messaging.models import DeliveryEvent, EventKind, Message, Status
from messaging.services import message_send
from messaging.status import derive, recompute_status, recompute_status_range
from tests.support.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def race(message: Message, second) -> None:
    """Thread A inserts a 'delivered' event and recomputes (holding the row lock) but does not commit yet;
    `second` (another recompute) starts and waits for that lock; then A commits."""
    locked, go, errors = threading.Event(), threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                insert_events([NewEvent(message.pk, EventKind.DELIVERED, "race:delivered", source="provider")])
                recompute_status([message.pk])
                locked.set()
                go.wait(10)
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def then():
        try:
            second()
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    a = threading.Thread(target=first)
    a.start()
    assert locked.wait(10)
    b = threading.Thread(target=then)
    b.start()
    wait_for(waiting_for_a_lock, timeout=10)
    go.set()
    a.join(10)
    b.join(10)
    assert not errors, errors


def assert_true_status(message: Message) -> None:
    message.refresh_from_db()
    derived = derive(DeliveryEvent.objects.filter(message=message))
    assert (message.status, message.status_detail) == (derived.status, derived.detail)
    assert message.status == Status.SUCCESS


@pytest.fixture
def sending(clinic_a, patient_a):
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Hi")
    insert_events([NewEvent(message.pk, EventKind.ACCEPTED, own_event_id(message.pk, "accepted"), source="worker")])
    recompute_status([message.pk])
    message.refresh_from_db()
    assert message.status == Status.SENDING
    return message


def own_event_then(recompute):
    """The waiting side has an event of its own (a 'sent' report racing a 'delivered' one): its recompute
    writes a status either way, so a stale snapshot would be written, not skipped as unchanged."""

    def second():
        with transaction.atomic():
            insert_events([NewEvent(sending_pk[0], EventKind.SENT, "race:sent", source="provider")])
            recompute()

    return second


sending_pk: list[int] = []


def test_a_recompute_with_its_own_event_that_waited_for_the_lock_sees_the_event_committed_meanwhile(sending):
    sending_pk[:] = [sending.pk]
    race(sending, own_event_then(lambda: recompute_status([sending.pk])))
    assert_true_status(sending)
    assert sending.status_detail == "Delivered"


def test_a_recorded_hand_off_that_waited_for_the_lock_keeps_the_delivery_committed_meanwhile(sending):
    """The worker recording an outcome (its own 'accepted', no "unchanged" guard) while a drain holds the
    message to apply a 'delivered' report: the status must stay Delivered, not go back to Sending."""
    from messaging import worker
    from messaging.providers import Outcome

    token = 42
    Message.objects.filter(pk=sending.pk).update(dispatch="handing_off", claim_token=token)
    claimed = [worker.Claimed(sending.pk, sending.clinic_id, "sms", sending.recipient, "", "Hi", "", None, 1, "", 100)]

    def record():
        worker.record_outcomes(
            token=token, claimed=claimed, outcomes=[Outcome(sending.pk, EventKind.ACCEPTED, "SIM1")], provider="sim"
        )

    race(sending, record)
    assert_true_status(sending)
    assert sending.status_detail == "Delivered"


def test_a_recompute_that_waited_for_the_lock_sees_the_event_committed_meanwhile(sending):
    race(sending, lambda: recompute_status([sending.pk]))
    assert_true_status(sending)


def test_a_range_recompute_that_waited_for_the_lock_sees_the_event_committed_meanwhile(sending):
    race(sending, lambda: recompute_status_range(sending.pk, sending.pk))
    assert_true_status(sending)


def test_a_reindex_chunk_that_waited_for_the_lock_sees_the_event_committed_meanwhile(sending):
    job = ReindexJob(scope="all", chunk_size=10)
    target = registry.reindex_target()

    def chunk():
        with transaction.atomic():
            target.recompute(job, sending.pk, sending.pk)

    race(sending, chunk)
    assert_true_status(sending)
