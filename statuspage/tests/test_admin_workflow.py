"""Support's workflow in admin: open an incident (from a template), post updates, publish proposals."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from statuspage import selectors, services, states
from statuspage.models import Incident, IncidentTemplate


def local(dt: datetime) -> str:
    return dt.astimezone(selectors.page_zone()).strftime("%Y-%m-%d %H:%M:%S")


def test_support_opens_an_incident_and_posts_an_update_in_one_form(support_client, components, support):
    email, sms = components["email"], components["sms"]
    assert support_client.get("/admin/statuspage/plainincident/add/").url.endswith("/plainincident/open/")
    started = timezone.now().replace(microsecond=0) - timedelta(days=2)
    response = support_client.post(
        "/admin/statuspage/plainincident/open/",
        {
            "name": "Email delays",
            "impact": "minor",
            "status": "investigating",
            "body": "Looking.",
            "started_at": local(started),
            "notify": "on",
            f"component_{email.pk}": "degraded_performance",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get(name="Email delays")
    assert incident.started_at == started  # read in the page's time zone
    post_update = reverse("admin:statuspage_plainincident_post_update", args=[incident.pk])
    page = support_client.get(post_update).content.decode()
    assert "Times are in Australia/Sydney" in page
    response = support_client.post(
        post_update,
        {
            "status": "identified",
            "body": "Found it.",
            f"component_{email.pk}": "partial_outage",
            f"component_{sms.pk}": "degraded_performance",
            "notify": "on",
        },
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == states.IDENTIFIED
    update = incident.updates.order_by("-id").first()
    assert update.created_by == support and update.notify
    assert {a.component.name: a.new_status for a in update.affected.all()} == {
        "Email": "partial_outage",
        "SMS": "degraded_performance",
    }
    change = support_client.get(reverse("admin:statuspage_plainincident_change", args=[incident.pk])).content.decode()
    assert "Found it." in change and "Post update" in change and " UTC" in change


def test_bad_update_shows_field_errors_and_writes_nothing(support_client, components, open_incident):
    incident = open_incident()
    post_update = reverse("admin:statuspage_plainincident_post_update", args=[incident.pk])
    response = support_client.post(post_update, {"status": "identified", "body": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    future = local(timezone.now() + timedelta(days=1))
    response = support_client.post(post_update, {"status": "identified", "body": "x", "display_at": future})
    assert "cannot be shown in the future" in response.content.decode()
    assert incident.updates.count() == 1


def test_new_incident_from_a_template(support_client, components):
    template = IncidentTemplate.objects.create(
        name="Carrier delays", title="Delayed SMS", body="SMS are delayed.", component_status="partial_outage"
    )
    template.components.set([components["sms"]])
    url = reverse("admin:statuspage_plainincident_open") + f"?template={template.pk}"
    form = support_client.get(url).context["form"]
    assert form.initial["name"] == "Delayed SMS" and form.initial["body"] == "SMS are delayed."
    assert form.fields[f"component_{components['sms'].pk}"].initial == "partial_outage"
    assert url in support_client.get(reverse("admin:statuspage_incidenttemplate_changelist")).content.decode()


def test_publishing_a_queue_draft_is_one_click(support_client, components, open_incident):
    draft = open_incident(draft=True, components={components["email"]: states.DEGRADED_PERFORMANCE})
    components["email"].refresh_from_db()
    assert components["email"].status == states.OPERATIONAL
    response = support_client.post(reverse("admin:statuspage_plainincident_publish", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    components["email"].refresh_from_db()
    assert not draft.is_draft and components["email"].status == states.DEGRADED_PERFORMANCE


def test_support_schedules_maintenance(support_client, components):
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    response = support_client.post(
        reverse("admin:statuspage_scheduledmaintenance_open"),
        {
            "name": "DB upgrade",
            "scheduled_for": local(start),
            "scheduled_until": local(start + timedelta(hours=1)),
            "body": "Planned.",
            "components": [components["api"].pk],
        },
    )
    assert response.status_code == 302
    maintenance = Incident.objects.get(name="DB upgrade")
    assert (maintenance.kind, maintenance.status, maintenance.scheduled_for) == ("maintenance", "scheduled", start)


def test_component_base_status_set_in_admin_goes_through_the_logged_service(support_client, components, support):
    api = components["api"]
    response = support_client.post(
        reverse("admin:statuspage_component_change", args=[api.pk]),
        {"name": "API", "position": 2, "set_status": "major_outage", "reason": "Load balancer down", "showcase": "on"},
    )
    assert response.status_code == 302
    change = api.status_changes.get()
    assert (change.new_status, change.reason, change.changed_by) == ("major_outage", "Load balancer down", support)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/lanes/",  # the queue dashboard (not built yet: another helper's issue)
        "/admin/django_q/ormq/",
        "/admin/django_q/schedule/",
        "/admin/lanes/laneheartbeat/",
    ],
)
def test_support_cannot_touch_queues(support_client, url):
    assert support_client.get(url).status_code in (403, 404)


def test_clinic_staff_cannot_use_the_status_admin(client_a):
    response = client_a.get("/admin/statuspage/plainincident/")
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_support_sees_status_models_in_admin(support_client):
    html = support_client.get("/admin/").content.decode()
    for name in ("Incidents", "Scheduled maintenances", "Components", "Incident templates", "Subscribers"):
        assert name in html


def test_services_used_by_admin_refuse_nonsense(components):
    with pytest.raises(ValidationError) as error:
        services.incident_open(name="", status="investigating", body="x")
    assert "name" in error.value.error_dict
    assert not Incident.objects.exists()


def test_support_publishes_a_postmortem(support_client, client, components, open_incident):
    incident = open_incident(name="Email delays")
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Fixed.")
    response = support_client.post(
        reverse("admin:statuspage_plainincident_change", args=[incident.pk]),
        {"name": "Email delays", "impact": "major", "postmortem_body": "## Cause\n\nA full *disk*."},
    )
    assert response.status_code == 302
    services.incident_post_update(incident=incident, status=states.POSTMORTEM, body="Postmortem published.")
    support_client.logout()
    html = client.get(f"/status/incidents/{incident.pk}/").content.decode()
    assert "Postmortem" in html and "<h2>Cause</h2>" not in html and "<p>A full <em>disk</em>.</p>" in html
    incident.refresh_from_db()
    assert incident.impact == "major" and incident.postmortem_published_at is not None
