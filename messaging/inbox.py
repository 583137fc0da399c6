"""Delivery reports: accepted into the inbox in milliseconds, applied here in batches, set-based.

A report is matched to its message by our send key (which we give the provider with the message) or
else by the provider's message id, and only to a message of the provider that sent the report (the claim
records the provider, so a report arriving before the hand-off's outcome still matches): a send key is
no secret (an email carries it in a header), so it alone must never let one provider's report settle
another's message. Its event is inserted unless one with the same event id exists.

The inbox can never stop the lane. A report that cannot be applied (no message matches it yet) is
tried again after a backoff (kalix_site/backoff.py with the MESSAGING_INBOX_RETRY_* settings), at
most MESSAGING_INBOX_MAX_TRIES times, then parked with its reason; one that can never apply (nothing to
match by, an unknown kind) is parked at once. The pick takes only due, unparked rows (the partial index
inbox_due_idx), so parked and waiting reports cost nothing and never count as live-lane lag. `tries` is
capped at its column's maximum, so no state of the inbox can make the statement overflow; a row the
database refuses is parked with the error instead of failing its batch. Operators discard or re-apply
parked reports (reports_discard, reports_reapply: admin's Webhook inbox); the safety drain drops every
report older than MESSAGING_INBOX_MAX_AGE_SECONDS (expire_unmatched).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Least, Now
from django.utils import timezone

from kalix_site.backoff import backoff
from kalix_site.sql import fetch, scalars
from lanes.models import LaneAction
from lanes.pokes import LIVE, poke
from messaging import consent
from messaging.models import EventKind, EventSource, WebhookInbox
from messaging.sql import APPLY_SQL, DUE_SQL, InboxApplied
from messaging.status import recompute_status

log = logging.getLogger(__name__)

DRAIN = "messaging.worker.drain"
SMALLINT_MAX = 32_767  # WebhookInbox.tries is a smallint

NO_MATCH = "no message with this send key or provider message id"
NOTHING_TO_MATCH = "no send key or provider message id to match by"
UNKNOWN_KIND = "unknown event kind"


@dataclass(frozen=True)
class Applied:
    matched: int  # reports applied to a message (their events inserted, or already there)
    picked: int  # due reports tried, applied or not: the drain goes on while there are any


def _max_tries() -> int:
    # A setting beyond the column's range must not become an overflow: the bound is the column's.
    return min(max(settings.MESSAGING_INBOX_MAX_TRIES, 1), SMALLINT_MAX)


def retry_delays() -> list[float]:
    """Seconds to wait after try n (entry n-1), from the one backoff helper; past the last entry (the
    cap, or the last try before parking) the wait stays the same, so the list stays short."""
    base, cap = settings.MESSAGING_INBOX_RETRY_BASE_SECONDS, settings.MESSAGING_INBOX_RETRY_MAX_SECONDS
    delays: list[float] = []
    for tries in range(1, _max_tries() + 1):
        delays.append(backoff(tries, base=base, cap=cap).total_seconds())
        if delays[-1] >= cap or (len(delays) > 1 and delays[-1] <= delays[-2]):
            break
    return delays


def _params(limit: int) -> dict:
    return {
        "limit": limit,
        "source": EventSource.PROVIDER,
        "kinds": list(EventKind.values),
        "smallint_max": SMALLINT_MAX,
        "max_tries": _max_tries(),
        "delays": retry_delays(),
        "no_match": NO_MATCH,
        "nothing_to_match": NOTHING_TO_MATCH,
        "unknown_kind": UNKNOWN_KIND,
    }


def _run(cursor, params: dict, *, only: int | None = None) -> tuple[list[int], int]:
    due = DUE_SQL.format(only="" if only is None else "AND id = %(only)s")
    cursor.execute(APPLY_SQL.format(due=due), params if only is None else {**params, "only": only})
    applied = fetch(cursor, InboxApplied)
    return list(applied.message_ids), applied.picked


def batch_size() -> int:
    """Reports one pass of the drain takes at most."""
    return settings.MESSAGING_BATCH_SIZE * 4


def apply_due(limit: int | None = None) -> Applied:
    """Try up to `limit` due reports (oldest due first): apply those that match a message, put the
    others back to wait or park them, and re-derive the statuses, in one transaction. Never raises
    for what the inbox holds; a database in trouble (connection lost, deadlock) still raises."""
    params = _params(limit or batch_size())
    with transaction.atomic():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                message_ids, picked = _run(cursor, params)
        except (OperationalError, InterfaceError):
            raise  # not about a report: the drain fails and the next one tries again
        except DatabaseError:
            # A report the database refuses must not hold back the others in its batch.
            message_ids, picked = _apply_one_by_one(params)
        recompute_status(sorted(set(message_ids)))
        consent.after_reports_applied(set(message_ids))  # complaints, unsubscribes, bounces: by address
    return Applied(matched=len(message_ids), picked=picked)


def apply_batch(limit: int | None = None) -> int:
    """Apply up to `limit` due reports; returns how many matched a message."""
    return apply_due(limit).matched


def _apply_one_by_one(params: dict) -> tuple[list[int], int]:
    with connection.cursor() as cursor:
        cursor.execute(DUE_SQL.format(only=""), params)
        ids = scalars(cursor, "id")
    message_ids: list[int] = []
    for pk in ids:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                message_ids += _run(cursor, params, only=pk)[0]
        except (OperationalError, InterfaceError):
            raise
        except DatabaseError as exc:  # this row's content: park it with the error's class, never its text
            reason = f"could not be applied ({type(exc).__name__})"
            log.warning("delivery report %s parked: %s", pk, reason)
            WebhookInbox.objects.filter(pk=pk).update(
                tries=Least(F("tries") + 1, SMALLINT_MAX), parked_at=Now(), reason=reason
            )
    return message_ids, len(ids)


def expire_unmatched() -> int:
    """Drop reports, waiting or parked, that were tried and never matched a message within
    MESSAGING_INBOX_MAX_AGE_SECONDS. A report never tried (held back by a paused lane) is never dropped:
    it may well apply once the lane resumes."""
    cutoff = timezone.now() - timedelta(seconds=settings.MESSAGING_INBOX_MAX_AGE_SECONDS)
    deleted, _ = WebhookInbox.objects.filter(received_at__lt=cutoff, tries__gt=0).delete()
    return deleted


# --- What operators do with parked reports (admin: Webhook inbox) ------------------------------------


def parked_count() -> int:
    return WebhookInbox.objects.filter(parked_at__isnull=False).count()


def reports_discard(*, ids: list[int], actor=None) -> int:
    """Delete the parked reports among `ids` (a waiting one is left alone); returns how many."""
    with transaction.atomic():
        deleted, _ = WebhookInbox.objects.filter(pk__in=ids, parked_at__isnull=False).delete()
        _record(actor, "reports_discard", deleted, f"discarded {deleted} parked delivery report(s)")
    return deleted


def reports_reapply(*, ids: list[int], actor=None) -> int:
    """Put the parked reports among `ids` back as due now, tries reset, and poke the live drain;
    returns how many."""
    with transaction.atomic():
        moved = WebhookInbox.objects.filter(pk__in=ids, parked_at__isnull=False).update(
            parked_at=None, reason="", tries=0, next_attempt_at=Now()
        )
        _record(actor, "reports_reapply", moved, f"re-applying {moved} parked delivery report(s)")
        if moved:
            poke(DRAIN, lane=LIVE)
    return moved


def _record(actor, action: str, rows: int, detail: str) -> None:
    LaneAction.objects.create(lane=LIVE, action=action, actor=actor, rows=rows, detail=detail)
