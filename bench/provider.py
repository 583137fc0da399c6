"""`make bench SCENARIO=provider`: 20,000 SMS through the per-message simulated carrier (one message
per request, 150 ms +- 50 ms, a 500 requests/s account limit answered 429), ours vs naive, same run.

- ours: the live lane as `make run` starts it (KALIX_LIVE_WORKERS workers, default 2): claimed
  batches handed off with PROVIDER_CONCURRENCY requests in flight per worker (messaging.handoff),
  drawing from the account's token bucket set to the account's limit, as an operator sets it in admin.
- naive: one django-q2 task per message, configured well (CONN_MAX_AGE=60, successes not saved,
  8 workers as a user would set for I/O-bound tasks), each task making one request to the same
  carrier and recording the event, retrying a 429 after its Retry-After inside the task.

Delivery reports are off, as in `live`. The clock starts when the work becomes visible to the
workers and stops when every message is recorded as handed off (bench/live.py says how). The
carrier counts requests, 429s and messages it received twice.
"""

import os
import time

from bench.common import bench_line, print_table, setup_django
from bench.live import run_naive, run_ours

N = int(os.environ.get("BENCH_MESSAGES", "20000"))
# The naive contrast sends at about 20 a second: BENCH_NAIVE_MESSAGES runs it on fewer messages (its rate
# is steady after the first second), as the reindex bench's naive contrast runs on fewer rows.
NAIVE_N = int(os.environ.get("BENCH_NAIVE_MESSAGES", str(N)))
LATENCY_MS, JITTER_MS, LIMIT = 150, 50, 500
NAIVE_WORKERS = 8
SECRET = "bench-sim-secret"


def naive_send(message_id: int) -> None:
    """One message, one task, one request: what a careful django-q2 user would write."""
    import uuid

    from django.db import transaction

    from bench.live import _as_claimed
    from messaging.events import NewEvent, own_event_id, record_events
    from messaging.models import Dispatch, EventKind, EventSource, Message
    from messaging.outcomes import Throttled
    from messaging.providers import SimulatedCarrier

    message = Message.objects.get(pk=message_id)
    if message.dispatch != Dispatch.QUEUED:
        return  # the task ran twice
    message.send_key = message.send_key or uuid.uuid4()
    provider = SimulatedCarrier()
    context = provider.prepare()
    outcome = provider.send_one(_as_claimed(message), context)
    while isinstance(outcome, Throttled):  # a careful user honours Retry-After
        time.sleep(outcome.retry_after)
        outcome = provider.send_one(_as_claimed(message), context)
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


def main() -> None:
    os.environ["KALIX_SIMCARRIER_SECRET"] = SECRET
    setup_django("provider")
    from django.conf import settings
    from django_q.models import Schedule

    from clinics.models import Clinic
    from clinics.services import patient_create
    from lanes import buckets
    from messaging.simcarrier import CarrierConfig, SimCarrier

    Schedule.objects.all().delete()
    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench")
    patient = patient_create(
        clinic=clinic, first_name="Bench", last_name="Patient", mobile="+61412000001", messaging_consent="opted_in"
    )
    buckets.ensure("sim:default", rate_per_s=LIMIT, burst=LIMIT // 10)  # the account's limit, set in admin
    config = CarrierConfig(
        secret=SECRET, send_reports=False, latency_ms=LATENCY_MS, jitter_ms=JITTER_MS, limit_per_s=LIMIT
    )
    workers = settings.LIVE_WORKERS
    with SimCarrier(config) as carrier:
        env = {
            "KALIX_SIMCARRIER_URL": carrier.url,
            "KALIX_SIMCARRIER_SECRET": SECRET,
            "KALIX_SMS_PROVIDER": "simulated",
        }
        ours = run_ours(clinic, patient, env, n=N, workers=workers)
        ours_twice = len(carrier.receipts) - len(carrier.sink)
        ours_requests, ours_429 = carrier.requests, carrier.http_429
        if os.environ.get("BENCH_OURS_ONLY"):
            print(f"ours: {ours:.2f}s, {N / ours:,.0f} messages/s, {ours_429} 429s of {ours_requests} requests")
            return
        naive = run_naive(
            clinic, patient, env, task="bench.provider.naive_send", n=NAIVE_N, workers=NAIVE_WORKERS, timeout=3600
        )
        naive_twice = len(carrier.receipts) - len(carrier.sink) - ours_twice
        naive_requests, naive_429 = carrier.requests - ours_requests, carrier.http_429 - ours_429

    ours_rate, naive_rate = N / ours, NAIVE_N / naive
    print_table(
        f"Provider: {N:,} SMS, one request each, {LATENCY_MS} +- {JITTER_MS} ms, account limit {LIMIT}/s "
        f"(ORM broker, CONN_MAX_AGE={settings.DB_CONN_MAX_AGE}, {os.getloadavg()[0]:.2f} load)",
        [
            (
                f"ours (live lane, {workers} workers x {settings.PROVIDER_CONCURRENCY} in flight, bucket)",
                f"{ours:.2f}",
                f"{ours_rate:,.0f}",
                ours_requests,
                ours_429,
                ours_twice,
            ),
            (
                f"naive (1 django-q2 task/message, {NAIVE_WORKERS} workers, {NAIVE_N:,} messages)",
                f"{naive:.2f}",
                f"{naive_rate:,.0f}",
                naive_requests,
                naive_429,
                naive_twice,
            ),
        ],
        ("mode", "seconds", "messages/s", "requests", "429s", "sent twice"),
    )
    bench_line(
        {
            "scenario": "provider",
            "latency_ms": LATENCY_MS,
            "limit_per_s": LIMIT,
            "ours_per_s": round(ours_rate, 1),
            "naive_per_s": round(naive_rate, 1),
            "ratio": round(ours_rate / naive_rate, 2),
            "sent_twice": ours_twice,
            "http_429": ours_429,
            "requests": ours_requests,
        }
    )
