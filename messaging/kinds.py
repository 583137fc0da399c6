"""What messaging puts on the lanes, registered from MessagingConfig.ready(): its work kinds on the live
lane (messages; delivery reports; reminders falling due) and on the bulk lane (bulk sends being
prepared), their schedules, and the re-index target (a message's
derived state: status and search document, recomputed from its events).

Messages honour every lane control: the claim reads pause, order and backlog share (messaging.sql.claim_batch_cte),
and operators move queued messages to the backlog or promote them. Delivery reports honour pause only:
they are applied in arrival order, whatever the lane's order.
"""

from datetime import datetime

from django.db import connection
from django.db.models import Count, Max, Min

from kalix_site.sql import scalar
from lanes import registry
from lanes.models import ReindexScope
from lanes.pokes import BULK, LIVE
from messaging import bulk, inbox, providers, reminders, worker
from messaging.models import DeliveryEvent, Dispatch, EventKind, EventSource, Message
from messaging.sql import SCOPE_COUNT_SQL, SCOPE_IDS_SQL, SCOPE_LOCK_SQL, recompute_sql, reindex_scope_sql

MESSAGES = "messages"
REPORTS = "delivery reports"
REMINDERS = "reminders"
BULK_SENDS = "bulk sends"


def register() -> None:
    registry.register_bucket_names(name="messaging", names=providers.bucket_names_in_use)
    registry.register_kind(
        lane=LIVE,
        kind=MESSAGES,
        depth=worker.pending_messages,
        backlog_depth=worker.backlog_messages,
        done_since=handed_off_since,
        queued=queued_messages,
        drainer=worker.DRAIN,
        honours=registry.CONTROLS,
    )
    registry.register_kind(
        lane=LIVE,
        kind=REPORTS,
        depth=worker.pending_reports,
        drainer=worker.DRAIN,
        honours=[registry.PAUSE],
        parked=inbox.parked_count,
        parked_url="admin:messaging_webhookinbox_changelist?state=parked",
    )
    registry.register_schedule(
        name="messaging: live-lane safety drain",
        lane=LIVE,
        func="messaging.worker.safety_drain",
        minutes="MESSAGING_SAFETY_DRAIN_MINUTES",
        safety_net_for=(MESSAGES, REPORTS),
    )
    registry.register_kind(
        lane=LIVE,
        kind=REMINDERS,
        depth=reminders.due_reminders,
        done_since=reminders.made_since,
        drainer=reminders.DRAIN,
        honours=[registry.PAUSE],
    )
    registry.register_schedule(
        name="messaging: reminders due",
        lane=LIVE,
        func=reminders.DRAIN,
        minutes="MESSAGING_REMINDER_MINUTES",
        safety_net_for=(REMINDERS,),
    )
    registry.register_kind(
        lane=BULK,
        kind=BULK_SENDS,
        depth=bulk.pending_jobs,
        drainer=bulk.DRAIN,
        honours=[registry.PAUSE],
    )
    registry.register_schedule(
        name="messaging: bulk sends",
        lane=BULK,
        func=bulk.DRAIN,
        minutes="MESSAGING_REMINDER_MINUTES",
        safety_net_for=(BULK_SENDS,),
    )
    registry.register_reindex_target(name=MESSAGES, bounds=reindex_bounds, recompute=reindex_recompute)


def queued_messages(lane: str):
    """The messages waiting in `lane`, as operators move them to the backlog or promote them."""
    return Message.objects.filter(lane=lane, dispatch=Dispatch.QUEUED)


def handed_off_since(since: datetime) -> int:
    """Every claim of a message by a live-lane worker appends one 'handed_off' worker event."""
    return DeliveryEvent.objects.filter(
        source=EventSource.WORKER, kind=EventKind.HANDED_OFF, received_at__gte=since
    ).count()


# --- The re-index target: messages by scope, recomputed one id range at a time ------------------------


def _scope_filter(job) -> dict:
    if job.scope == ReindexScope.CLINIC:
        return {"clinic_id": job.clinic_id}
    if job.scope == ReindexScope.CREATED:
        return {"created_at__gte": job.created_from, "created_at__lt": job.created_to}
    return {}


def reindex_bounds(job) -> tuple[int | None, int | None, int]:
    row = Message.objects.filter(**_scope_filter(job)).aggregate(first=Min("id"), last=Max("id"), n=Count("id"))
    return row["first"], row["last"], row["n"]


def reindex_recompute(job, first_id: int, last_id: int) -> tuple[int, int]:
    """Recompute the messages of `job`'s scope with ids in [first_id, last_id], set-based, in the caller's
    transaction; returns (messages in that range, messages whose derived state changed)."""
    where, params = reindex_scope_sql(job, first_id, last_id)
    with connection.cursor() as cursor:
        cursor.execute(SCOPE_COUNT_SQL.format(where=where), params)
        rows = scalar(cursor, "n")
        cursor.execute(SCOPE_LOCK_SQL.format(where=where), params)  # lock first: see messaging.sql.LOCK_IDS_SQL
        sql, sql_params = recompute_sql(
            SCOPE_IDS_SQL.format(where=where),
            params,
            search=True,
            event_range=(first_id, last_id),
        )
        cursor.execute(sql, sql_params)
        return rows, cursor.rowcount
