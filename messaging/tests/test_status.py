"""The status is a pure function of the event set: order and duplicates never change it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.postgres.search import SearchQuery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import DeliveryEvent, EventKind, Message, Status
from messaging.status import Derived, derive, detail_for, recompute_status, recompute_status_range
from messaging.vocabulary import KINDS

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class Ev:
    def __init__(self, kind, minute, event_id, detail=""):
        self.kind, self.occurred_at, self.event_id, self.detail = kind, T0 + timedelta(minutes=minute), event_id, detail

    def __repr__(self):
        return f"Ev({self.kind!r}, {self.occurred_at:%M}, {self.event_id!r})"


# Few distinct minutes and ids, so ties on rank and time are common.
events = st.builds(
    Ev,
    kind=st.sampled_from(EventKind.values),
    minute=st.integers(0, 3),
    event_id=st.text(alphabet="abcXYZ:-_0", min_size=1, max_size=4),
    detail=st.sampled_from(["", "mailbox full", "busy"]),
)


def unique_ids(evs):
    """The database keeps one event per event_id (the first to arrive); model that here."""
    seen = {}
    for e in evs:
        seen.setdefault(e.event_id, e)
    return list(seen.values())


@given(st.lists(events, min_size=1, max_size=12).map(unique_ids), st.randoms(use_true_random=False))
def test_status_ignores_arrival_order(evs, rnd):
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    assert derive(shuffled) == derive(evs)


@given(st.lists(events, min_size=1, max_size=12).map(unique_ids), st.data())
def test_duplicates_change_nothing(evs, data):
    repeats = data.draw(st.lists(st.sampled_from(evs), max_size=10))
    assert derive(evs + repeats) == derive(evs)


@given(st.lists(events, min_size=1, max_size=12).map(unique_ids))
def test_status_comes_from_the_highest_ranked_event(evs):
    top_rank = max(KINDS[e.kind].rank for e in evs)
    assert derive(evs).status in {KINDS[e.kind].status for e in evs if KINDS[e.kind].rank == top_rank}


def test_a_late_sent_never_undoes_delivered():
    delivered, late_sent = Ev("delivered", 1, "d"), Ev("sent", 5, "s")
    assert derive([delivered, late_sent]) == Derived(Status.SUCCESS, "Delivered", delivered.occurred_at)


def test_a_late_sent_never_undoes_a_failure():
    assert derive([Ev("undelivered", 1, "u"), Ev("sent", 5, "s")]).status == Status.FAILED


def test_a_bounce_after_delivered_is_a_failure():
    result = derive([Ev("accepted", 0, "a"), Ev("delivered", 1, "d"), Ev("bounced", 2, "b", "mailbox full")])
    assert result.status == Status.FAILED
    assert result.detail == "Bounced: mailbox full"


def test_sending_says_whether_the_carrier_has_accepted():
    assert derive([Ev("queued", 0, "q"), Ev("handed_off", 1, "h")]).detail == "Handing to carrier, not yet accepted"
    assert derive([Ev("handed_off", 1, "h"), Ev("accepted", 2, "a")]).detail == (
        "Handed to carrier, waiting for delivery report"
    )


def test_a_retry_after_a_temporary_problem_moves_on():
    assert derive([Ev("queued", 0, "q"), Ev("deferred", 1, "d", "busy")]) == Derived(
        Status.PENDING, "Temporary problem, will retry: busy", T0 + timedelta(minutes=1)
    )
    assert derive([Ev("queued", 0, "q"), Ev("deferred", 1, "d"), Ev("accepted", 2, "a")]).status == Status.SENDING


def test_no_events_is_pending():
    assert derive([]).status == Status.PENDING


# --- The SQL recompute agrees with derive() ------------------------------------------------------------


def make_message(clinic, patient, **extra):
    return Message.objects.create(
        clinic=clinic, patient=patient, channel="sms", recipient=str(patient.mobile), subject="Recall", **extra
    )


def store(message, evs):
    DeliveryEvent.objects.bulk_create(
        [
            DeliveryEvent(
                message=message,
                kind=e.kind,
                occurred_at=e.occurred_at,
                received_at=T0,
                source="provider",
                event_id=f"{message.pk}/{e.event_id}",
                detail=e.detail,
            )
            for e in evs
        ]
    )


def prefixed(message, evs):
    """The same events with the ids as stored (prefixed with the message id, as they must be unique)."""
    minute = lambda e: int((e.occurred_at - T0).total_seconds() // 60)  # noqa: E731
    return [Ev(e.kind, minute(e), f"{message.pk}/{e.event_id}", e.detail) for e in evs]


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(events, max_size=8).map(unique_ids), min_size=1, max_size=5))
def test_sql_recompute_agrees_with_derive(clinic_a, patient_a, batches):
    messages = []
    for evs in batches:
        message = make_message(clinic_a, patient_a)
        store(message, evs)
        messages.append((message, evs))
    recompute_status([m.pk for m, _ in messages])
    for message, evs in messages:
        message.refresh_from_db()
        expected = derive(prefixed(message, evs))
        assert (message.status, message.status_detail, message.status_at) == (
            expected.status,
            expected.detail,
            expected.at,
        )
    Message.objects.filter(pk__in=[m.pk for m, _ in messages]).delete()


@pytest.mark.django_db
def test_range_recompute_touches_only_its_range_and_fills_search(clinic_a, patient_a):
    inside, outside = make_message(clinic_a, patient_a), make_message(clinic_a, patient_a)
    store(inside, [Ev("delivered", 1, "d")])
    store(outside, [Ev("delivered", 1, "d")])
    assert recompute_status_range(inside.pk, inside.pk) == 1
    inside.refresh_from_db()
    outside.refresh_from_db()
    assert (inside.status, outside.status) == (Status.SUCCESS, Status.PENDING)
    assert Message.objects.filter(pk=inside.pk, search=SearchQuery("lovelace", config="simple")).exists()
    assert not Message.objects.filter(pk=outside.pk, search=SearchQuery("lovelace", config="simple")).exists()


@pytest.mark.django_db
def test_recompute_leaves_unchanged_rows_alone(clinic_a, patient_a):
    message = make_message(clinic_a, patient_a)
    store(message, [Ev("queued", 0, "q")])
    assert recompute_status([message.pk]) == 1
    assert recompute_status([message.pk]) == 0


def test_detail_carries_the_provider_reason():
    assert detail_for("rejected", "invalid number") == "Rejected by the provider: invalid number"
