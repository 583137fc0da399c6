"""One table for what every delivery event means: its name, its precedence, the staff status it gives,
the words of that status, and the words of its timeline line.

Everything else reads this table: `EventKind` (the model choices) is built from it, messaging.status
derives statuses from its ranks, messaging.timeline words its lines, messaging.selectors orders
same-instant events by its ranks. Adding a kind is one row here (and a migration for the choices).

Ascending precedence. A later event of lower rank never overrides a higher one: a late 'sent' cannot
undo 'delivered' or a failure, and a bounce after 'delivered' is a failure. docs/messaging.md explains
the order.
"""

from dataclasses import dataclass

from django.db import models


class Status(models.TextChoices):
    """What staff see; derived from the events by messaging.status, never set by hand."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


@dataclass(frozen=True)
class Kind:
    label: str  # the event's name (admin, API choices)
    rank: int  # precedence: the status is the one of the highest-ranked event
    status: str  # the staff status it gives
    status_words: str  # the status detail ("Sending · Handed to carrier, waiting for delivery report")
    timeline_words: str  # its line on the message's timeline


KINDS: dict[str, Kind] = {
    "held": Kind("Held", 10, Status.PENDING, "Waiting for the patient's opt-in", "Held until the patient opts in"),
    "queued": Kind("Queued", 20, Status.PENDING, "Queued", "Queued for sending"),
    # Same rank: the later wins. A temporary problem supersedes the hand-off it ended, and the next
    # attempt's hand-off supersedes the temporary problem.
    "deferred": Kind(
        "Deferred", 40, Status.PENDING, "Temporary problem, will retry", "Could not be handed over; will try again"
    ),
    "handed_off": Kind(
        "Handed to provider",
        40,
        Status.SENDING,
        "Handing to carrier, not yet accepted",
        "Being handed to the carrier",
    ),
    "interrupted": Kind(
        "Hand-off interrupted",
        45,
        Status.FAILED,
        "Hand-off interrupted; not resent automatically",
        "Hand-off was interrupted; not sent again automatically",
    ),
    "accepted": Kind(
        "Accepted", 50, Status.SENDING, "Handed to carrier, waiting for delivery report", "Carrier accepted it"
    ),
    "sent": Kind("Sent", 60, Status.SUCCESS, "Sent; delivery not confirmed yet", "Sent"),
    "delivered": Kind("Delivered", 70, Status.SUCCESS, "Delivered", "Delivered"),
    "opened": Kind("Opened", 75, Status.SUCCESS, "Delivered and opened", "Opened"),
    # The recipient's answer to a delivered email (anymail's event types); they also opt the address out.
    # A complaint or an unsubscribe proves delivery, and staff must see it before writing again.
    "complained": Kind(
        "Reported as spam",
        76,
        Status.SUCCESS,
        "Delivered; the recipient reported it as spam",
        "Reported as spam by the recipient; no more email to this address",
    ),
    "unsubscribed": Kind(
        "Unsubscribed",
        77,
        Status.SUCCESS,
        "Delivered; the recipient unsubscribed",
        "The recipient unsubscribed; no more email to this address",
    ),
    # Only possible before hand-off, so no provider event can follow either.
    "cancelled": Kind("Cancelled", 80, Status.CANCELLED, "Cancelled by staff", "Cancelled"),
    # Not handed off after all: consent changed between queueing and hand-off (messaging.worker).
    "withheld": Kind("Withheld", 80, Status.CANCELLED, "Not sent", "Not sent: consent changed after it was queued"),
    "bounced": Kind("Bounced", 90, Status.FAILED, "Bounced", "Bounced back"),
    "rejected": Kind("Rejected", 90, Status.FAILED, "Rejected by the provider", "Refused"),
    "failed": Kind("Failed", 90, Status.FAILED, "Failed", "Failed"),
    "undelivered": Kind("Undelivered", 90, Status.FAILED, "Carrier could not deliver", "Could not be delivered"),
}

# A message without any event yet: its status, status words and time.
NO_EVENTS = (Status.PENDING, "Not queued yet", None)

# The model choices, in the table's order of declaration (modelled on django-anymail's event types and
# Twilio's message statuses).
EventKind = models.TextChoices("EventKind", [(value.upper(), (value, kind.label)) for value, kind in KINDS.items()])


# --- Staff words: what a receptionist reads (the precise names above stay in the timeline's detail) ---

# Who an event came from, in staff words (EventSource's labels are the precise ones).
SOURCE_WORDS = {"system": "Kalix", "staff": "Staff", "worker": "Kalix", "provider": "Delivery report"}

# Where a channel needs other words than the table's: email has no carrier, an email service instead.
CHANNEL_TIMELINE_WORDS = {
    ("handed_off", "email"): "Being sent to the email service",
    ("accepted", "email"): "The email service accepted it",
    ("undelivered", "email"): "Could not be delivered",
}
CHANNEL_STATUS_WORDS = {
    ("handed_off", "email"): "Being sent",
    ("accepted", "email"): "Accepted by the email service; delivery not confirmed yet",
}
REFERENCE_WORDS = {"email": "Email reference", "sms": "Carrier reference", "fax": "Carrier reference"}
ATTEMPTS_WORDS = "Send attempts"
SENT_NOT_CONFIRMED = "sent"  # the kind whose Success is not shown green: nobody confirmed delivery


def timeline_words(kind: str, channel: str) -> str:
    return CHANNEL_TIMELINE_WORDS.get((kind, channel), KINDS[kind].timeline_words)


@dataclass(frozen=True)
class StaffStatus:
    css: str  # the badge's class: the status, or "sent" for a Success nobody has confirmed
    label: str
    detail: str


def staff_status(*, channel: str, status: str, detail: str) -> StaffStatus:
    """A message's status in staff words. The stored detail starts with its top kind's status words
    (messaging.sql derives it), so the kind is read back from there."""
    kind = next((k for k, v in KINDS.items() if v.status == status and detail.startswith(v.status_words)), None)
    if kind is not None and (kind, channel) in CHANNEL_STATUS_WORDS:
        detail = CHANNEL_STATUS_WORDS[(kind, channel)] + detail[len(KINDS[kind].status_words) :]
    if kind == SENT_NOT_CONFIRMED:
        return StaffStatus("sent", "Sent", detail)
    return StaffStatus(status, Status(status).label if status in Status.values else status, detail)
