"""Is a delivery report really from its provider, fresh, new, and about one of that provider's messages?

The webhooks (messaging.webhooks) ask before they store anything, so a forged, replayed or misdirected
report changes nothing: no inbox row, no event, no status.

- Signatures go through the one signer (kalix_site.signing): an empty key never verifies.
- The simulated carrier signs "<timestamp>.<body>" and sends the timestamp in X-Sim-Timestamp (as Stripe
  and Slack do); a timestamp further than WEBHOOK_REPLAY_WINDOW_MINUTES from our clock gets 403.
- A delivery already filed is answered 2xx again (so the sender stops retrying) and stores nothing: its
  receipt is inserted in the transaction that files its reports, so a concurrent copy waits on the
  receipt's key and then finds it. Receipts are kept for twice the window (a signed request verifies from
  its timestamp minus the window until its timestamp plus it), then purged by the safety-net drain.
- A report's own time must be plausible, else 400: not older than WEBHOOK_REPORT_MAX_AGE_HOURS, not later
  than now + WEBHOOK_CLOCK_SKEW_SECONDS, not before its message was created (less the same skew).
- A report naming one of our messages must come from the provider that message was handed to, else 400;
  messaging.inbox matches on the provider as well, however a report got into the inbox.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from kalix_site import signing
from kalix_site.sql import rows
from messaging.models import WebhookReceipt
from messaging.sql import CREATED_BY_PROVIDER_ID_SQL, FILE_DELIVERY_SQL, OWNERS_BY_KEY_SQL

SIM_SIGNATURE_HEADER = "X-Sim-Signature"
SIM_TIMESTAMP_HEADER = "X-Sim-Timestamp"


class Implausible(ValueError):
    """A report refused for what it says (400), as opposed to who sent it (403)."""


def replay_window_seconds() -> float:
    return settings.WEBHOOK_REPLAY_WINDOW_MINUTES * 60


# --- The simulated carrier's signature, both ways -------------------------------------------------------


def sim_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign a request to or from the simulated carrier."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        SIM_TIMESTAMP_HEADER: str(timestamp),
        SIM_SIGNATURE_HEADER: signing.sign_timestamped(secret, body, timestamp=timestamp),
    }


def sim_refusal(body: bytes, headers, secret: str | None, *, window_seconds: float) -> str | None:
    """Why a request in the simulated carrier's scheme is refused, or None when it is authentic and fresh.
    `headers` is anything with a case-insensitive .get (Django's request.headers, http.server's)."""
    return signing.verify_timestamped(
        secret,
        body,
        timestamp=headers.get(SIM_TIMESTAMP_HEADER),
        signature=headers.get(SIM_SIGNATURE_HEADER),
        window_seconds=window_seconds,
    )


# --- Receipts: the same delivery twice stores nothing ----------------------------------------------------


def file_delivery(provider: str, delivery: bytes | str, rows: list) -> bool:
    """File a delivery's reports (unsaved WebhookInbox rows) with its receipt, in one statement; False,
    and nothing written, if this delivery was filed before. Inside a transaction it is part of it."""
    if isinstance(delivery, str):
        delivery = delivery.encode()
    digest = hashlib.sha256(provider.encode() + b"\0" + delivery).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(FILE_DELIVERY_SQL, {"digest": digest, "rows": inbox_json(rows)})
        return cursor.rowcount > 0


def inbox_json(rows: list) -> str:
    """WebhookInbox rows as the JSON array FILE_DELIVERY_SQL reads (its column list, in its types)."""

    def stamp(value):
        return value.isoformat() if value else None

    return json.dumps(
        [
            {
                "provider": r.provider,
                "provider_message_id": r.provider_message_id,
                "send_key": str(r.send_key) if r.send_key else None,
                "event_id": r.event_id,
                "kind": r.kind,
                "occurred_at": stamp(r.occurred_at),
                "received_at": stamp(r.received_at),
                "detail": r.detail,
                "payload": r.payload,
                "parked_at": stamp(r.parked_at),
                "reason": r.reason,
            }
            for r in rows
        ],
        cls=DjangoJSONEncoder,
    )


def purge_receipts() -> int:
    """Drop receipts older than twice the replay window: a copy of their delivery is refused by its
    timestamp by now (or, without one, is harmless: the event id keeps a report from applying twice)."""
    cutoff = timezone.now() - timedelta(seconds=2 * replay_window_seconds())
    deleted, _ = WebhookReceipt.objects.filter(received_at__lt=cutoff).delete()
    return deleted


# --- Plausible reports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    send_key: UUID
    provider: str
    created_at: datetime


@dataclass(frozen=True)
class Created:
    provider_message_id: str
    created_at: datetime


@dataclass(frozen=True)
class Claim:
    """What a report says about itself: which message (by our send key or the provider's id), and when."""

    occurred_at: datetime
    send_key: UUID | None = None
    provider_message_id: str = ""


def check_reports(provider: str, claims: list[Claim], *, now: datetime) -> None:
    """Raise Implausible for the first implausible report (implausible_reports says which and why)."""
    reason = next((r for r in implausible_reports(provider, claims, now=now) if r), "")
    if reason:
        raise Implausible(reason)


def implausible_reports(provider: str, claims: list[Claim], *, now: datetime) -> list[str]:
    """For each report, why it is implausible ("" when it is not): dated absurdly, naming another
    provider's message, or dated before its message existed. At most two indexed lookups for a batch.
    Webhooks park the implausible ones with their reason and file the rest: one bad report must not
    make a carrier retry a whole POST forever."""
    skew = timedelta(seconds=settings.WEBHOOK_CLOCK_SKEW_SECONDS)
    oldest = now - timedelta(hours=settings.WEBHOOK_REPORT_MAX_AGE_HOURS)
    reasons = []
    for claim in claims:
        if claim.occurred_at > now + skew:
            reasons.append("report dated in the future")
        elif claim.occurred_at < oldest:
            reasons.append("report dated too long ago")
        else:
            reasons.append("")
    # Raw statements, and none for an empty set: this runs for every report POST, where building two
    # querysets cost more than the insert that files the report (the reports bench).
    keys = [str(k) for k in {c.send_key for c in claims if c.send_key}]
    ids = list({c.provider_message_id for c in claims if not c.send_key and c.provider_message_id})
    by_key, by_id = {}, {}
    with connection.cursor() as cursor:
        if keys:
            cursor.execute(OWNERS_BY_KEY_SQL, [keys])
            by_key = {r.send_key: (r.provider, r.created_at) for r in rows(cursor, Owner)}
        if ids:
            cursor.execute(CREATED_BY_PROVIDER_ID_SQL, [provider, ids])
            by_id = {r.provider_message_id: r.created_at for r in rows(cursor, Created)}
    for i, claim in enumerate(claims):
        if reasons[i]:
            continue
        if claim.send_key in by_key:
            owner, created_at = by_key[claim.send_key]
            # '' : claimed before the claim recorded the provider; the inbox's provider-bound match decides
            if owner and owner != provider:
                reasons[i] = "report for a message of another provider"
                continue
        elif claim.provider_message_id in by_id:
            created_at = by_id[claim.provider_message_id]
        else:
            continue  # not one of ours (yet): it waits in the inbox like any unmatched report
        if claim.occurred_at < created_at - skew:
            reasons[i] = "report dated before its message"
    return reasons
