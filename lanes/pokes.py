"""Pokes: the only tasks lanes send. A lane is a named django-q2 cluster with its own workers.

The durable queue is the domain rows (a pending Message, a requested BillingBatch, a ReindexJob);
a django-q2 task is only a poke that says "drain lane X now". Pokes are sent on commit and coalesced;
schedules send them too, so a lost poke delays nothing for long.
"""

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from kalix_site.sql import scalar
from lanes.models import WaitingPoke
from lanes.sql import MARK_WAITING_SQL, WAITING_SQL

LIVE = "live"
BULK = "bulk"


def poke(func: str, *, lane: str, resend_after: float | None = None, **kwargs) -> None:
    """Ask `lane` to run `func(**kwargs)` once the current transaction commits.

    Coalesced twice over. Within a transaction: by the callbacks Django still holds, so a rolled-back
    transaction (whose callbacks Django drops) never suppresses a later poke. Across transactions: by a
    WaitingPoke row, so while the same poke waits unstarted in the broker no other is sent; the task
    deletes the row as it starts (run_poke). A row older than LANE_POKE_RESEND_SECONDS is sent again,
    in case its task was lost; the safety-net schedules cover the rest.

    `resend_after` (seconds) sends it again once the same poke has waited that long, sooner than
    LANE_POKE_RESEND_SECONDS: for a safety net that knows the work has been stalled that long, whose waiting
    poke is then likely stranded (prefetched by a worker that was killed; the broker hides such a task
    until its retry time, minutes away). A duplicate must be harmless to the poked function.
    """
    connection = transaction.get_connection()
    key = (func, lane, tuple(sorted(kwargs.items())))
    if connection.in_atomic_block and any(
        getattr(callback, "kalix_poke", None) == key for _, callback, _ in connection.run_on_commit
    ):
        return
    poke_key = f"{lane}:{func}" + "".join(f":{k}={v}" for k, v in key[2])

    def send():
        resend = settings.LANE_POKE_RESEND_SECONDS if resend_after is None else resend_after
        if not _mark_waiting(poke_key, lane, resend_after=resend):
            return  # the same poke waits in the broker already
        try:
            async_task(RUN_POKE, func, poke_key, cluster=lane, task_name=func[-100:], **kwargs)
        except Exception:
            WaitingPoke.objects.filter(key=poke_key).delete()  # not sent: the next commit tries again
            raise

    send.kalix_poke = key
    transaction.on_commit(send)


RUN_POKE = "lanes.pokes.run_poke"


def _mark_waiting(poke_key: str, lane: str, *, resend_after: float) -> bool:
    """Record that this poke is about to wait in the broker; False if it waits there already (sent less
    than `resend_after` seconds ago).

    A read first, since the poke usually waits already (a report POST pokes the live lane's drain every
    time): a row lock and a commit a request on one hot row cost more than the request's own insert.
    Reading after our commit is as safe as the upsert: while the row is there the task has not started
    (it deletes the row before it runs), so it will see what we committed."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(WAITING_SQL, [poke_key, resend_after])
        if scalar(cursor, "waiting"):
            return False
        cursor.execute(MARK_WAITING_SQL, [poke_key, lane, resend_after])
        return scalar(cursor, "waiting") is not None


def run_poke(func: str, poke_key: str, **kwargs):
    """What a poke's task runs: forget the waiting poke first (a commit from now on pokes again), then
    run `func`."""
    WaitingPoke.objects.filter(key=poke_key).delete()
    return import_string(func)(**kwargs)
