"""`make bench SCENARIO=inbox`: new messages' time to 'Sending' with 10,000 unmatched delivery reports in
the webhook inbox, against the same stream on an idle system, in one run.

1. Seed BENCH_INBOX_HISTORIC messages (default 200,000; set-based, no provider id, as held, cancelled
   and not-yet-sent messages are), so matching a report by provider id has a real table to search.
2. A real live-lane cluster, the simulated carrier (its delivery reports go back over HTTP), and a real
   gunicorn serving the webhook.
3. idle: BENCH_LIVE_RATE SMS/s (default 20) through message_send for BENCH_INBOX_SECONDS (default 20).
4. flood: the same stream while BENCH_INBOX_REPORTS (default 10,000) unmatched signed reports are posted
   to the webhook, BENCH_INBOX_PER_POST (250) per POST; they are tried, backed off and parked
   (KALIX_INBOX_MAX_TRIES=3, base 1 s, cap 2 s for the cluster, so they park within the run).
5. parked: once every report is parked, the same stream again, with 10,000 parked rows in the inbox.

Time to Sending is from creation to the worker's hand-off event (bench.reindex.time_to_sending_ms).
The ratios flood/idle and parked/idle should be about 1.
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

from bench.common import ROOT, bench_line, print_table, setup_django
from bench.incident import free_port, pct
from bench.reindex import LiveStream, time_to_sending_ms

HISTORIC = int(os.environ.get("BENCH_INBOX_HISTORIC", 200_000))
REPORTS = int(os.environ.get("BENCH_INBOX_REPORTS", 10_000))
PER_POST = int(os.environ.get("BENCH_INBOX_PER_POST", 250))
LIVE_RATE = float(os.environ.get("BENCH_LIVE_RATE", 20))
SECONDS = float(os.environ.get("BENCH_INBOX_SECONDS", 20))
SIM_SECRET = "bench-sim-secret"
CLUSTER_INBOX = {"KALIX_INBOX_MAX_TRIES": 3, "KALIX_INBOX_RETRY_BASE_SECONDS": 1, "KALIX_INBOX_RETRY_MAX_SECONDS": 2}


class Poster(threading.Thread):
    """Posts `n` signed reports that match no message, in batches, as fast as the webhook takes them."""

    def __init__(self, url: str, n: int):
        super().__init__(daemon=True)
        self.url, self.n, self.codes, self.seconds = url, n, {}, 0.0

    def run(self):
        import requests

        from messaging.authenticity import sim_headers

        at = datetime.now(UTC).isoformat()
        started = time.perf_counter()
        with requests.Session() as http:
            for first in range(0, self.n, PER_POST):
                reports = [
                    {"id": f"stray-{i}", "ref": str(uuid.uuid4()), "message_id": f"SIMX{i}", "status": "delivered"}
                    | {"at": at}
                    for i in range(first, min(first + PER_POST, self.n))
                ]
                body = json.dumps({"reports": reports}).encode()
                headers = {"Content-Type": "application/json", **sim_headers(body, SIM_SECRET)}
                code = http.post(self.url, data=body, headers=headers, timeout=60).status_code
                self.codes[code] = self.codes.get(code, 0) + 1
        self.seconds = time.perf_counter() - started


def live_age() -> float:
    from lanes.pokes import LIVE
    from lanes.registry import lane_snapshot

    return lane_snapshot()[LIVE]["oldest_age_s"] or 0.0


def stream(clinic, seconds: float, *, during: threading.Thread | None = None) -> tuple[list[float], float]:
    """Send the live stream for `seconds`, and while `during` (started here) runs; returns the times to
    Sending (ms) and the live lane's largest oldest age seen (s)."""
    ages = []
    with LiveStream(clinic, LIVE_RATE) as live:
        if during:
            during.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or (during and during.is_alive()):
            ages.append(live_age())
            time.sleep(0.5)
    return time_to_sending_ms(live.ids), max(ages, default=0.0)


def main() -> None:
    setup_django("inbox")
    from django.conf import settings

    from clinics.models import Clinic
    from messaging.models import WebhookInbox
    from messaging.simcarrier import CarrierConfig, SimCarrier
    from tests.support.processes import Cluster, wait_for
    from tests.support.seed import indexes_deferred, seed_messages

    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="UTC", sms_sender="Bench")
    started = time.perf_counter()
    with indexes_deferred("messaging_message", "messaging_deliveryevent"):
        seed_messages(clinic_id=clinic.pk, count=HISTORIC)
    print(f"seeded {HISTORIC:,} historic messages in {time.perf_counter() - started:.0f} s", flush=True)

    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    carrier = SimCarrier(CarrierConfig(secret=SIM_SECRET, report_delay_ms=200)).start()
    settings.SIMCARRIER_URL, settings.SIMCARRIER_SECRET = carrier.url, SIM_SECRET
    env = {"KALIX_SIMCARRIER_URL": carrier.url, "KALIX_SIMCARRIER_SECRET": SIM_SECRET, "KALIX_PUBLIC_URL": web_url}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kalix_site.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    live = Cluster("live", KALIX_Q_POLL=0.05, **env, **CLUSTER_INBOX)
    results, rows = {}, []
    try:
        live.wait_alive(60)
        wait_for(lambda: _up(web_url), timeout=60, interval=0.5, message="gunicorn up")

        idle, idle_age = stream(clinic, SECONDS)
        rows.append(("idle", len(idle), f"{pct(idle, 50):.0f}", f"{pct(idle, 95):.0f}", f"{idle_age:.1f}", "0"))

        poster = Poster(web_url + "/messages/webhooks/sim/", REPORTS)
        flood, flood_age = stream(clinic, SECONDS, during=poster)
        poster.join()
        assert poster.codes == {204: -(-REPORTS // PER_POST)}, poster.codes
        waiting = WebhookInbox.objects.filter(parked_at__isnull=True).count()
        rows.append(
            (
                f"flood: {REPORTS:,} unmatched reports posted in {poster.seconds:.1f} s",
                len(flood),
                f"{pct(flood, 50):.0f}",
                f"{pct(flood, 95):.0f}",
                f"{flood_age:.1f}",
                f"{waiting:,} not parked yet",
            )
        )

        from lanes.pokes import LIVE, poke

        def all_parked():
            poke("messaging.worker.drain", lane=LIVE)  # as the safety-net schedule would, sooner
            return WebhookInbox.objects.filter(parked_at__isnull=True).count() == 0

        wait_for(all_parked, timeout=300, interval=1, message="every unmatched report parked")
        parked_n = WebhookInbox.objects.filter(parked_at__isnull=False).count()
        parked, parked_age = stream(clinic, SECONDS)
        rows.append(
            (
                f"{parked_n:,} reports parked in the inbox",
                len(parked),
                f"{pct(parked, 50):.0f}",
                f"{pct(parked, 95):.0f}",
                f"{parked_age:.1f}",
                f"{parked_n:,} parked",
            )
        )
        results = {"idle": idle, "flood": flood, "parked": parked, "flood_age": flood_age, "post_s": poster.seconds}
    finally:
        live.stop()
        web.terminate()
        web.wait(timeout=30)
        carrier.stop()

    print_table(
        f"Time to Sending (ms) at {LIVE_RATE:g} msg/s beside {REPORTS:,} unmatched reports; "
        f"{HISTORIC:,} historic messages (2 shared cores; noisy)",
        rows,
        ("inbox", "msgs", "p50 ms", "p95 ms", "live lane max age s", "inbox"),
    )
    idle_p95 = pct(results["idle"], 95)
    bench_line(
        {
            "scenario": "inbox",
            "reports": REPORTS,
            "historic": HISTORIC,
            "live_p95_idle_ms": round(idle_p95, 1),
            "live_p95_flood_ms": round(pct(results["flood"], 95), 1),
            "live_p95_parked_ms": round(pct(results["parked"], 95), 1),
            "flood_ratio": round(pct(results["flood"], 95) / idle_p95, 2),
            "parked_ratio": round(pct(results["parked"], 95) / idle_p95, 2),
            "flood_live_max_age_s": round(results["flood_age"], 1),
            "post_s": round(results["post_s"], 1),
        }
    )


def _up(url: str) -> bool:
    import requests

    try:
        return requests.get(url + "/healthz", timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False
