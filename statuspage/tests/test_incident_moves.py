"""Incidents and maintenances move by the transition helper's table: refusals are field errors, and a
maintenance window starts and completes once however many ticks run at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from kalix_site.transitions import TransitionRefused
from statuspage import services, states
from statuspage.models import Incident, IncidentUpdate


def test_the_moves_allow_exactly_the_status_pairs_the_page_always_allowed():
    """The tables as they were written before they were machines ({status: statuses it may become};
    "" is an incident before its first update)."""
    open_statuses = {"investigating", "identified", "monitoring", "resolved"}
    assert states.INCIDENT.by_state() == {
        "": open_statuses,
        "investigating": open_statuses,
        "identified": open_statuses,
        "monitoring": open_statuses,
        "resolved": {"investigating", "resolved", "postmortem"},
        "postmortem": {"postmortem"},
    }
    assert states.MAINTENANCE.by_state() == {
        "": {"scheduled", "in_progress"},
        "scheduled": {"scheduled", "in_progress", "completed"},
        "in_progress": {"in_progress", "verifying", "completed"},
        "verifying": {"in_progress", "verifying", "completed"},
        "completed": {"completed"},
    }


def test_a_refused_update_is_a_status_field_error_and_writes_nothing(open_incident):
    incident = open_incident()
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Done.")
    for status in (states.MONITORING, states.IN_PROGRESS):  # a move not allowed, a move of maintenances
        with pytest.raises(TransitionRefused) as refused:
            services.incident_post_update(incident=incident, status=status, body="Hmm.")
        assert refused.value.message_dict == {"status": [f"Cannot move from resolved to {status}."]}
    incident.refresh_from_db()
    assert (incident.status, incident.updates.count()) == (states.RESOLVED, 2)


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_start_and_complete_a_maintenance_once(components):
    now = timezone.now()
    maintenance = services.incident_open(
        kind="maintenance",
        name="Upgrade",
        status=states.SCHEDULED,
        body="Planned.",
        scheduled_for=now + timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components={components["email"]: states.UNDER_MAINTENANCE},
    )

    def ticks(at) -> list[dict]:
        barrier, done = threading.Barrier(2), []

        def tick():
            try:
                barrier.wait(10)
                done.append(services.maintenance_tick(now=at))
            finally:
                connection.close()

        threads = [threading.Thread(target=tick) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return done

    started = ticks(now + timedelta(minutes=6))
    assert sorted(d["started"] for d in started) == [0, 1]
    completed = ticks(now + timedelta(hours=2))
    assert sorted(d["completed"] for d in completed) == [0, 1]
    statuses = list(IncidentUpdate.objects.filter(incident=maintenance).order_by("id").values_list("status", flat=True))
    assert statuses == [states.SCHEDULED, states.IN_PROGRESS, states.COMPLETED]
    assert Incident.objects.get(pk=maintenance.pk).status == states.COMPLETED
