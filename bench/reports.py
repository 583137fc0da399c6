"""`make bench SCENARIO=reports`: signed delivery reports for 20,000 handed-off messages ('sent' and
'delivered' for each; 10 % duplicated, 10 % with 'delivered' before 'sent'), one report per POST as a
real carrier posts them, from 32 concurrent clients to the simulated carrier's webhook of the web
server as `make run` starts it (gunicorn, WEB_CONCURRENCY workers, the live lane applying them);
beside it, in the same run, the same POSTs from the same clients to a bare Django view answering 204
under the same server (the web tier's ceiling on this machine).

- accepted_per_s: reports answered 2xx a second; bare_per_s: the bare view's answers a second.
- apply_lag_p95_s: for a sample of messages, from the 2xx of its 'delivered' report to its status
  showing Success (polled every 0.1 s).
- lost: reports answered 2xx that never became an event; wrong_status: messages not Success at the end.

The webhook as deployed: authentic reports are never rate-limited (only an address's refused requests
are counted, messaging.webhooks.guarded), so nothing is turned off for the run.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.common import ROOT, bench_line, print_table, setup_django
from bench.live import create_pending

N = int(os.environ.get("BENCH_MESSAGES", "20000"))
CLIENTS = 32
SAMPLE_EVERY = 20
SECRET = "bench-sim-secret"


def make_handed_off(clinic, patient) -> tuple[int, int]:
    from django.db import connection

    from messaging.status import recompute_status_range

    first, last = create_pending(clinic, patient, N)
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE messaging_message SET dispatch = 'handed_off', provider = 'sim', send_key = gen_random_uuid(),
                      provider_message_id = 'SIM' || id, attempts = 1, created_at = now() - interval '1 minute'
                WHERE id BETWEEN %s AND %s""",
            [first, last],
        )
        cursor.execute(
            """INSERT INTO messaging_deliveryevent (message_id, kind, occurred_at, received_at, source, event_id,
                                                    detail, payload)
               SELECT id, k.kind, now() - interval '30 seconds', now(), 'worker', 'kalix:' || id || ':1:' || k.kind, '',
                      '{}'::jsonb
                 FROM messaging_message, (VALUES ('handed_off'), ('accepted')) AS k(kind)
                WHERE id BETWEEN %s AND %s""",
            [first, last],
        )
    for lo in range(first, last + 1, 5000):
        recompute_status_range(lo, min(lo + 4999, last))
    return first, last


def reports_to_post(first: int, last: int) -> list[tuple[int, str, dict]]:
    """(message id, status, report) in posting order: per message 'sent' then 'delivered' (10 % the other
    way round), 10 % of reports posted twice, messages interleaved as a carrier's stream would be."""
    from messaging.models import Message

    rng = random.Random(13)
    keys = dict(Message.objects.filter(pk__range=(first, last)).values_list("id", "send_key"))
    at = datetime.now(UTC) - timedelta(seconds=20)
    posts = []
    for pk in range(first, last + 1):
        pair = []
        for status, offset in (("sent", 0), ("delivered", 1)):
            report = {
                "id": f"SIM{pk}-{status}",
                "ref": str(keys[pk]),
                "message_id": f"SIM{pk}",
                "status": status,
                "at": (at + timedelta(seconds=offset)).isoformat(),
            }
            pair.append((pk, status, report))
        if rng.random() < 0.10:
            pair.reverse()  # 'delivered' arrives first
        for item in list(pair):
            if rng.random() < 0.10:
                pair.append(item)  # posted twice
        posts.append(pair)
    # interleave: message k's reports spread among the others', keeping each message's own order
    stream, window = [], 64
    for start in range(0, len(posts), window):
        chunk = posts[start : start + window]
        while any(chunk):
            for pair in chunk:
                if pair:
                    stream.append(pair.pop(0))
    return stream


def post_all(url: str, stream: list, accepted_at: dict | None) -> tuple[float, int, set]:
    """POST every report from CLIENTS threads; returns (seconds, non-2xx answers, ids answered 2xx)."""
    import requests

    from messaging.authenticity import sim_headers

    lock = threading.Lock()
    position = iter(range(len(stream)))
    bad = [0]
    ok_ids: set = set()

    def client():
        session = requests.Session()
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                return
            pk, status, report = stream[i]
            body = json.dumps({"reports": [report]}).encode()
            headers = {"Content-Type": "application/json", **sim_headers(body, SECRET)}
            try:
                response = session.post(url, data=body, headers=headers, timeout=30)
                good = response.status_code < 300
            except requests.RequestException:
                good = False
            now = time.monotonic()
            with lock:
                if not good:
                    bad[0] += 1
                    continue
                ok_ids.add(report["id"])
                if accepted_at is not None and status == "delivered" and pk not in accepted_at:
                    accepted_at[pk] = now

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - start, bad[0], ok_ids


def watch_success(sample: list[int], seen_at: dict, stop: threading.Event) -> None:
    from django.db import connection

    from messaging.models import Message

    waiting = set(sample)
    while waiting and not stop.is_set():
        done = set(Message.objects.filter(pk__in=waiting, status="success").values_list("id", flat=True))
        now = time.monotonic()
        for pk in done:
            seen_at[pk] = now
        waiting -= done
        time.sleep(0.1)
    connection.close()


def start_web(port: int, env: dict) -> subprocess.Popen:
    workers = os.environ.get("WEB_CONCURRENCY", "3")
    cmd = [sys.executable, "-m", "gunicorn", "kalix_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", workers]
    cmd += ["--no-control-socket", "--log-level", "warning"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def main() -> None:
    os.environ["KALIX_SIMCARRIER_SECRET"] = SECRET
    setup_django("reports")
    import requests
    from django.conf import settings
    from django_q.models import Schedule

    from clinics.models import Clinic
    from clinics.services import patient_create
    from lanes.pokes import LIVE
    from messaging.models import DeliveryEvent, Message
    from tests.support.processes import Cluster, free_port

    Schedule.objects.all().delete()
    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench")
    patient = patient_create(
        clinic=clinic, first_name="Bench", last_name="Patient", mobile="+61412000001", messaging_consent="opted_in"
    )
    first, last = make_handed_off(clinic, patient)
    stream = reports_to_post(first, last)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.reports_settings",
        "KALIX_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    web = start_web(port, env)
    cluster = Cluster(LIVE, workers=settings.LIVE_WORKERS)
    try:
        cluster.wait_alive(60)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.post(f"http://127.0.0.1:{port}/bench/bare/", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        bare_s, bare_bad, _ = post_all(f"http://127.0.0.1:{port}/bench/bare/", stream, None)

        sample = list(range(first, last + 1, SAMPLE_EVERY))
        accepted_at, seen_at, stop = {}, {}, threading.Event()
        watcher = threading.Thread(target=watch_success, args=(sample, seen_at, stop))
        watcher.start()
        ours_s, ours_bad, ok_ids = post_all(f"http://127.0.0.1:{port}/messages/webhooks/sim/", stream, accepted_at)
        settle_deadline = time.monotonic() + 300
        while Message.objects.filter(pk__range=(first, last)).exclude(status="success").exists():
            if time.monotonic() > settle_deadline:
                break
            time.sleep(0.5)
        stop.set()
        watcher.join()
    finally:
        cluster.stop()
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)

    events = set(
        DeliveryEvent.objects.filter(message__id__gte=first, message__id__lte=last, source="provider").values_list(
            "event_id", flat=True
        )
    )
    lost = len({f"sim:{i}" for i in ok_ids} - events)
    wrong = Message.objects.filter(pk__range=(first, last)).exclude(status="success").count()
    # shown before its 2xx came back (applied while the answer was on its way): no lag, not a negative one
    lags = sorted(max(0.0, seen_at[pk] - accepted_at[pk]) for pk in sample if pk in seen_at and pk in accepted_at)
    p95 = lags[int(len(lags) * 0.95) - 1] if lags else float("nan")
    posts = len(stream)
    ours_rate, bare_rate = (posts - ours_bad) / ours_s, (posts - bare_bad) / bare_s
    load = os.getloadavg()
    print_table(
        f"Delivery reports: {posts:,} POSTs ({N:,} messages, sent + delivered, 10 % twice, 10 % out of order), "
        f"{CLIENTS} clients, gunicorn {os.environ.get('WEB_CONCURRENCY', '3')} workers, load {load[0]:.2f}",
        [
            ("ours (webhook -> inbox -> live lane)", f"{ours_s:.2f}", f"{ours_rate:,.0f}", ours_bad),
            ("bare Django view (204)", f"{bare_s:.2f}", f"{bare_rate:,.0f}", bare_bad),
        ],
        ("endpoint", "seconds", "answered 2xx/s", "non-2xx"),
    )
    print(f"apply lag: p50 {lags[len(lags) // 2] if lags else float('nan'):.2f} s, p95 {p95:.2f} s over {len(lags)}")
    bench_line(
        {
            "scenario": "reports",
            "reports": posts,
            "accepted_per_s": round(ours_rate, 1),
            "bare_per_s": round(bare_rate, 1),
            "ratio_to_bare": round(ours_rate / bare_rate, 2),
            "apply_lag_p95_s": round(p95, 2),
            "lost": lost,
            "wrong_status": wrong,
        }
    )
