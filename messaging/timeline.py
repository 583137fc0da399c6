"""The event timeline in plain words, for staff."""

from dataclasses import dataclass
from datetime import datetime

from messaging.models import EventKind, EventSource

WORDS = {
    EventKind.HELD: "Held until the patient opts in",
    EventKind.QUEUED: "Queued for sending",
    EventKind.DEFERRED: "Could not be handed over; will try again",
    EventKind.HANDED_OFF: "Being handed to the carrier",
    EventKind.INTERRUPTED: "Hand-off was interrupted; not sent again automatically",
    EventKind.ACCEPTED: "Carrier accepted it",
    EventKind.SENT: "Sent",
    EventKind.DELIVERED: "Delivered",
    EventKind.OPENED: "Opened",
    EventKind.COMPLAINED: "Reported as spam by the recipient; no more email to this address",
    EventKind.UNSUBSCRIBED: "The recipient unsubscribed; no more email to this address",
    EventKind.CANCELLED: "Cancelled",
    EventKind.BOUNCED: "Bounced back",
    EventKind.REJECTED: "Refused",
    EventKind.FAILED: "Failed",
    EventKind.UNDELIVERED: "Could not be delivered",
}


@dataclass(frozen=True)
class Line:
    at: datetime
    words: str
    detail: str
    source: str


def timeline(events) -> list[Line]:
    return [Line(e.occurred_at, WORDS[e.kind], e.detail, EventSource(e.source).label) for e in events]
