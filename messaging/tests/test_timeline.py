"""Readable timelines: duplicate reports add nothing, repeats collapse into one line with a count and
their first and last time, and a message with thousands of events costs the page the same queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import selectors
from messaging.events import NewEvent, insert_events, record_events
from messaging.services import message_send
from messaging.timeline import timeline

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
    assert "2,961 more lines not shown (Sent 1,481 times, Carrier accepted it 1,480 times)" in page


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
    client_a, clinic_a, patient_a, django_assert_max_num_queries, settings
):
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
        with CaptureQueriesContext(connection) as queries:
            assert client_a.get(f"/messages/{message.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[0]):
        response = client_a.get(f"/messages/{big.pk}/")
    lines = response.context["timeline"]
    assert len(lines) <= settings.MESSAGING_TIMELINE_MAX_LINES + 1  # + the "more lines" note
    assert [x.count for x in lines[:3]] == [1, 4000, 1] and lines[-1].words == "Delivered"
