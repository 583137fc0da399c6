"""`make bench SCENARIO=reminders`: 100,000 appointments whose reminders all fall due in the same minute,
sent through the simulated carrier by a real live-lane cluster, while staff compose single messages at
5 per second.

1. Seed BENCH_APPOINTMENTS (default 100,000) opted-in patients and one booked appointment each, starting
   a little over a day ahead, and one rule "SMS 24 h before" (set-based SQL: the bench's own data).
2. Start the per-message carrier (`start_carrier`: 150 +- 50 ms a request, a 1,000 requests/s account
   limit answered with 429, and our token bucket for that account at the same rate) and a live-lane cluster of
   BENCH_WORKERS workers (default 4).
3. Make every reminder fall due in the same minute (move the appointments to start 23 h 59 min ahead,
   spread over 60 s) and poke the reminder drain, as its schedule does every minute; the clock starts.
4. Meanwhile staff compose BENCH_MANUAL_RATE SMS per second (default 5) through message_send, from the
   moment the reminders are due until the last reminder is with the carrier.

Reported: due → all reminders accepted by the carrier (s); the composed messages' time from creation
to the carrier's acceptance (the worker's 'accepted' event), p50 and p95 (s); messages the carrier
received twice. Targets: all sent in ≤ 250 s, manual p95 ≤ 2 s, nothing twice.
"""

import os
import threading
import time

from bench.common import bench_line, print_table, setup_django
from bench.incident import pct

APPOINTMENTS = int(os.environ.get("BENCH_APPOINTMENTS", 100_000))
WORKERS = int(os.environ.get("BENCH_WORKERS", 4))
MANUAL_RATE = float(os.environ.get("BENCH_MANUAL_RATE", 5))
LATENCY_MS = int(os.environ.get("BENCH_CARRIER_LATENCY_MS", 150))
JITTER_MS = int(os.environ.get("BENCH_CARRIER_JITTER_MS", 50))
LIMIT_PER_S = int(os.environ.get("BENCH_CARRIER_LIMIT_PER_S", 1000))
TIMEOUT = float(os.environ.get("BENCH_REMINDERS_TIMEOUT", 900))
SIM_SECRET = "bench-sim-secret"


def start_carrier():
    """The simulated carrier the bench sends through, and the settings the cluster needs to reach it: one
    message per request, LATENCY_MS +- JITTER_MS, an account limit of LIMIT_PER_S answered with 429 and
    Retry-After beyond it, and our shared token bucket for that account set to the same limit (as an
    operator sets it in admin)."""
    from lanes import buckets
    from messaging.simcarrier import CarrierConfig, SimCarrier

    buckets.ensure("sim:default", rate_per_s=LIMIT_PER_S, burst=LIMIT_PER_S // 10)
    config = CarrierConfig(
        secret=SIM_SECRET, send_reports=False, latency_ms=LATENCY_MS, jitter_ms=JITTER_MS, limit_per_s=LIMIT_PER_S
    )
    carrier = SimCarrier(config).start()
    env = {
        "KALIX_SIMCARRIER_URL": carrier.url,
        "KALIX_SIMCARRIER_SECRET": SIM_SECRET,
        "KALIX_SMS_PROVIDER": "simulated",
    }
    return carrier, env


def seed(clinic, membership, n: int) -> None:
    """n opted-in patients with distinct mobiles, one booked appointment each, 25 h ahead (not due yet)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO clinics_patient (clinic_id, first_name, last_name, email, mobile, fax, email_opt_out,
                   sms_opt_out, fax_opt_out, messaging_consent, consent_at, created_at, updated_at)
               SELECT %s, 'P' || i, 'Bench', '', '+61413' || lpad(i::text, 6, '0'), '', false, false, false,
                      'opted_in', now(), now(), now()
                 FROM generate_series(1, %s) AS i""",
            [clinic.pk, n],
        )
        cursor.execute(
            """INSERT INTO clinics_appointment (clinic_id, patient_id, practitioner_id, starts_at, ends_at, notes,
                   status, reply, created_at, updated_at)
               SELECT %s, p.id, %s, now() + interval '25 hours', now() + interval '25 hours 30 minutes', '',
                      'booked', '', now(), now()
                 FROM clinics_patient p WHERE p.clinic_id = %s""",
            [clinic.pk, membership.pk, clinic.pk],
        )
        cursor.execute("ANALYZE clinics_patient; ANALYZE clinics_appointment")


def make_due() -> None:
    """Every appointment now starts 23 h 59 min to 23 h 58 min ahead: every 24 h reminder is due, all in
    the same minute."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE clinics_appointment
                  SET starts_at = now() + interval '23 hours 58 minutes' + (id % 60) * interval '1 second',
                      ends_at = now() + interval '24 hours 30 minutes'"""
        )


class Composer(threading.Thread):
    """A receptionist (or several) sending single SMS at `rate` per second until stopped."""

    def __init__(self, clinic, rate: float):
        super().__init__(daemon=True)
        self.clinic, self.rate, self.ids, self.stop = clinic, rate, [], threading.Event()

    def run(self):
        from django.db import connection

        from messaging.services import message_send

        next_at, n = time.monotonic(), 0
        try:
            while not self.stop.is_set():
                n += 1
                message = message_send(
                    clinic=self.clinic, channel="sms", recipient=f"+6141{n % 10_000_000:07d}", body="Running late?"
                )
                self.ids.append(message.pk)
                next_at += 1.0 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            connection.close()


def manual_seconds(ids: list[int]) -> list[float]:
    """Per composed message: creation to the carrier's acceptance (its 'accepted' event)."""
    from django.db.models import Min

    from messaging.models import DeliveryEvent

    accepted = dict(
        DeliveryEvent.objects.filter(message_id__in=ids, kind="accepted")
        .values("message_id")
        .annotate(at=Min("received_at"))
        .values_list("message_id", "at")
    )
    from messaging.models import Message

    created = dict(Message.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    return [(accepted[pk] - created[pk]).total_seconds() for pk in ids if pk in accepted]


def main() -> None:
    setup_django("reminders")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django_q.models import Schedule

    from clinics.models import Clinic, StaffMembership
    from lanes.pokes import LIVE, poke
    from messaging import reminders, templating
    from messaging.models import Message, Reminder
    from tests.support.processes import Cluster, wait_for

    load_before = os.getloadavg()
    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="Australia/Sydney", sms_sender="Bench")
    user = get_user_model().objects.create_user("bench-reception")
    membership = StaffMembership.objects.create(user=user, clinic=clinic, role="reception")
    started = time.perf_counter()
    seed(clinic, membership, APPOINTMENTS)
    print(f"seeded {APPOINTMENTS:,} patients and appointments in {time.perf_counter() - started:.0f} s", flush=True)
    template = templating.template_save(
        clinic=clinic,
        name="Day before",
        channel="sms",
        body="Hi {first_name}, a reminder of your appointment at {clinic_name} on {appointment_date} at "
        "{appointment_time}. Reply Y to confirm or N if you cannot come.",
    )
    reminders.rule_create(clinic=clinic, template=template, hours_before=24)
    Schedule.objects.all().delete()  # the bench pokes as the schedules would; none runs behind its back

    carrier, env = start_carrier()
    settings.SIMCARRIER_URL, settings.SIMCARRIER_SECRET = env["KALIX_SIMCARRIER_URL"], SIM_SECRET
    live = Cluster(LIVE, workers=WORKERS, KALIX_Q_POLL=0.05, **env)
    composer = Composer(clinic, MANUAL_RATE)
    automated = settings.MESSAGING_AUTOMATED_PRIORITY
    try:
        live.wait_alive(60)
        make_due()
        t0 = time.perf_counter()
        poke(reminders.DRAIN, lane=LIVE)
        composer.start()

        def all_sent():
            poke(reminders.DRAIN, lane=LIVE)  # as the schedule does each minute; coalesced while one waits
            sent = Message.objects.filter(priority=automated, dispatch="handed_off").count()
            return sent >= APPOINTMENTS

        wait_for(all_sent, timeout=TIMEOUT, interval=1.0, message="every reminder handed to the carrier")
        due_to_all_sent = time.perf_counter() - t0
        composer.stop.set()
        composer.join()
        wait_for(lambda: len(manual_seconds(composer.ids)) == len(composer.ids), timeout=60, message="composed sent")
        manual = manual_seconds(composer.ids)
    finally:
        composer.stop.set()
        live.stop()
        carrier.stop()
    load_after = os.getloadavg()

    receipts = list(carrier.receipts)
    sent_twice = len(receipts) - len(set(receipts))
    reminders_made = Reminder.objects.count()
    messages_made = Message.objects.filter(priority=automated).count()
    rows = [
        ("reminders due", f"{APPOINTMENTS:,}"),
        ("reminders made / messages", f"{reminders_made:,} / {messages_made:,}"),
        ("due → all with the carrier", f"{due_to_all_sent:.1f} s ({APPOINTMENTS / due_to_all_sent:,.0f}/s)"),
        (f"composed at {MANUAL_RATE:g}/s", f"{len(manual)}"),
        ("composed: creation → carrier accepted, p50", f"{pct(manual, 50):.2f} s"),
        ("composed: creation → carrier accepted, p95", f"{pct(manual, 95):.2f} s"),
        ("composed: max", f"{max(manual):.2f} s"),
        ("carrier received twice", f"{sent_twice}"),
        ("carrier requests / answered 429", f"{carrier.requests:,} / {carrier.http_429:,}"),
        ("load average (1, 5, 15 min) before / after", f"{load_before} / {tuple(round(x, 2) for x in load_after)}"),
    ]
    print_table(
        f"Reminders flood: {APPOINTMENTS:,} due in one minute, {WORKERS} live workers, carrier one message per "
        f"request, {LATENCY_MS} +- {JITTER_MS} ms, account limit {LIMIT_PER_S}/s",
        rows,
        ("what", "value"),
    )
    bench_line(
        {
            "scenario": "reminders",
            "appointments": APPOINTMENTS,
            "due_to_all_sent_s": round(due_to_all_sent, 1),
            "manual_p95_s": round(pct(manual, 95), 2),
            "sent_twice": sent_twice,
        }
    )
