"""What every fault test checks afterwards: nothing lost, nothing sent twice, every status true."""

import os
from collections import Counter

from django.db import connection

from messaging.models import DeliveryEvent, Dispatch, Message
from messaging.status import derive
from tests.support.processes import ROOT


def assert_ledger(*, expected: int, carrier=None, final: set[str] | None = None) -> None:
    """`expected` messages exist; none is left mid-pipeline; the carrier (if given) got each exactly
    once; every stored status is what messaging.status.derive computes from the message's events."""
    messages = list(Message.objects.all())
    assert len(messages) == expected, f"{expected - len(messages)} messages lost"
    stuck = [m.pk for m in messages if m.dispatch in (Dispatch.QUEUED, Dispatch.HANDING_OFF)]
    assert not stuck, f"{len(stuck)} messages never left the pipeline"
    if carrier is not None:
        twice = [ref for ref, n in Counter(carrier.receipts).items() if n > 1]
        assert not twice, f"{len(twice)} messages sent twice"
        answered = set(carrier.sink) | set(getattr(carrier, "rejected", {}))  # accepted, or refused with a reason
        # Every message given a send key reached it; one never claimed (cancelled, or withheld at the claim
        # because consent changed) has none and must not have.
        handed = {str(m.send_key) for m in messages if m.send_key is not None}
        assert handed <= answered, "a message never reached the carrier"
    events: dict[int, list] = {}
    for event in DeliveryEvent.objects.all():
        events.setdefault(event.message_id, []).append(event)
    wrong = [m.pk for m in messages if (m.status, m.status_detail) != _derived(events.get(m.pk, []))]
    assert not wrong, f"{len(wrong)} statuses disagree with their events"
    if final is not None:
        assert {m.status for m in messages} <= final, {m.status for m in messages}


def _derived(events) -> tuple[str, str]:
    d = derive(events)
    return d.status, d.detail


def embedded() -> bool:
    return not os.environ.get("DATABASE_URL") and os.environ.get("KALIX_FAULT_DB") != "terminate"


def restart_database() -> str:
    """Cut every session of the test database; returns which way it was done.

    On the embedded server we restart PostgreSQL itself (`pg_ctl restart -m fast`); an external server
    is not ours to restart, so there we terminate every backend of the test database instead.
    """
    if embedded():
        from kalix_site.embedded_db import restart

        restart(ROOT)
        connection.close()
        return "pg_ctl restart -m fast (embedded server)"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cursor.fetchone()
    connection.close()
    return "pg_terminate_backend on every session of the test database (external server)"
