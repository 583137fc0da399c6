"""`make bench SCENARIO=reindex`: a full re-index of 1,000,000 messages beside a live message stream.

1. Seed BENCH_REINDEX_ROWS messages (default 1,000,000) with 3 events each, set-based.
2. Bare: the one UPDATE statement that recomputes every status (messaging.status), timed.
3. Re-index: a ReindexJob through a real bulk-lane cluster, no throttle, timed from start to done.
4. Live stream: BENCH_LIVE_RATE messages/s (default 50) through message_send, a real live-lane cluster
   and the simulated carrier; time to 'Sending' (the worker's hand-off event) measured idle and while
   the re-index runs.
5. Naive contrast, on BENCH_NAIVE_ROWS (default 500,000): the re-index's chunks queued FIFO as tasks
   in the live lane itself (as in the incident), with the same live stream beside them.

Before each timed recompute the derived columns are scrambled and the table vacuumed (not timed), so
the bare statement and the job both rewrite every row.
"""

import os
import statistics
import threading
import time

from bench.common import bench_line, print_table, setup_django

ROWS = int(os.environ.get("BENCH_REINDEX_ROWS", 1_000_000))
NAIVE_ROWS = int(os.environ.get("BENCH_NAIVE_ROWS", 500_000))
NAIVE_CHUNK = int(os.environ.get("BENCH_NAIVE_CHUNK", 1_000))
LIVE_RATE = float(os.environ.get("BENCH_LIVE_RATE", 50))
IDLE_SECONDS = float(os.environ.get("BENCH_LIVE_IDLE_SECONDS", 20))
NAIVE_SECONDS = float(os.environ.get("BENCH_NAIVE_LIVE_SECONDS", 20))
SIM_SECRET = "bench-sim-secret"


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE messaging_message")
        cursor.execute("VACUUM ANALYZE messaging_deliveryevent")


class LiveStream:
    """Sends `rate` SMS per second through message_send from a thread until stopped."""

    def __init__(self, clinic, rate: float):
        self.clinic, self.rate = clinic, rate
        self.ids: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from django.db import connection

        from messaging.services import message_send

        interval = 1.0 / self.rate
        next_at = time.monotonic()
        n = 0
        try:
            while not self._stop.is_set():
                n += 1
                message = message_send(
                    clinic=self.clinic, channel="sms", recipient=f"+6141{n % 10_000_000:07d}", body="Your appointment"
                )
                self.ids.append(message.pk)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def time_to_sending_ms(ids: list[int], timeout: float = 120) -> list[float]:
    """Per message: from creation to the live worker's hand-off event, waiting for stragglers."""
    from django.db import connection

    from messaging.models import DeliveryEvent, EventSource
    from tests.support.processes import wait_for

    def all_handed_off():
        n = DeliveryEvent.objects.filter(message_id__in=ids, source=EventSource.WORKER).values("message").distinct()
        return n.count() >= len(ids)

    wait_for(all_handed_off, timeout=timeout, interval=0.5, message="live messages handed off")
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (extract(epoch FROM min(e.received_at) - m.created_at) * 1000)::float8
                 FROM messaging_message m JOIN messaging_deliveryevent e ON e.message_id = m.id
                WHERE m.id = ANY(%s) AND e.source = 'worker' GROUP BY m.id, m.created_at""",
            [ids],
        )
        return [row[0] for row in cursor.fetchall()]


def main() -> None:
    setup_django("reindex")
    from django.conf import settings
    from django.db import connection
    from django_q.tasks import async_task

    from clinics.models import Clinic
    from lanes import reindex
    from lanes.models import ReindexJob, ReindexState
    from messaging.simcarrier import CarrierConfig, SimCarrier
    from messaging.status import recompute_status_range
    from tests.support.processes import Cluster, wait_for
    from tests.support.seed import indexes_deferred, scramble_derived, seed_messages

    results, rows = {}, []
    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="UTC", sms_sender="Bench")

    started = time.perf_counter()
    with indexes_deferred("messaging_message", "messaging_deliveryevent"):
        first, last = seed_messages(clinic_id=clinic.pk, count=ROWS)
    seed_s = time.perf_counter() - started
    vacuum()
    rows.append(("seed messages + 3 events each (set-based)", f"{ROWS:,}", f"{seed_s:.1f} s"))

    with connection.cursor() as cursor:  # warm the cache as the job will find it
        cursor.execute("SELECT count(*) FROM messaging_deliveryevent")
    started = time.perf_counter()
    changed = recompute_status_range(first, last)
    results["bare_sql_s"] = time.perf_counter() - started
    rows.append(("bare one-statement recompute", f"{changed:,} rows changed", f"{results['bare_sql_s']:.1f} s"))

    carrier = SimCarrier(CarrierConfig(secret=SIM_SECRET, send_reports=False)).start()
    settings.SIMCARRIER_URL, settings.SIMCARRIER_SECRET = carrier.url, SIM_SECRET
    lane_env = {"KALIX_SIMCARRIER_URL": carrier.url, "KALIX_SIMCARRIER_SECRET": SIM_SECRET, "KALIX_Q_POLL": 0.05}
    live = Cluster("live", **lane_env)
    bulk = Cluster("bulk", **lane_env)
    try:
        live.wait_alive(60)
        bulk.wait_alive(60)

        with LiveStream(clinic, LIVE_RATE) as stream:
            time.sleep(IDLE_SECONDS)
        idle = time_to_sending_ms(stream.ids)
        results["live_p95_idle_ms"] = p95(idle)
        rows.append((f"live stream idle, {LIVE_RATE:g} msg/s", f"{len(idle)} msgs", f"p95 {p95(idle):.0f} ms"))

        scramble_derived(first, last)
        vacuum()
        job = reindex.reindex_start(throttle=0)
        with LiveStream(clinic, LIVE_RATE) as stream:
            wait_for(
                lambda: ReindexJob.objects.get(pk=job.pk).state in (ReindexState.DONE, ReindexState.FAILED),
                timeout=1800,
                interval=0.2,
                message="re-index done",
            )
        job.refresh_from_db()
        assert job.state == ReindexState.DONE, job.error
        results["reindex_s"] = (job.finished_at - job.created_at).total_seconds()
        during = time_to_sending_ms(stream.ids)
        results["live_p95_during_ms"] = p95(during)
        rows.append(
            (
                f"re-index job on the bulk lane, chunk {job.chunk_size}",
                f"{job.rows_done:,} rows, {job.rows_changed:,} changed",
                f"{results['reindex_s']:.1f} s",
            )
        )
        label = f"live stream during re-index, {LIVE_RATE:g} msg/s"
        rows.append((label, f"{len(during)} msgs", f"p95 {p95(during):.0f} ms"))

        # Naive: the chunks as FIFO tasks in the live lane, ahead of the live stream's pokes.
        naive_last = min(first + NAIVE_ROWS - 1, last)
        scramble_derived(first, naive_last)
        vacuum()
        for lo in range(first, naive_last + 1, NAIVE_CHUNK):
            async_task(
                "messaging.status.recompute_status_range", lo, min(lo + NAIVE_CHUNK - 1, naive_last), cluster="live"
            )
        with LiveStream(clinic, LIVE_RATE) as stream:
            time.sleep(NAIVE_SECONDS)
        naive = time_to_sending_ms(stream.ids, timeout=1800)
        results["naive_live_p95_during_ms"] = p95(naive)
        rows.append(
            (
                f"naive: {NAIVE_ROWS:,} rows as {NAIVE_CHUNK}-row FIFO tasks in the live lane",
                f"{len(naive)} msgs",
                f"p95 {p95(naive):.0f} ms",
            )
        )
    finally:
        live.stop()
        bulk.stop()
        carrier.stop()

    print_table("Re-index beside a live stream (2 shared cores; noisy)", rows, ("what", "size", "result"))
    bench_line(
        {
            "scenario": "reindex",
            "rows": ROWS,
            "reindex_s": round(results["reindex_s"], 2),
            "bare_sql_s": round(results["bare_sql_s"], 2),
            "ratio_to_bare": round(results["reindex_s"] / results["bare_sql_s"], 2),
            "live_p95_idle_ms": round(results["live_p95_idle_ms"], 1),
            "live_p95_during_ms": round(results["live_p95_during_ms"], 1),
            "live_ratio": round(results["live_p95_during_ms"] / results["live_p95_idle_ms"], 2),
            "naive_live_p95_during_ms": round(results["naive_live_p95_during_ms"], 1),
        }
    )
