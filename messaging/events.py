"""Appending to the event log: set-based, and a repeated event (same event_id) is ignored."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from messaging.models import EventSource
from messaging.sql import INSERT_EVENTS_SQL
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


def insert_events(events: Iterable[NewEvent]) -> set[int]:
    """One INSERT for all the events; those whose event_id is already stored are skipped."""
    events = list(events)
    if not events:
        return set()
    now = timezone.now()
    columns = (
        [e.message_id for e in events],
        [str(e.kind) for e in events],
        [e.event_id for e in events],
        [e.occurred_at or now for e in events],
        [str(e.source) for e in events],
        [e.detail[:200] for e in events],
        [json.dumps(e.payload) for e in events],
    )
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENTS_SQL, [now, *columns])
    return {e.message_id for e in events}


def record_events(events: Iterable[NewEvent], *, search: bool = False) -> set[int]:
    """Insert the events and re-derive the status of every message they touch; returns those ids."""
    touched = insert_events(events)
    recompute_status(sorted(touched), search=search)
    return touched


def own_event_id(message_id: int, kind: str, attempt: int = 0) -> str:
    """Event ids for what we do ourselves: stable, so recording the same step twice stores it once."""
    return f"kalix:{message_id}:{attempt}:{kind}"
