"""Readable timelines: duplicate reports add nothing, repeats collapse into one line with a count and
their first and last time, and a message with thousands of events costs the page the same queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import selectors
from messaging.events import NewEvent, insert_events, record_events
from messaging.models import DeliveryEvent
from messaging.services import message_send
from messaging.timeline import timeline
from statuspage import cache as status_cache

pytestmark = pytest.mark.django_db

T0 = datetime(2099, 11, 28, 0, 0, 5, tzinfo=UTC)  # 11:00:05 in Sydney (AEDT); after the queued event


def sms(clinic, patient):
    return message_send(clinic=clinic, patient=patient, channel="sms", body="hello")


def reports(message, kind, n, *, start=T0, step=timedelta(seconds=1), prefix=None, detail=""):
    prefix = prefix or f"r:{message.pk}:{kind}"
    return [
        NewEvent(message.pk, kind, f"{prefix}:{i}", occurred_at=start + i * step, source="provider", detail=detail)
        for i in range(n)
    ]


def words_of(message):
    return [(line.words, line.count) for line in timeline(selectors.message_events(message=message))]


def test_repeated_reports_collapse_into_one_line_with_a_count_and_first_and_last_time(client_a, clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    record_events(reports(message, "accepted", 2087))
    record_events([NewEvent(message.pk, "delivered", "r:d", occurred_at=T0 + timedelta(hours=1), source="provider")])

    assert words_of(message) == [("Queued for sending", 1), ("Carrier accepted it", 2087), ("Delivered", 1)]
    page = client_a.get(f"/messages/{message.pk}/").content.decode()
    assert page.count("Carrier accepted it") == 1
    assert "2,087 times" in page
    assert "28 Nov 11:00:05" in page  # first
    assert "28 Nov 11:34:51" in page  # last: 2,086 seconds later


def test_a_duplicate_report_adds_nothing_visible(clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    record_events(reports(message, "delivered", 1, prefix="sim:a"))
    record_events(reports(message, "delivered", 1, prefix="sim:a"))  # the same report again: same event id
    record_events(reports(message, "delivered", 1, prefix="esp:b"))  # the same fact under another id
    assert words_of(message) == [("Queued for sending", 1), ("Delivered", 1)]


def test_duplicates_of_simultaneous_reports_collapse_and_read_in_pipeline_order(clinic_a, patient_a):
    """A carrier with one-second timestamps reports 'delivered' and 'sent' at the same instant, each twice,
    interleaved, under other ids: two lines, 'Sent' before 'Delivered'."""
    message = sms(clinic_a, patient_a)
    for n in range(2):
        record_events(reports(message, "delivered", 1, prefix=f"d{n}") + reports(message, "sent", 1, prefix=f"s{n}"))
    assert words_of(message) == [("Queued for sending", 1), ("Sent", 1), ("Delivered", 1)]


def test_only_runs_collapse_so_the_story_keeps_its_order(clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    record_events(reports(message, "accepted", 3))
    record_events(reports(message, "sent", 1, start=T0 + timedelta(seconds=10)))
    record_events(reports(message, "accepted", 2, start=T0 + timedelta(seconds=20), prefix="late"))
    record_events(reports(message, "undelivered", 1, start=T0 + timedelta(seconds=30), detail="handset off"))
    lines = timeline(selectors.message_events(message=message))
    assert [(x.words, x.count, x.detail) for x in lines] == [
        ("Queued for sending", 1, ""),
        ("Carrier accepted it", 3, ""),
        ("Sent", 1, ""),
        ("Carrier accepted it", 2, ""),
        ("Could not be delivered", 1, "handset off"),
    ]
    assert (lines[1].at, lines[1].last_at) == (T0, T0 + timedelta(seconds=2))


def test_a_timeline_that_does_not_collapse_is_capped_with_a_note_of_what_is_left_out(
    client_a, clinic_a, patient_a, settings
):
    settings.MESSAGING_TIMELINE_MAX_LINES = 40
    message = sms(clinic_a, patient_a)
    alternating = [
        NewEvent(message.pk, kind, f"alt:{i}", occurred_at=T0 + timedelta(seconds=i), source="provider")
        for i, kind in enumerate(["accepted", "sent"] * 1500)
    ]
    insert_events(alternating)
    result = selectors.message_events(message=message)
    assert len(result.runs) == 40 and result.omitted_after == 20
    assert result.omitted == 3001 - 40
    assert result.omitted_kinds == (("sent", 1481), ("accepted", 1480))
    assert result.runs[0].kind == "queued" and result.runs[-1].occurred_last == T0 + timedelta(seconds=2999)
    page = client_a.get(f"/messages/{message.pk}/").content.decode()
    assert "2,961 more events not shown (Sent 1,481 times, Carrier accepted it 1,480 times)" in page


def test_a_long_run_with_duplicates_among_it_is_one_line_counting_each_event_once(clinic_a, patient_a):
    message = sms(clinic_a, patient_a)
    repeats = reports(message, "accepted", 3000)
    insert_events(
        repeats
        + [
            NewEvent(message.pk, "accepted", f"dup:{i}", occurred_at=e.occurred_at, source="provider")
            for i, e in enumerate(repeats[::7])
        ]
    )
    record_events(reports(message, "delivered", 1, start=T0 + timedelta(hours=1)))
    assert words_of(message) == [("Queued for sending", 1), ("Carrier accepted it", 3000), ("Delivered", 1)]
    (accepted,) = [x for x in selectors.message_events(message=message).runs if x.kind == "accepted"]
    assert (accepted.occurred_first, accepted.occurred_last) == (T0, T0 + timedelta(seconds=2999))


def test_the_detail_page_costs_the_same_queries_at_5_and_at_5000_events(
    client_a, clinic_a, patient_a, django_assert_max_num_queries, settings, fresh_generation
):
    """The staff status banner re-reads the status page's generation once a second per process (one query,
    statuspage.cache): on a loaded machine that second ran out inside one measured request and not the
    other (11 against 12 queries). With `fresh_generation` the read happens on every request, so each
    request pays it alike, wherever the interval falls; it also clears the banner an earlier test cached,
    which could otherwise expire mid-test."""
    small, big = sms(clinic_a, patient_a), sms(clinic_a, patient_a)
    record_events(reports(small, "accepted", 3) + reports(small, "delivered", 1, start=T0 + timedelta(hours=1)))
    insert_events(reports(big, "accepted", 4000))
    insert_events(
        NewEvent(big.pk, kind, f"mix:{i}", occurred_at=T0 + timedelta(hours=2, seconds=i), source="provider")
        for i, kind in enumerate(["sent", "accepted"] * 500)
    )
    record_events(reports(big, "delivered", 1, start=T0 + timedelta(hours=3)))

    client_a.get(f"/messages/{small.pk}/")  # warm: the first request of a process fills caches
    counts = []
    for message in (small, big):
        if message is big:
            status_cache.forget()  # the status banner's once-a-second generation check falls in this request
        with CaptureQueriesContext(connection) as queries:
            assert client_a.get(f"/messages/{message.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[0]):
        response = client_a.get(f"/messages/{big.pk}/")
    lines = response.context["timeline"]
    assert len(lines) <= settings.MESSAGING_TIMELINE_MAX_LINES + 1  # + the "more lines" note
    assert [x.count for x in lines[:3]] == [1, 4000, 1] and lines[-1].words == "Delivered"


def reference_runs(events):
    """The timeline by definition, in Python: sort, drop duplicates, group consecutive equal keys."""
    from messaging.vocabulary import KINDS

    order = sorted(events, key=lambda e: (e.occurred_at, KINDS[e.kind].rank, e.kind, e.source, e.detail, e.event_id))
    runs = []
    for e in order:
        key = (e.kind, e.source, e.detail)
        if runs and runs[-1]["key"] == key:
            runs[-1]["times"].add(e.occurred_at)
            runs[-1]["last"] = e.occurred_at
        else:
            runs.append({"key": key, "first": e.occurred_at, "last": e.occurred_at, "times": {e.occurred_at}})
    return [(r["key"][0], r["first"], r["last"], len(r["times"])) for r in runs]


@pytest.mark.parametrize("seed", range(12))
def test_the_collapsed_timeline_agrees_with_its_definition(clinic_a, patient_a, seed):
    """Random event logs (runs, duplicates, ties at one instant) against the definition, with caps that
    make the forward and backward reads meet, overlap or leave events between."""
    import random

    rng = random.Random(seed)
    message = sms(clinic_a, patient_a)
    events, t = [], T0
    for i in range(rng.randint(1, 400)):
        t += timedelta(seconds=rng.choice([0, 0, 1, 1, 1, 5]))
        kind = rng.choice(["accepted", "accepted", "accepted", "sent", "delivered", "deferred"])
        detail = rng.choice(["", "", "", "busy"])
        events.append(NewEvent(message.pk, kind, f"p:{seed}:{i}", occurred_at=t, source="provider", detail=detail))
        if rng.random() < 0.1:  # the same report again under another id
            events.append(
                NewEvent(message.pk, kind, f"dup:{seed}:{i}", occurred_at=t, source="provider", detail=detail)
            )
    insert_events(events)
    every = list(DeliveryEvent.objects.filter(message=message))
    expected = reference_runs(every)
    for max_lines in (2, 3, 10, 41, 1000):
        result = selectors.message_events(message=message, max_lines=max_lines)
        got = [(r.kind, r.occurred_first, r.occurred_last, r.count) for r in result.runs]
        head, tail = max_lines // 2, max_lines - max_lines // 2
        if len(expected) <= max_lines:
            assert (got, result.omitted) == (expected, 0), (max_lines, len(expected))
        else:
            assert got == expected[:head] + expected[-tail:], max_lines
            left_out = expected[head:-tail]
            assert result.omitted == sum(r[3] for r in left_out), max_lines
            assert result.omitted_after == head
            kinds = {}
            for kind, *_, count in left_out:
                kinds[kind] = kinds.get(kind, 0) + count
            assert dict(result.omitted_kinds) == kinds
