"""`make bench SCENARIO=incident`: the incident's week, replayed in minutes, ours beside naive.

1. Seed BENCH_INCIDENT_ROWS historic messages (default 1,000,000) with 3 events each (tests.support.seed).
2. The status bug: every historic message's derived columns made wrong (tests.support.seed.scramble_derived:
   'Sending', as the incident showed for messages long sent).
3. For BENCH_INCIDENT_WINDOW seconds, together:
   - live traffic: BENCH_INCIDENT_LIVE_RATE SMS/s through message_send, the simulated carrier (one message
     a request, BENCH_INCIDENT_CARRIER_LATENCY_MS 150 +- BENCH_INCIDENT_CARRIER_JITTER_MS 50, as `make run`),
     and its delivery reports posted back over HTTP to a real gunicorn;
   - staff requesting a billing batch every BENCH_INCIDENT_BATCH_EVERY seconds (billing.batches);
   - a full re-index.
   Then everything is given up to BENCH_INCIDENT_SETTLE_TIMEOUT seconds to finish.
4. Twice, from the same seeded data:
   - ours: a `live` cluster (drain pokes, batches claimed from the rows) and a `bulk` cluster running a
     ReindexJob, which backs off while the live lane is late;
   - naive: one django-q2 cluster with as many workers as ours have together, one FIFO queue, the
     re-index as BENCH_INCIDENT_NAIVE_CHUNK-row tasks enqueued first, then one task per live message
     and the same batch-request pokes (configured well: CONN_MAX_AGE=60, save_limit=-1).

Time to Sending is from creation to the worker's hand-off event; time to Success is from creation to
when a poll (every BENCH_INCIDENT_SAMPLE_S) first saw the status Success, i.e. what staff would see.
Batch delay is from request to built. "Wrong at the end" counts historic messages whose stored status
or detail differs from what their events give (the bare SQL rule). The chart goes to
bench/out/incident.png and docs/incident-replay.png.
"""

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta

from bench.common import OUT, ROOT, bench_line, print_table, setup_django
from tests.support.processes import free_port

ROWS = int(os.environ.get("BENCH_INCIDENT_ROWS", 1_000_000))
WINDOW = float(os.environ.get("BENCH_INCIDENT_WINDOW", 60))
LIVE_RATE = float(os.environ.get("BENCH_INCIDENT_LIVE_RATE", 20))
BATCH_EVERY = float(os.environ.get("BENCH_INCIDENT_BATCH_EVERY", 5))
NAIVE_CHUNK = int(os.environ.get("BENCH_INCIDENT_NAIVE_CHUNK", 1_000))
SETTLE_TIMEOUT = float(os.environ.get("BENCH_INCIDENT_SETTLE_TIMEOUT", 300))
SAMPLE_S = float(os.environ.get("BENCH_INCIDENT_SAMPLE_S", 0.5))
# The per-message carrier as `make run` has it: one message a request, answered in 150 +- 50 ms (0: at once).
CARRIER_LATENCY_MS = float(os.environ.get("BENCH_INCIDENT_CARRIER_LATENCY_MS", 150))
CARRIER_JITTER_MS = float(os.environ.get("BENCH_INCIDENT_CARRIER_JITTER_MS", 50))
SIM_SECRET = "bench-sim-secret"
NAIVE_LANE = "naive"  # naive live messages sit where no drain claims them: only their own task sends them


def pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


# --- tasks the naive cluster runs (imported by its workers) ------------------------------------------


def naive_send_one() -> int:
    """One task per live message: claim one message and hand it off."""
    from messaging.worker import send_batch

    return send_batch(lane=NAIVE_LANE, limit=1)


def naive_chunk(first_id: int, last_id: int) -> None:
    """One re-index chunk as one task; records when it finished."""
    from django.db import connection

    from messaging.status import recompute_status_range

    recompute_status_range(first_id, last_id)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_chunk_done (first_id) VALUES (%s) ON CONFLICT DO NOTHING", [first_id])


# --- measuring -------------------------------------------------------------------------------------

WRONG_SQL = """
WITH r(kind, rank, status, label) AS ({rules}),
top AS (
    SELECT DISTINCT ON (e.message_id) e.message_id, r.status,
           CASE WHEN e.detail = '' THEN r.label ELSE left(r.label || ': ' || e.detail, 255) END AS detail
      FROM messaging_deliveryevent e JOIN r ON r.kind = e.kind
     WHERE e.message_id BETWEEN %s AND %s
     ORDER BY e.message_id, r.rank DESC, e.occurred_at DESC, e.event_id COLLATE "C" DESC
)
SELECT count(*) FROM messaging_message m JOIN top ON top.message_id = m.id
 WHERE m.id BETWEEN %s AND %s AND (m.status <> top.status OR m.status_detail <> top.detail)
"""


def count_wrong(first: int, last: int) -> int:
    from django.db import connection

    from messaging.sql import rules_values

    values, params = rules_values()
    rules = values.removeprefix("(").split(") AS r(")[0]
    with connection.cursor() as cursor:
        cursor.execute(WRONG_SQL.format(rules=rules), [*params, first, last, first, last])
        return cursor.fetchone()[0]


class Sampler:
    """Every SAMPLE_S: queue depths, re-index progress, and which live messages staff now see as Success."""

    def __init__(self, mode: str, first_live_id: int, reindex_rows):
        self.mode, self.first_live_id, self.reindex_rows = mode, first_live_id, reindex_rows
        self.t0 = time.monotonic()
        self.samples: list[tuple] = []  # (t, live depth, tasks in the queue, re-index rows left)
        self.success_seen: dict[int, float] = {}  # message id -> wall time first seen Success
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from django.db import connection
        from django_q.models import OrmQ

        from messaging.models import Message, WebhookInbox

        try:
            while not self._stop.is_set():
                live_depth = (
                    Message.objects.filter(id__gte=self.first_live_id, dispatch="queued").count()
                    + WebhookInbox.objects.count()
                )
                tasks = OrmQ.objects.count()
                left = self.reindex_rows()
                now = time.time()
                for pk in Message.objects.filter(id__gte=self.first_live_id, status="success").values_list(
                    "id", flat=True
                ):
                    self.success_seen.setdefault(pk, now)
                self.samples.append((time.monotonic() - self.t0, live_depth, tasks, left))
                self._stop.wait(SAMPLE_S)
        finally:
            connection.close()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()


class Traffic:
    """Live messages at LIVE_RATE and a batch request every BATCH_EVERY, from threads, until stopped."""

    def __init__(self, mode: str, clinic, user, payers):
        self.mode, self.clinic, self.user, self.payers = mode, clinic, user, payers
        self.ids: list[int] = []
        self.batch_ids: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._live, self._batches)]

    def _send(self, n: int) -> int:
        from django.db import transaction
        from django_q.tasks import async_task

        from messaging import services
        from messaging.models import Message

        if self.mode == "ours":
            m = services.message_send(clinic=self.clinic, channel="sms", recipient=f"+6141{n:07d}", body="Your visit")
            return m.pk
        with transaction.atomic():
            m = services.message_send(clinic=self.clinic, channel="sms", recipient=f"+6141{n:07d}", body="Your visit")
            Message.objects.filter(pk=m.pk).update(lane=NAIVE_LANE)
        async_task("bench.incident.naive_send_one", cluster="live")
        return m.pk

    def _live(self):
        from django.db import connection

        interval, next_at, n = 1.0 / LIVE_RATE, time.monotonic(), 0
        try:
            while not self._stop.is_set():
                n += 1
                self.ids.append(self._send(n))
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            connection.close()

    def _batches(self):
        from django.core.exceptions import ValidationError
        from django.db import connection
        from django.utils import timezone

        from billing.batches import batch_request

        n = 0
        try:
            while not self._stop.wait(BATCH_EVERY if n else 1.0):
                try:
                    batch, _ = batch_request(
                        clinic=self.clinic,
                        requested_by=self.user,
                        payer=self.payers[n % len(self.payers)],
                        cutoff_date=timezone.localdate(),
                        request_key=f"{self.mode}-{n}",
                    )
                except ValidationError:  # nothing left to batch for this payer: refused when asked
                    n += 1
                    continue
                self.batch_ids.append(batch.pk)
                n += 1
        finally:
            connection.close()

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()


def time_to_sending(ids: list[int]) -> dict[int, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT m.id, extract(epoch FROM min(e.received_at) - m.created_at)::float8
                 FROM messaging_message m JOIN messaging_deliveryevent e ON e.message_id = m.id
                WHERE m.id = ANY(%s) AND e.source = 'worker' GROUP BY m.id, m.created_at""",
            [ids],
        )
        return dict(cursor.fetchall())


def batch_delays(batch_ids: list[int]) -> list[float]:
    """From request to the batch leaving requested/building (built, or failed: e.g. nothing left to
    batch); a batch still waiting counts what it has waited so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT extract(epoch FROM coalesce(min(h.at), now()) - b.requested_at)::float8
                 FROM billing_billingbatch b
                 LEFT JOIN billing_batchhistory h ON h.batch_id = b.id AND h.to_status NOT IN ('requested', 'building')
                WHERE b.id = ANY(%s) GROUP BY b.id, b.requested_at""",
            [batch_ids],
        )
        return [row[0] for row in cursor.fetchall()]


def settle(what: str, predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    print(f"  ({what}: not finished within {timeout:.0f} s; figures below are lower bounds)", flush=True)
    return False


# --- one configuration ------------------------------------------------------------------------------


def run(mode: str, *, clinic, user, payers, first: int, last: int, web_url: str, carrier_url: str) -> dict:
    from django.db import connection
    from django.utils import timezone

    from billing.lifecycle import WAITING_BATCH_STATUSES
    from billing.models import BillingBatch
    from lanes import reindex
    from lanes.models import ReindexJob
    from messaging.models import Message
    from tests.support.processes import Cluster
    from tests.support.seed import scramble_derived

    started = time.perf_counter()
    scrambled = scramble_derived(first, last)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE messaging_message")
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM messaging_message")
        first_live_id = cursor.fetchone()[0]
    print(f"[{mode}] status bug introduced in {scrambled:,} historic messages ({time.perf_counter() - started:.0f} s)")

    env = {
        "KALIX_SIMCARRIER_URL": carrier_url,
        "KALIX_SIMCARRIER_SECRET": SIM_SECRET,
        "KALIX_PUBLIC_URL": web_url,
        "KALIX_Q_POLL": 0.05,
    }
    if mode == "ours":
        clusters = [Cluster("live", **env), Cluster("bulk", **env)]
    else:
        from django.conf import settings

        workers = settings.LIVE_WORKERS + settings.BULK_WORKERS
        clusters = [Cluster("live", workers=workers, **env)]
    for cluster in clusters:
        cluster.wait_alive(120)

    result: dict = {"mode": mode}
    try:
        t_start = time.time()
        if mode == "ours":
            job = reindex.reindex_start(throttle=0)

            def reindex_left():
                j = ReindexJob.objects.filter(pk=job.pk).values("total_rows", "rows_done", "state").first()
                return 0 if j["state"] == "done" else j["total_rows"] - j["rows_done"]

        else:
            from django_q.tasks import async_task

            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE IF NOT EXISTS bench_chunk_done "
                    "(first_id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
                )
                cursor.execute("TRUNCATE bench_chunk_done")
            chunks = list(range(first, last + 1, NAIVE_CHUNK))
            for lo in chunks:  # the re-index, ahead of everything else in the one queue
                async_task("bench.incident.naive_chunk", lo, min(lo + NAIVE_CHUNK - 1, last), cluster="live")
            print(f"[naive] {len(chunks):,} re-index tasks enqueued in {time.time() - t_start:.0f} s")

            def reindex_left():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM bench_chunk_done")
                    return (len(chunks) - cursor.fetchone()[0]) * NAIVE_CHUNK

        sampler = Sampler(mode, first_live_id, reindex_left).start()
        traffic = Traffic(mode, clinic, user, payers).start()
        time.sleep(WINDOW)
        traffic.stop()
        print(f"[{mode}] window over: {len(traffic.ids)} live messages, {len(traffic.batch_ids)} batch requests")

        ids = traffic.ids
        settle(
            f"{mode}: live messages Success",
            lambda: len([i for i in ids if i in sampler.success_seen]) >= len(ids),
            SETTLE_TIMEOUT,
        )
        settle(
            f"{mode}: batches built",
            lambda: (
                not BillingBatch.objects.filter(pk__in=traffic.batch_ids, status__in=WAITING_BATCH_STATUSES).exists()
            ),
            max(10, SETTLE_TIMEOUT - (time.time() - t_start - WINDOW)),
        )
        reindex_done = settle(
            f"{mode}: re-index", lambda: reindex_left() == 0, max(10, SETTLE_TIMEOUT - (time.time() - t_start - WINDOW))
        )
        sampler.stop()
        end = time.time()

        if mode == "ours":
            job.refresh_from_db()
            result["reindex_s"] = ((job.finished_at or timezone.now()) - job.created_at).total_seconds()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT max(at) FROM bench_chunk_done")
                last_at = cursor.fetchone()[0]
            result["reindex_s"] = (last_at.timestamp() - t_start) if (reindex_done and last_at) else end - t_start
        result["reindex_done"] = reindex_done

        sending = time_to_sending(ids)
        created = dict(Message.objects.filter(pk__in=ids).values_list("id", "created_at"))
        result["to_sending"] = [sending.get(i, end - created[i].timestamp()) for i in ids]
        result["to_success"] = [sampler.success_seen.get(i, end) - created[i].timestamp() for i in ids]
        result["sent_share"] = len(sending) / max(1, len(ids))
        result["series"] = [(created[i].timestamp() - t_start, sending.get(i)) for i in ids]
        result["batch_delay"] = batch_delays(traffic.batch_ids)
        result["samples"] = sampler.samples
        result["wrong"] = count_wrong(first, last)
        result["historic"] = last - first + 1
    finally:
        for cluster in clusters:
            cluster.stop()
    # leave nothing queued for the next configuration
    from django_q.models import OrmQ

    from lanes.models import WaitingPoke

    OrmQ.objects.all().delete()
    WaitingPoke.objects.all().delete()  # their tasks are gone: a row left would hold back the next run's pokes
    release_batched(traffic.batch_ids, by=user)
    Message.objects.filter(id__gte=first_live_id, dispatch__in=["queued", "handing_off"]).update(
        dispatch="done", next_attempt_at=timezone.now() + timedelta(days=365)
    )
    return result


def release_batched(batch_ids: list[int], *, by) -> None:
    """Cancel this configuration's batches, so the next one finds the same invoices ready to batch (a batch
    request with nothing left to batch is refused when made)."""
    from billing.batches import batch_cancel
    from billing.models import BillingBatch

    for batch in BillingBatch.objects.filter(pk__in=batch_ids):
        batch_cancel(batch=batch, by=by, note="incident bench: released for the next configuration")


def chart(results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    colours = {"ours": "tab:blue", "naive": "tab:red"}
    for r in results:
        c, label = colours[r["mode"]], r["mode"]
        t = [s[0] for s in r["samples"]]
        if r["mode"] == "ours":
            axes[0].plot(t, [s[1] for s in r["samples"]], color=c, label="ours: live lane (messages + reports)")
            axes[0].plot(t, [s[2] for s in r["samples"]], color=c, ls=":", label="ours: pokes in the broker")
        else:
            axes[0].plot(t, [s[2] for s in r["samples"]], color=c, label="naive: tasks in the one FIFO queue")
        axes[1].plot(t, [s[3] for s in r["samples"]], color=c, label=f"{label}: re-index rows left")
        xs = [x for x, y in r["series"] if y is not None]
        ys = [y for x, y in r["series"] if y is not None]
        axes[2].scatter(xs, ys, s=4, color=c, label=f"{label}: time to Sending")
    axes[0].set_ylabel("queue depth")
    axes[1].set_ylabel("rows")
    axes[2].set_ylabel("seconds")
    axes[2].set_yscale("log")
    axes[2].set_xlabel(f"seconds since the re-index started (live traffic for the first {WINDOW:g} s)")
    for ax in axes:
        ax.legend(loc="upper right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Incident replay: {ROWS:,} historic messages re-indexed beside live traffic")
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "incident.png"
    fig.savefig(path, dpi=90)
    shutil.copy(path, ROOT / "docs" / "incident-replay.png")
    print(f"chart: {path} (copied to docs/incident-replay.png)")


def main() -> None:
    setup_django("incident")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from billing.models import Payer
    from clinics.models import Clinic, Patient, StaffMembership
    from messaging.simcarrier import CarrierConfig, SimCarrier
    from tests.support.invoices import make_ready_invoices
    from tests.support.seed import indexes_deferred, seed_messages

    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="UTC", sms_sender="Bench")
    user = get_user_model().objects.create_user("bench")
    StaffMembership.objects.create(user=user, clinic=clinic, role="manager")
    patients = Patient.objects.bulk_create(
        [Patient(clinic=clinic, first_name=f"P{n}", last_name="Bench") for n in range(50)]
    )
    payers = [Payer.objects.create(clinic=clinic, name=f"Fund {n}", payer_identifier=f"F{n}") for n in range(4)]
    make_ready_invoices(
        clinic=clinic,
        payers=payers,
        patients=patients,
        practitioner=user,
        count=4_000,
        service_date=timezone.localdate() - timedelta(days=2),
    )

    started = time.perf_counter()
    with indexes_deferred("messaging_message", "messaging_deliveryevent"):
        first, last = seed_messages(clinic_id=clinic.pk, count=ROWS)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE messaging_deliveryevent")
    print(f"seeded {ROWS:,} historic messages with 3 events each in {time.perf_counter() - started:.0f} s", flush=True)

    carrier = SimCarrier(
        CarrierConfig(
            secret=SIM_SECRET, report_delay_ms=200, latency_ms=CARRIER_LATENCY_MS, jitter_ms=CARRIER_JITTER_MS
        )
    ).start()
    settings.SIMCARRIER_URL, settings.SIMCARRIER_SECRET = carrier.url, SIM_SECRET
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kalix_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "KALIX_SIMCARRIER_SECRET": SIM_SECRET},
    )
    results = []
    try:
        for mode in ("ours", "naive"):
            results.append(
                run(
                    mode,
                    clinic=clinic,
                    user=user,
                    payers=payers,
                    first=first,
                    last=last,
                    web_url=web_url,
                    carrier_url=carrier.url,
                )
            )
    finally:
        web.terminate()
        web.wait(timeout=30)
        carrier.stop()

    rows = []
    for r in results:
        s, ok = r["to_sending"], r["to_success"]
        rows.append(
            (
                r["mode"],
                f"{pct(s, 50):.2f} / {pct(s, 95):.2f} / {pct(s, 99):.2f}",
                f"{pct(ok, 50):.2f} / {pct(ok, 95):.2f} / {pct(ok, 99):.2f}",
                f"{pct(r['batch_delay'], 50):.1f} / {max(r['batch_delay'], default=0):.1f}",
                f"{r['reindex_s']:.0f}" + ("" if r["reindex_done"] else " (not done)"),
                f"{max((x[2] for x in r['samples']), default=0)}",
                f"{100 * r['wrong'] / r['historic']:.2f} %",
            )
        )
    print_table(
        f"Incident replay: {ROWS:,} historic rows, {WINDOW:g} s window, {LIVE_RATE:g} live msg/s, "
        f"a batch request every {BATCH_EVERY:g} s (2 cores; seconds; noisy if the machine is shared)",
        rows,
        (
            "config",
            "to Sending p50/p95/p99",
            "to Success p50/p95/p99",
            "batch delay p50/max",
            "re-index s",
            "max tasks queued",
            "wrong at end",
        ),
    )
    chart(results)
    ours, naive = results
    bench_line(
        {
            "scenario": "incident",
            "carrier_latency_ms": CARRIER_LATENCY_MS,
            "ours_live_p95_s": round(pct(ours["to_sending"], 95), 3),
            "naive_live_p95_s": round(pct(naive["to_sending"], 95), 3),
            "ours_batch_delay_s": round(max(ours["batch_delay"], default=0), 2),
            "naive_batch_delay_s": round(max(naive["batch_delay"], default=0), 2),
            "ours_reindex_s": round(ours["reindex_s"], 1),
            "wrong_after_ours": ours["wrong"],
        }
    )
