"""Delivery reports: accepted into the inbox in milliseconds, applied here in batches, set-based.

A report is matched to its message by our send key (which we give the provider with the message) or
else by the provider's message id, and only to a message of the provider that sent the report (the claim
records the provider, so a report arriving before the hand-off's outcome still matches): a send key is
no secret (an email carries it in a header), so it alone must never let one provider's report settle
another's message. Its event is inserted unless one with the same event id exists.
Reports that match no message yet stay in the inbox and are tried again until they expire.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from messaging import consent
from messaging.models import EventSource, WebhookInbox
from messaging.status import recompute_status

APPLY_SQL = """
    WITH batch AS (
        SELECT id FROM messaging_webhookinbox ORDER BY tries, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
    ),
    matched AS (
        SELECT i.id AS inbox_id, i.kind, i.occurred_at, i.received_at, i.event_id, i.detail, i.payload,
               coalesce(
                   (SELECT m.id FROM messaging_message m WHERE m.send_key = i.send_key AND m.provider = i.provider),
                   (SELECT m.id FROM messaging_message m
                     WHERE i.provider_message_id <> '' AND m.provider = i.provider
                       AND m.provider_message_id = i.provider_message_id LIMIT 1)
               ) AS message_id
          FROM messaging_webhookinbox i JOIN batch ON batch.id = i.id
    ),
    inserted AS (
        INSERT INTO messaging_deliveryevent
               (message_id, kind, occurred_at, received_at, source, event_id, detail, payload)
        SELECT message_id, kind, occurred_at, received_at, %(source)s, event_id, detail, payload
          FROM matched WHERE message_id IS NOT NULL
        ON CONFLICT (event_id) DO NOTHING
    ),
    applied AS (
        DELETE FROM messaging_webhookinbox WHERE id IN (SELECT inbox_id FROM matched WHERE message_id IS NOT NULL)
    ),
    waiting AS (
        UPDATE messaging_webhookinbox SET tries = tries + 1
         WHERE id IN (SELECT inbox_id FROM matched WHERE message_id IS NULL)
    )
    SELECT message_id FROM matched WHERE message_id IS NOT NULL
"""


def apply_batch(limit: int | None = None) -> int:
    """Apply up to `limit` waiting reports (fresh ones first); returns how many matched a message."""
    limit = limit or settings.MESSAGING_BATCH_SIZE * 4
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(APPLY_SQL, {"limit": limit, "source": EventSource.PROVIDER})
        message_ids = [row[0] for row in cursor.fetchall()]
        recompute_status(sorted(set(message_ids)))
        consent.after_reports_applied(set(message_ids))  # complaints, unsubscribes, bounces: by address
    return len(message_ids)


def expire_unmatched() -> int:
    """Drop reports that never matched a message within MESSAGING_INBOX_MAX_AGE_SECONDS."""
    cutoff = timezone.now() - timedelta(seconds=settings.MESSAGING_INBOX_MAX_AGE_SECONDS)
    deleted, _ = WebhookInbox.objects.filter(received_at__lt=cutoff).delete()
    return deleted
