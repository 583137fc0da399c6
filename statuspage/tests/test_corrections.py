"""Corrections: Support edit or delete a posted update and edit the start time, audited; the timeline
stays possible (no future start, updates in time order, resolved after started)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from statuspage import selectors, services, states
from statuspage.models import IncidentRevision


def local(dt) -> str:
    return dt.astimezone(selectors.page_zone()).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def three_updates(components, open_incident):
    start = (timezone.now() - timedelta(days=2)).replace(second=0, microsecond=0)
    incident = open_incident(started_at=start)
    services.incident_post_update(
        incident=incident, status=states.IDENTIFIED, body="Found it.", display_at=start + timedelta(hours=3)
    )
    services.incident_post_update(
        incident=incident, status=states.RESOLVED, body="Fixed.", display_at=start + timedelta(hours=5),
        components={components["email"]: states.OPERATIONAL},
    )  # fmt: skip
    return incident, start


def test_support_corrects_a_mistyped_update_time_in_admin_and_it_is_audited(support_client, three_updates, support):
    incident, start = three_updates
    identified = incident.updates.get(status=states.IDENTIFIED)
    url = reverse("admin:statuspage_plainincident_edit_update", args=[incident.pk, identified.pk])
    form = support_client.get(url).content.decode()
    assert 'type="datetime-local"' in form and "Australia/Sydney" in form
    response = support_client.post(
        url, {"status": "identified", "body": "Found the cause.", "display_at": local(start + timedelta(hours=1))}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    identified.refresh_from_db()
    incident.refresh_from_db()
    assert identified.display_at == start + timedelta(hours=1) and identified.body == "Found the cause."
    assert incident.identified_at == start + timedelta(hours=1)
    revision = IncidentRevision.objects.get(action="edit_update")
    assert revision.changed_by == support and revision.update_id == identified.pk
    assert set(revision.changes) == {"body", "display_at"}
    change = support_client.get(reverse("admin:statuspage_plainincident_change", args=[incident.pk])).content.decode()
    assert "Corrections (audit)" in change and "sam" in change


def test_an_update_cannot_move_before_the_previous_one_or_into_the_future(support_client, three_updates):
    incident, start = three_updates
    resolved = incident.updates.get(status=states.RESOLVED)
    url = reverse("admin:statuspage_plainincident_edit_update", args=[incident.pk, resolved.pk])
    before = support_client.post(
        url, {"status": "resolved", "body": "Fixed.", "display_at": local(start + timedelta(hours=2))}
    )
    assert before.status_code == 200 and "time order" in before.content.decode()
    future = support_client.post(
        url, {"status": "resolved", "body": "Fixed.", "display_at": local(timezone.now() + timedelta(days=400))}
    )
    assert "future" in future.content.decode()
    resolved.refresh_from_db()
    assert resolved.display_at == start + timedelta(hours=5)
    assert not IncidentRevision.objects.exists()


def test_posting_an_update_before_the_previous_one_is_refused(three_updates):
    incident, start = three_updates
    with pytest.raises(ValidationError) as refused:
        services.incident_post_update(
            incident=incident, status=states.RESOLVED, body="Again.", display_at=start + timedelta(hours=4)
        )
    assert "time order" in str(refused.value)
    assert incident.updates.count() == 3


def test_support_deletes_a_posted_update_and_the_incident_follows_its_timeline(support_client, three_updates):
    incident, start = three_updates
    resolved = incident.updates.get(status=states.RESOLVED)
    url = reverse("admin:statuspage_plainincident_delete_update", args=[incident.pk, resolved.pk])
    assert "Delete update" in support_client.get(url).content.decode()
    assert support_client.post(url).status_code == 302
    incident.refresh_from_db()
    assert incident.status == states.IDENTIFIED and incident.resolved_at is None
    assert IncidentRevision.objects.get(action="delete_update").changes["body"] == ["Fixed.", None]
    only = incident.updates.order_by("display_at")
    services.incident_update_delete(update=only.last())
    with pytest.raises(ValidationError):
        services.incident_update_delete(update=only.first())  # the only update: delete the incident instead


def test_start_time_is_editable_never_in_the_future_and_never_after_resolution(support_client, three_updates):
    incident, start = three_updates
    url = reverse("admin:statuspage_plainincident_change", args=[incident.pk])
    data = {"name": incident.name, "impact": "minor", "postmortem_body": ""}
    future = support_client.post(url, {**data, "started_at": local(timezone.now() + timedelta(days=400))})
    assert future.status_code == 200 and "future" in future.content.decode()
    after_resolved = support_client.post(url, {**data, "started_at": local(start + timedelta(hours=6))})
    assert after_resolved.status_code == 200 and "before the incident started" in after_resolved.content.decode()
    earlier = start - timedelta(hours=1)
    assert support_client.post(url, {**data, "started_at": local(earlier)}).status_code == 302
    incident.refresh_from_db()
    assert incident.started_at == earlier
    assert incident.updates.order_by("display_at").first().display_at == earlier  # the opening moved with it
    assert selectors.duration_label(incident) == "lasting 6h 0m"
    assert "started_at" in IncidentRevision.objects.get(action="edit_incident").changes


def test_a_future_start_is_refused_when_opening(components):
    with pytest.raises(ValidationError) as refused:
        services.incident_open(
            name="2027", status=states.INVESTIGATING, body="x", started_at=timezone.now() + timedelta(days=365)
        )
    assert "started_at" in refused.value.error_dict


def test_posting_checks_only_against_the_latest_update(three_updates):
    """Rows entered before these rules (out of time order further back) do not block a new update."""
    incident, start = three_updates
    identified = incident.updates.get(status=states.IDENTIFIED)
    identified.__class__.objects.filter(pk=identified.pk).update(display_at=start - timedelta(hours=1))
    services.incident_post_update(incident=incident, status=states.POSTMORTEM, body="Postmortem.")
    incident.refresh_from_db()
    assert incident.status == states.POSTMORTEM
