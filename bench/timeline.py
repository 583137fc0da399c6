"""`make bench SCENARIO=timeline`: the message detail page with 10,000 events vs. one with 5, same run.

Three messages of one clinic, their events inserted set-based:
- baseline: 5 events (queued, handed to carrier, accepted, sent, delivered);
- repeats: 10,000 events, 9,996 of them the carrier's 'accepted' reported again and again (the
  incident's message had 2,087): collapsed into one line;
- no runs: 10,000 events alternating 'accepted' and 'sent', so nothing collapses: the page shows the
  first and latest MESSAGING_TIMELINE_MAX_LINES / 2 lines and "N more events not shown".

Each page is fetched through Django's test client as a logged-in staff member (the whole request:
middleware, session, selectors, template), BENCH_TIMELINE_REQUESTS times after one warm-up request;
median and p95 wall time. For contrast, "uncollapsed" times what the page did before for the
10,000-event message's timeline alone: fetch every event through the ORM and render a row for each.
Target: the 10,000-event pages under 100 ms.
"""

import os
import statistics
import time

from bench.common import bench_line, print_table, setup_django

REQUESTS = int(os.environ.get("BENCH_TIMELINE_REQUESTS", "30"))
EVENTS = int(os.environ.get("BENCH_TIMELINE_EVENTS", "10000"))
TARGET_MS = 100

EVENTS_SQL = """
    INSERT INTO messaging_deliveryevent (message_id, kind, event_id, occurred_at, received_at, source, detail, payload)
    SELECT %(message)s,
           CASE WHEN %(alternate)s THEN (CASE WHEN i %% 2 = 0 THEN 'accepted' ELSE 'sent' END) ELSE 'accepted' END,
           'bench:' || %(message)s || ':' || i, %(start)s + i * interval '1 second', now(), 'provider', '', '{}'
      FROM generate_series(1, %(n)s) AS i
"""


def main() -> None:
    setup_django("timeline")
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.template import engines
    from django.test import Client
    from django.utils import timezone

    from clinics.models import Clinic, StaffMembership
    from clinics.roles import CLINIC_STAFF
    from messaging.events import NewEvent, record_events
    from messaging.models import DeliveryEvent, Message
    from messaging.selectors import message_events
    from messaging.timeline import timeline
    from messaging.vocabulary import KINDS

    clinic = Clinic.objects.create(name="Bench Clinic", slug="bench", timezone="Australia/Sydney")
    user = get_user_model().objects.create_user("bench")
    StaffMembership.objects.create(user=user, clinic=clinic, role="practitioner")
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name=CLINIC_STAFF))
    start = timezone.now() + timedelta(seconds=1)

    def message(repeated: int, *, alternate: bool = False) -> Message:
        m = Message.objects.create(clinic=clinic, channel="sms", recipient="+61412000001", body="bench")
        own = [NewEvent(m.pk, k, f"bench:{m.pk}:{k}", occurred_at=start) for k in ("queued", "handed_off")]
        if repeated:
            with connection.cursor() as cursor:
                cursor.execute(
                    EVENTS_SQL,
                    {"message": m.pk, "alternate": alternate, "start": start, "n": repeated},
                )
        later = start + timedelta(seconds=repeated + 1)
        final = [
            NewEvent(m.pk, k, f"bench:{m.pk}:{k}:final", occurred_at=later + timedelta(seconds=n), source="provider")
            for n, k in enumerate(("sent", "delivered"))
        ]
        record_events(own + final)
        return m

    small = message(1)
    repeats = message(EVENTS - 4)
    alternating = message(EVENTS - 4, alternate=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_deliveryevent")
    counts = {m.pk: DeliveryEvent.objects.filter(message=m).count() for m in (small, repeats, alternating)}

    client = Client()
    client.force_login(user)

    def page_ms(m: Message) -> tuple[list[float], int]:
        url = f"/messages/{m.pk}/"
        response = client.get(url)  # warm-up
        assert response.status_code == 200, response.status_code
        lines = len(timeline(message_events(message=m)))  # what the page shows
        times = []
        for _ in range(REQUESTS):
            t = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - t) * 1000)
        return times, lines

    old_rows = engines["django"].from_string(
        "{% for e in events %}<tr><td>{{ e.occurred_at|date:'j M H:i:s' }}</td><td>{{ e.words }}</td></tr>{% endfor %}"
    )

    def uncollapsed_ms(m: Message) -> list[float]:
        times = []
        for _ in range(max(REQUESTS // 5, 3)):
            t = time.perf_counter()
            events = list(m.events.order_by("occurred_at", "id"))
            for e in events:
                e.words = KINDS[e.kind].timeline_words
            old_rows.render({"events": events})
            times.append((time.perf_counter() - t) * 1000)
        return times

    results = {}
    for name, m in (("baseline", small), ("repeats", repeats), ("no runs", alternating)):
        times, lines = page_ms(m)
        results[name] = (statistics.median(times), _p95(times), lines, counts[m.pk])
    old = uncollapsed_ms(repeats)
    old_median, old_p95 = statistics.median(old), _p95(old)

    rows = [
        (name, f"{events:,}", lines, f"{median:.1f}", f"{p95:.1f}")
        for name, (median, p95, lines, events) in results.items()
    ]
    rows.append(
        (
            "uncollapsed timeline only (before)",
            f"{counts[repeats.pk]:,}",
            counts[repeats.pk],
            f"{old_median:.1f}",
            f"{old_p95:.1f}",
        )
    )
    print_table(
        f"Message detail page, {REQUESTS} requests each (ms)",
        rows,
        ("message", "events", "timeline lines", "median", "p95"),
    )
    load = os.getloadavg()[0]
    print(f"load average while measuring: {load:.1f} (2 cores; other work on the machine inflates every figure)")
    worst = max(results["repeats"][1], results["no runs"][1])
    print(f"target: 10,000-event pages under {TARGET_MS} ms at p95: {'met' if worst < TARGET_MS else 'NOT met'}")
    bench_line(
        {
            "scenario": "timeline",
            "events": EVENTS,
            "baseline_ms": round(results["baseline"][0], 1),
            "repeats_ms": round(results["repeats"][0], 1),
            "no_runs_ms": round(results["no runs"][0], 1),
            "worst_p95_ms": round(worst, 1),
            "uncollapsed_ms": round(old_median, 1),
            "ratio_to_baseline": round(max(results["repeats"][0], results["no runs"][0]) / results["baseline"][0], 2),
            "load_average": round(load, 1),
        }
    )


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


if __name__ == "__main__":
    main()
