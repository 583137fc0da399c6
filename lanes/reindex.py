"""Re-index jobs: recompute derived state (for messages: status and search document, from their events).

The machinery is here: the job and its chunks, checkpoints, throttle, pause, ETA, and yielding to the
live lane. What is recomputed is the registered re-index target's (lanes.registry.ReindexTarget:
messaging registers its messages): which table, the bounds of a scope (all, one clinic, a creation-date
range), and how one primary-key range is recomputed.

A job walks its rows in primary-key ranges on the `bulk` lane. Each chunk is one set-based statement
of the target's, committed together with the job's new cursor, so a worker killed mid-way loses at most
that chunk, and whoever runs the job next starts after the cursor.

Before every chunk the runner re-reads the job (state, throttle) and looks at the live lane: it stops
when paused or cancelled, sleeps to honour the throttle, and waits while the live lane's oldest item is
older than REINDEX_LIVE_MAX_AGE_SECONDS. A task works for at most REINDEX_SLICE_SECONDS, then pokes a
fresh one; a session advisory lock per job makes a second task for the same job return at once.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone

from kalix_site.sql import scalar
from kalix_site.transitions import Machine
from lanes.controls import required_reason
from lanes.models import LaneAction, ReindexChunk, ReindexJob, ReindexScope, ReindexState
from lanes.pokes import BULK, LIVE, poke
from lanes.registry import lane_snapshot, reindex_target
from lanes.sql import JOB_TRY_LOCK_SQL, JOB_UNLOCK_SQL
from lanes.state import lane_paused

log = logging.getLogger(__name__)

RUN = "lanes.reindex.run"
RUN_PENDING = "lanes.reindex.run_pending"
LOCK_CLASS = 0x4B58  # first key of the advisory lock that says "someone runs job N"

# The allowed moves between job states: move -> (from states, to state); each is a conditional UPDATE.
JOB = Machine(
    "re-index job",
    "state",
    {
        "start": ({ReindexState.QUEUED}, ReindexState.RUNNING),
        "pause": ({ReindexState.QUEUED, ReindexState.RUNNING}, ReindexState.PAUSED),
        "resume": ({ReindexState.PAUSED}, ReindexState.QUEUED),
        "cancel": ({ReindexState.QUEUED, ReindexState.RUNNING, ReindexState.PAUSED}, ReindexState.CANCELLED),
        "finish": ({ReindexState.RUNNING}, ReindexState.DONE),
        "fail": ({ReindexState.RUNNING}, ReindexState.FAILED),
        "retry": ({ReindexState.FAILED}, ReindexState.QUEUED),
    },
    states=ReindexState.values,
)
ACTIVE = (ReindexState.QUEUED, ReindexState.RUNNING)
# Why an operator's move found a job in no state it moves from, in the words admin shows.
REFUSED_BECAUSE = {
    ReindexState.QUEUED: "it is queued, not paused",
    ReindexState.RUNNING: "it is running, not paused",
    ReindexState.PAUSED: "it is paused already",
    ReindexState.CANCELLED: "it has been cancelled",
    ReindexState.DONE: "it has finished",
    ReindexState.FAILED: "it has failed (trigger it again to redo it)",
}


def allowed_moves(state: str) -> list[str]:
    return JOB.allowed(state)


def _move(job_id: int, name: str, **fields) -> bool:
    """Make move `name` if the job is in one of its from-states; False if it is not (nothing changes).
    The operator services answer False too rather than raise: admin reports "n of m paused"."""
    return JOB.move(ReindexJob.objects.filter(pk=job_id), name, **fields) == 1


# --- Services: what admin and `manage.py reindex` call ----------------------------------------------


def _validate_scope(*, scope, clinic, created_from, created_to, throttle, chunk_size) -> None:
    errors = {}
    if scope not in ReindexScope.values:
        errors["scope"] = f"Choose one of {', '.join(ReindexScope.values)}."
    if scope == ReindexScope.CLINIC and clinic is None:
        errors["clinic"] = "Choose the clinic to re-index."
    if scope == ReindexScope.CREATED:
        if created_from is None or created_to is None:
            errors["created_from"] = "Give both ends of the creation-date range."
        elif created_from >= created_to:
            errors["created_to"] = "The end must be after the start."
    if throttle is not None and throttle < 0:
        errors["throttle"] = "Rows per second cannot be negative (0 means no limit)."
    if chunk_size is not None and chunk_size < 1:
        errors["chunk_size"] = "A chunk needs at least one row."
    if errors:
        raise ValidationError(errors)


def reindex_start(
    *,
    scope: str = ReindexScope.ALL,
    clinic=None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    throttle: int | None = None,
    chunk_size: int | None = None,
    actor=None,
) -> ReindexJob:
    """Create a re-index job over the rows in scope now and poke the bulk lane to run it. A scope with
    no rows makes a job that is done at once: nothing would ever move it (it would wait, backing off
    behind the live lane, at 0/0) and there is nothing to poke."""
    _validate_scope(
        scope=scope,
        clinic=clinic,
        created_from=created_from,
        created_to=created_to,
        throttle=throttle,
        chunk_size=chunk_size,
    )
    job = ReindexJob(
        scope=scope,
        clinic=clinic if scope == ReindexScope.CLINIC else None,
        created_from=created_from if scope == ReindexScope.CREATED else None,
        created_to=created_to if scope == ReindexScope.CREATED else None,
        chunk_size=chunk_size or settings.REINDEX_CHUNK_SIZE,
        throttle=settings.REINDEX_DEFAULT_THROTTLE if throttle is None else throttle,
        created_by=actor,
    )
    first, last, rows = reindex_target().bounds(job)
    job.first_id, job.last_id, job.cursor, job.total_rows = first or 0, last or 0, (first or 1) - 1, rows
    if rows == 0:
        job.state, job.started_at = ReindexState.DONE, timezone.now()
        job.finished_at = job.progress_at = job.started_at
    with transaction.atomic():
        job.save()
        _record(actor, "reindex_start", rows=job.total_rows, detail=f"{job}, throttle {job.throttle or 'none'}")
        if job.state == ReindexState.QUEUED:
            poke(RUN, lane=BULK, job_id=job.pk)
    return job


def _record(actor, action: str, *, rows: int = 0, detail: str = "", reason: str = "") -> None:
    LaneAction.objects.create(lane=BULK, action=action, actor=actor, rows=rows, detail=detail[:255], reason=reason)


def _operator_move(job: ReindexJob, name: str, actor, *, reason: str = "", **fields) -> bool:
    with transaction.atomic():
        moved = _move(job.pk, name, **fields)
        if moved:
            _record(actor, f"reindex_{name}", detail=f"re-index #{job.pk}", reason=reason)
            if JOB.target(name) == ReindexState.QUEUED:
                poke(RUN, lane=BULK, job_id=job.pk)
    job.refresh_from_db()
    return moved


def reindex_pause(*, job: ReindexJob, reason: str | None, actor=None) -> bool:
    """Stop after the chunk in progress; False if the job was not queued or running. Takes a reason."""
    reason = required_reason(reason, why=f"pausing re-index #{job.pk} leaves its rows stale until it resumes.")
    return _operator_move(job, "pause", actor, reason=reason, waiting="")


def reindex_resume(*, job: ReindexJob, actor=None) -> bool:
    return _operator_move(job, "resume", actor, rate_since=None)  # the paused time is no rate


def reindex_cancel(*, job: ReindexJob, reason: str | None, actor=None) -> bool:
    """Give up a job for good (its rows done so far stay done); takes a reason."""
    reason = required_reason(reason, why=f"cancelling re-index #{job.pk} leaves the rest of its rows stale.")
    return _operator_move(job, "cancel", actor, reason=reason, waiting="", finished_at=timezone.now())


def reindex_retry(*, job: ReindexJob, actor=None) -> bool:
    return _operator_move(job, "retry", actor, error="", rate_since=None)


def reindex_set_throttle(*, job: ReindexJob, throttle: int, actor=None) -> None:
    """Change the rows/s limit; the runner reads it before its next chunk."""
    if throttle < 0:
        raise ValidationError({"throttle": "Rows per second cannot be negative (0 means no limit)."})
    with transaction.atomic():
        # the rate counts afresh from now: the old throttle's pace says nothing about the new one's
        ReindexJob.objects.filter(pk=job.pk).update(
            throttle=throttle, rate_since=timezone.now(), rate_since_rows=F("rows_done")
        )
        _record(actor, "reindex_throttle", detail=f"re-index #{job.pk}: {throttle or 'no limit'} rows/s")
    job.refresh_from_db()


# --- The runner: what a bulk-lane poke executes -------------------------------------------------------


@dataclass(frozen=True)
class ChunkDone:
    rows: int
    seconds: float
    throttle: int
    finished: bool


def wall_clock_rate(*, rows: int, seconds: float, throttle: int) -> float:
    """Rows a second over the wall clock since the job started (or resumed, or was re-throttled): throttle
    sleeps, back-off and the gaps between slices count. Never above the throttle: the runner sleeps after
    a chunk, so right after the first chunks the clock has not yet seen the sleeps that hold it there."""
    rate = rows / seconds if seconds > 0 else float(throttle)
    return min(rate, throttle) if throttle > 0 else rate


def run_chunk(job_id: int) -> ChunkDone | None:
    """Recompute the next chunk and move the cursor past it, in one transaction; None when the job is
    not running (paused, cancelled, finished) or has nothing left."""
    with transaction.atomic():
        job = ReindexJob.objects.select_for_update().get(pk=job_id)
        if job.state != ReindexState.RUNNING:
            return None
        now = timezone.now()
        if job.cursor >= job.last_id:
            _move(job.pk, "finish", finished_at=now, waiting="", rows_per_s=0)
            return None
        first = max(job.cursor + 1, job.first_id)
        last = min(first + job.chunk_size - 1, job.last_id)
        started = time.perf_counter()
        rows, changed = reindex_target().recompute(job, first, last)
        seconds = time.perf_counter() - started
        done_at = timezone.now()
        if job.rate_since is not None:
            since, rows_before = job.rate_since, job.rate_since_rows
        else:  # a chunk run outside a slice (a shell, a test): the cycle since the previous chunk
            since, rows_before = job.progress_at or now, job.rows_done
        rate = wall_clock_rate(
            rows=job.rows_done + rows - rows_before, seconds=(done_at - since).total_seconds(), throttle=job.throttle
        )
        finished = last >= job.last_id
        ReindexJob.objects.filter(pk=job.pk).update(
            cursor=last,
            rows_done=F("rows_done") + rows,
            rows_changed=F("rows_changed") + changed,
            rows_per_s=rate,
            progress_at=done_at,
            waiting="",
        )
        if finished:
            _move(job.pk, "finish", finished_at=done_at, rows_per_s=0)
        ReindexChunk.objects.create(
            job=job, first_id=first, last_id=last, rows=rows, changed=changed, seconds=seconds, at=done_at
        )
    return ChunkDone(rows=rows, seconds=seconds, throttle=job.throttle, finished=finished)


def live_backoff_reason() -> str:
    """Why the re-index should wait for the live lane right now ("" when it need not)."""
    limit = settings.REINDEX_LIVE_MAX_AGE_SECONDS
    if limit <= 0:
        return ""
    age = lane_snapshot().get(LIVE, {}).get("oldest_age_s")
    if age is not None and age > limit:
        return f"Backing off: the live lane's oldest item is {age:.0f}s old (limit {limit:g}s)"
    return ""


def _set_waiting(job_id: int, reason: str) -> None:
    ReindexJob.objects.filter(pk=job_id, state__in=ACTIVE).exclude(waiting=reason).update(waiting=reason)


def _try_lock(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(JOB_TRY_LOCK_SQL, [LOCK_CLASS, job_id])
        return scalar(cursor, "locked")


def _unlock(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(JOB_UNLOCK_SQL, [LOCK_CLASS, job_id])


def run(job_id: int) -> str:
    """Work on one job for at most REINDEX_SLICE_SECONDS; returns why it stopped."""
    if not _try_lock(job_id):
        return "busy"  # another task holds this job; it pokes its successor itself
    outcome = "stopped"
    try:
        outcome = _run_slice(job_id)
    except Exception as exc:
        log.exception("re-index job %s failed", job_id)
        _move(job_id, "fail", error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now())
        outcome = "failed"
    finally:
        _unlock(job_id)
    if outcome == "sliced":  # after the unlock, so the next task can take the job
        poke(RUN, lane=BULK, job_id=job_id)
    return outcome


def _run_slice(job_id: int) -> str:
    deadline = time.monotonic() + settings.REINDEX_SLICE_SECONDS
    _move(job_id, "start")
    ReindexJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    ReindexJob.objects.filter(pk=job_id, rate_since__isnull=True).update(
        rate_since=timezone.now(), rate_since_rows=F("rows_done")
    )
    while True:
        if time.monotonic() >= deadline:
            return "sliced"
        if lane_paused(BULK):
            _set_waiting(job_id, "Waiting: the bulk lane is paused")
            return "lane paused"  # resuming the lane pokes run_pending
        reason = live_backoff_reason()
        if reason:
            _set_waiting(job_id, reason)
            time.sleep(min(settings.REINDEX_BACKOFF_SECONDS, max(deadline - time.monotonic(), 0)))
            continue
        done = run_chunk(job_id)
        if done is None or done.finished:
            return "done or stopped"
        if done.throttle > 0:
            pause = done.rows / done.throttle - done.seconds
            time.sleep(min(max(pause, 0), max(deadline - time.monotonic(), 0)))


def run_pending() -> int:
    """The safety net (a schedule on the bulk lane): poke every job that should be running but that
    nobody runs (its advisory lock is free and it has not moved for a time slice); returns how many.
    Jobs that are alive are left alone, so their tasks do not pile up behind them; while the bulk lane
    is paused nothing is poked (resuming the lane pokes this again)."""
    if lane_paused(BULK):
        return 0
    stalled_for = settings.REINDEX_SLICE_SECONDS + 5
    quiet_since = timezone.now() - timedelta(seconds=stalled_for)
    stalled = ReindexJob.objects.filter(state__in=ACTIVE).filter(
        Q(progress_at__isnull=True) | Q(progress_at__lt=quiet_since)
    )
    poked = 0
    for job_id in stalled.values_list("id", flat=True):
        if _try_lock(job_id):
            _unlock(job_id)
            # a stalled job's waiting poke older than the stall may be stranded with a killed worker (hidden
            # for the bulk lane's retry time): send again; a second task is harmless, the advisory lock lets
            # one run the job. A younger one may only be queued behind a busy lane: left alone.
            poke(RUN, lane=BULK, resend_after=stalled_for, job_id=job_id)
            poked += 1
    return poked


def pending_reindex_rows():
    row = ReindexJob.objects.filter(state__in=ACTIVE).aggregate(
        total=Sum("total_rows"), done=Sum("rows_done"), oldest=Min("created_at")
    )
    return max((row["total"] or 0) - (row["done"] or 0), 0), row["oldest"]


def reindexed_rows_since(since: datetime) -> int:
    return ReindexChunk.objects.filter(at__gte=since).aggregate(n=Sum("rows"))["n"] or 0
