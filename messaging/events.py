"""Appending to the event log: set-based, and a repeated event (same event_id) is ignored."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from messaging.models import DeliveryEvent, EventSource
from messaging.status import recompute_status


@dataclass(frozen=True)
class NewEvent:
    message_id: int
    kind: str
    event_id: str
    occurred_at: datetime | None = None
    source: str = EventSource.SYSTEM
    detail: str = ""
    payload: dict = field(default_factory=dict)


def record_events(events: Iterable[NewEvent], *, recompute: bool = True) -> set[int]:
    """Insert the events (duplicates of stored ones are skipped) and re-derive the status of every
    message they touch; returns those message ids."""
    now = timezone.now()
    rows = [
        DeliveryEvent(
            message_id=e.message_id,
            kind=e.kind,
            event_id=e.event_id,
            occurred_at=e.occurred_at or now,
            received_at=now,
            source=e.source,
            detail=e.detail[:200],
            payload=e.payload,
        )
        for e in events
    ]
    DeliveryEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    touched = {row.message_id for row in rows}
    if recompute:
        recompute_status(sorted(touched))
    return touched


def own_event_id(message_id: int, kind: str, attempt: int = 0) -> str:
    """Event ids for what we do ourselves: stable, so recording the same step twice stores it once."""
    return f"kalix:{message_id}:{attempt}:{kind}"
