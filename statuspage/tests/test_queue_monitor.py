"""Queue-aware status: a lane's backlog proposes a draft incident, with hysteresis, and proposes resolving."""

from datetime import timedelta

import pytest
from django.utils import timezone

from lanes import registry
from lanes.pokes import LIVE
from statuspage import queue_monitor, services, states
from statuspage.models import Incident

backlog = {"depth": 0, "oldest": None}


def fake_backlog():
    return backlog["depth"], backlog["oldest"]


@pytest.fixture(autouse=True)
def empty_backlog(monkeypatch):
    """A kind of the live lane whose depth each test sets; registered for this module's tests only."""
    monkeypatch.setattr(registry, "_kinds", dict(registry._kinds))
    registry.register_kind(lane=LIVE, kind="statuspage_test_backlog", depth=fake_backlog, drainer="builtins.len")
    yield
    backlog.update(depth=0, oldest=None)


@pytest.fixture
def thresholds(settings):
    settings.STATUSPAGE_QUEUE_RAISE_AGE_SECONDS = 300
    settings.STATUSPAGE_QUEUE_CLEAR_AGE_SECONDS = 60


def waiting(depth, age_s, now):
    """`depth` items wait, the oldest for `age_s` (lane_snapshot measures ages against the real clock)."""
    backlog.update(depth=depth, oldest=timezone.now() - timedelta(seconds=age_s) if depth else None)


def test_a_growing_backlog_proposes_a_draft_with_backlog_and_eta(components, thresholds):
    now = timezone.now()
    waiting(5000, 200, now)
    assert queue_monitor.measure(now=now) == {"live": "steady"}  # under the threshold
    waiting(4000, 400, now + timedelta(minutes=1))
    assert queue_monitor.measure(now=now + timedelta(minutes=1)) == {"live": "proposed incident"}
    draft = Incident.objects.get()
    assert draft.is_draft and draft.name == "Email: delays"
    # 1000 items drained in 60 s: 4000 left take about 4 minutes
    assert "4000 items waiting" in draft.draft_note and "about 4 minutes" in draft.draft_note
    assert "oldest has waited 7 minutes" in draft.draft_note
    assert {link.component.name: link.status for link in draft.incident_components.all()} == {
        "Email": states.DEGRADED_PERFORMANCE
    }
    components["email"].refresh_from_db()
    assert components["email"].status == states.OPERATIONAL  # nothing public until Support publish


def test_hysteresis_keeps_one_proposal_while_the_age_hovers(components, thresholds):
    now = timezone.now()
    for minute, age in enumerate([400, 250, 350, 120, 310]):  # above clear, so it stays raised
        waiting(100, age, now + timedelta(minutes=minute))
        queue_monitor.measure(now=now + timedelta(minutes=minute))
    assert Incident.objects.count() == 1


def test_a_drained_backlog_withdraws_an_unpublished_draft(components, thresholds):
    now = timezone.now()
    waiting(100, 400, now)
    queue_monitor.measure(now=now)
    waiting(0, 0, now + timedelta(minutes=1))
    assert queue_monitor.measure(now=now + timedelta(minutes=1)) == {"live": "withdrew draft"}
    assert not Incident.objects.exists()


def test_a_drained_backlog_proposes_resolving_a_published_incident(components, thresholds):
    now = timezone.now()
    waiting(100, 400, now)
    queue_monitor.measure(now=now)
    incident = services.incident_publish_proposal(incident=Incident.objects.get())
    components["email"].refresh_from_db()
    assert components["email"].status == states.DEGRADED_PERFORMANCE

    waiting(3, 30, now + timedelta(minutes=2))
    assert queue_monitor.measure(now=now + timedelta(minutes=2)) == {"live": "proposed resolving"}
    incident.refresh_from_db()
    assert incident.proposed_status == states.RESOLVED and incident.status == states.INVESTIGATING

    services.incident_publish_proposal(incident=incident)  # Support's one click
    incident.refresh_from_db()
    components["email"].refresh_from_db()
    assert incident.status == states.RESOLVED and components["email"].status == states.OPERATIONAL


def test_lanes_no_component_watches_are_ignored(db, thresholds):
    waiting(100, 4000, timezone.now())
    assert queue_monitor.measure() == {}
