"""`make bench SCENARIO=live`: 20,000 messages through the simulated carrier, ours vs naive, same run.

- ours: pending Message rows drained by the live lane (claim_batch with SKIP LOCKED, one carrier
  request per batch, events and status recorded set-based), poked once per worker.
- naive: the usual pattern, one django-q2 task per message (same cluster settings as ours: ORM broker,
  persistent connections CONN_MAX_AGE=60, successes not saved save_limit=-1, same workers), each task
  loading its message, handing it to the same carrier and recording its event and status.

Both start from the same number of pending messages in the bench database, with their cluster
already running and the safety-net schedule removed (it would drain the naive mode's messages too).
The clock starts when the work becomes visible to the workers (ours: the commit of the pokes; naive:
the commit of one UPDATE that unlocks the pre-enqueued tasks) and stops when every message is
recorded as handed to the carrier (status Sending, provider id stored). Creating the messages and
enqueueing the naive tasks (exactly the rows async_task writes, inserted in bulk) are outside both.
"""

import contextlib
import os
import time

from bench.common import bench_line, print_table, setup_django

N = int(os.environ.get("BENCH_MESSAGES", "20000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SECRET = "bench-sim-secret"


def naive_send(message_id: int) -> None:
    """One message, one task: what a careful django-q2 user would write."""
    from django.db import transaction

    from messaging.events import NewEvent, own_event_id, record_events
    from messaging.models import Dispatch, EventKind, EventSource, Message
    from messaging.providers import SimulatedBatchCarrier

    message = Message.objects.get(pk=message_id)
    if message.dispatch != Dispatch.QUEUED:
        return  # the task ran twice
    message.send_key = message.send_key or __import__("uuid").uuid4()
    (outcome,) = SimulatedBatchCarrier().send_batch([_as_claimed(message)])
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            dispatch=Dispatch.HANDED_OFF,
            provider="sim",
            provider_message_id=outcome.provider_message_id,
            send_key=message.send_key,
            attempts=1,
        )
        record_events(
            [
                NewEvent(
                    message.pk, EventKind.ACCEPTED, own_event_id(message.pk, "accepted", 1), source=EventSource.WORKER
                )
            ]
        )


def _as_claimed(m):
    from messaging.sql import Claimed

    return Claimed(
        id=m.id,
        clinic_id=m.clinic_id,
        channel=m.channel,
        recipient=m.recipient,
        subject=m.subject,
        body=m.body,
        attachment="",
        send_key=m.send_key,
        attempts=1,
        clinic_email_from="",
        priority=m.priority,
    )


def create_pending(clinic, patient, n: int) -> tuple[int, int]:
    """n pending SMS with their 'queued' events, set-based; returns (first id, last id)."""
    from django.db import connection
    from django.utils import timezone

    from messaging.models import Message
    from messaging.status import recompute_status_range

    now = timezone.now()
    rows = [
        Message(
            clinic=clinic,
            patient=patient,
            channel="sms",
            recipient=str(patient.mobile),
            body=f"Reminder {i}",
            segments=1,
            next_attempt_at=now,
        )
        for i in range(n)
    ]
    Message.objects.bulk_create(rows, batch_size=5000)
    first, last = rows[0].pk, rows[-1].pk
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_deliveryevent (message_id, kind, occurred_at, received_at, source, event_id,
                                                    detail, payload)
               SELECT id, 'queued', now(), now(), 'system', 'kalix:' || id || ':0:queued', '', '{}'::jsonb
                 FROM messaging_message WHERE id BETWEEN %s AND %s""",
            [first, last],
        )
    for lo in range(first, last + 1, 5000):
        recompute_status_range(lo, min(lo + 4999, last))
    return first, last


def handed_off(first: int, last: int) -> int:
    from messaging.models import Dispatch, Message

    return Message.objects.filter(pk__range=(first, last), dispatch=Dispatch.HANDED_OFF).count()


def wait_all(first: int, last: int, n: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while handed_off(first, last) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {handed_off(first, last)} of {n} handed off")
        time.sleep(0.05)


FUTURE = "2100-01-01T00:00:00Z"


def stop(cluster) -> None:
    """Stop a cluster and every process of its group: a worker still inside a drain must not go on
    claiming the next mode's messages."""
    import signal

    cluster.stop()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(cluster.proc.pid, signal.SIGKILL)


def run_ours(clinic, patient, env, *, n: int = N, workers: int = WORKERS) -> float:
    """The live lane as `make run` starts it: seconds from the first poke until all `n` are handed off."""
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    from lanes.pokes import LIVE
    from tests.support.processes import Cluster

    cluster = Cluster(LIVE, workers=workers, **env)
    try:
        cluster.wait_alive(60)
        first, last = create_pending(clinic, patient, n)  # nothing claims them until poked
        broker = get_broker(LIVE)
        start = time.perf_counter()
        for _ in range(workers):  # one poke per worker, as concurrent message_send calls would leave
            async_task("messaging.worker.drain", cluster=LIVE, broker=broker)
        wait_all(first, last, n)
        return time.perf_counter() - start
    finally:
        stop(cluster)


class Collector:
    """Stands in for the broker while async_task builds and signs each task; we insert them in bulk."""

    def __init__(self, list_key):
        self.list_key, self.packages = list_key, []

    def enqueue(self, package):
        self.packages.append(package)
        return len(self.packages)


def run_naive(
    clinic, patient, env, *, task="bench.live.naive_send", n: int = N, workers: int = WORKERS, timeout: float = 1800
) -> float:
    """One django-q2 `task` per message, all enqueued before the clock starts: seconds until all `n` are
    handed off."""
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    from lanes.models import WaitingPoke
    from lanes.pokes import LIVE
    from tests.support.processes import Cluster

    OrmQ.objects.all().delete()  # a poke left over from ours would drain the naive mode's messages
    WaitingPoke.objects.all().delete()  # and the rows saying those pokes wait
    first, last = create_pending(clinic, patient, n)
    collector = Collector(LIVE)
    for pk in range(first, last + 1):
        async_task(task, pk, cluster=LIVE, broker=collector)
    OrmQ.objects.bulk_create([OrmQ(key=LIVE, payload=p, lock=FUTURE) for p in collector.packages], batch_size=2000)
    cluster = Cluster(LIVE, workers=workers, **env)
    try:
        cluster.wait_alive(60)
        OrmQ.objects.filter(key=LIVE, lock=FUTURE).update(lock="2000-01-01T00:00:00Z")  # commits here
        start = time.perf_counter()
        wait_all(first, last, n, timeout=timeout)
        return time.perf_counter() - start
    finally:
        stop(cluster)


def main() -> None:
    os.environ["KALIX_SIMCARRIER_SECRET"] = SECRET
    setup_django("live")
    from django.conf import settings
    from django_q.models import Schedule

    from clinics.models import Clinic
    from clinics.services import patient_create
    from messaging.simcarrier import CarrierConfig, SimCarrier

    Schedule.objects.all().delete()
    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench")
    patient = patient_create(
        clinic=clinic, first_name="Bench", last_name="Patient", mobile="+61412000001", messaging_consent="opted_in"
    )
    with SimCarrier(CarrierConfig(secret=SECRET, send_reports=False)) as carrier:
        # the batch-accepting kind: this scenario measures the pipeline, bench/provider.py a real API's pace
        env = {"KALIX_SIMCARRIER_URL": carrier.url, "KALIX_SIMCARRIER_SECRET": SECRET, "KALIX_SMS_PROVIDER": "simbatch"}
        ours = run_ours(clinic, patient, env)
        ours_duplicates = len(carrier.receipts) - len(carrier.sink)
        if os.environ.get("BENCH_OURS_ONLY"):  # for profiling ours alone; never the reported figure
            print(f"ours: {ours:.2f}s, {N / ours:,.0f} messages/s")
            return
        naive = run_naive(clinic, patient, env)
        naive_duplicates = len(carrier.receipts) - len(carrier.sink) - ours_duplicates

    ours_rate, naive_rate = N / ours, N / naive
    print_table(
        f"Live lane: {N:,} SMS through the simulated carrier ({WORKERS} workers, ORM broker, "
        f"batch {settings.MESSAGING_BATCH_SIZE}, CONN_MAX_AGE={settings.DB_CONN_MAX_AGE})",
        [
            ("ours (claim batches, set-based)", f"{ours:.2f}", f"{ours_rate:,.0f}", ours_duplicates),
            ("naive (1 django-q2 task/message)", f"{naive:.2f}", f"{naive_rate:,.0f}", naive_duplicates),
        ],
        ("mode", "seconds", "messages/s", "sent twice"),
    )
    bench_line(
        {
            "scenario": "live",
            "messages": N,
            "ours_per_s": round(ours_rate, 1),
            "naive_per_s": round(naive_rate, 1),
            "ratio": round(ours_rate / naive_rate, 2),
        }
    )
