"""The write API for support tooling (Statuspage manage API shape): token auth, the Support permission,
incidents with a backfilled timeline, updates posted, corrected and deleted, component statuses; in
the OpenAPI schema."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from statuspage import states, v2
from statuspage.models import ComponentStatusChange, Incident, IncidentRevision, Notice, Subscriber

BASE = "/api/v1/pages/kalix"


@pytest.fixture
def api(client, support):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=support).key}"
    return client


def timeline_body(past_timeline):
    return [
        {
            "status": u["status"],
            "body": u["body"],
            "display_at": u["display_at"].isoformat(),
            "components": {str(c.pk): s for c, s in u["components"].items()},
        }
        for u in past_timeline
    ]


def test_tools_backfill_a_past_incident_with_its_timeline(api, client, components, past_timeline):
    Subscriber.objects.create(email="pat@example.com", confirmed_at=timezone.now())
    response = api.post(
        f"{BASE}/incidents",
        {"incident": {"name": "Carrier outage", "impact_override": "major", "backfilled": True,
                      "incident_updates": timeline_body(past_timeline)}},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["backfilled"] is True and body["draft"] is False and body["status"] == "resolved"
    assert body["started_at"] == v2.iso(past_timeline[0]["display_at"])
    assert body["resolved_at"] == v2.iso(past_timeline[-1]["display_at"])
    assert sorted(u["display_at"] for u in body["incident_updates"]) == [v2.iso(u["display_at"]) for u in past_timeline]
    assert not Notice.objects.filter(purpose="update").exists()
    assert not ComponentStatusChange.objects.exists()
    page = client.get(f"/status/incidents/{body['id']}/").content.decode()
    assert "lasting 7d 4h" in page


def test_tools_open_post_correct_and_delete_updates(api, components):
    email = components["email"]
    started = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    created = api.post(
        f"{BASE}/incidents",
        {"incident": {"name": "Email slow", "status": "investigating", "body": "Looking.",
                      "components": {str(email.pk): "degraded_performance"}, "started_at": started.isoformat(),
                      "deliver_notifications": False}},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    email.refresh_from_db()
    assert email.status == states.DEGRADED_PERFORMANCE
    an_hour_in = (started + timedelta(hours=1)).isoformat()
    posted = api.patch(
        f"{BASE}/incidents/{pk}",
        {"incident": {"status": "identified", "body": "Found.", "display_at": an_hour_in}},
        content_type="application/json",
    )
    assert posted.status_code == 200 and posted.json()["status"] == "identified"
    update_id = next(u["id"] for u in posted.json()["incident_updates"] if u["status"] == "identified")
    edited = api.patch(
        f"{BASE}/incidents/{pk}/incident_updates/{update_id}",
        {"incident_update": {"body": "Found the cause."}},
        content_type="application/json",
    )
    assert edited.status_code == 200
    assert IncidentRevision.objects.get(action="edit_update").changed_by.username == "sam"
    deleted = api.delete(f"{BASE}/incidents/{pk}/incident_updates/{update_id}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "investigating"
    resolved = api.post(
        f"{BASE}/incidents/{pk}/incident_updates",
        {"incident_update": {"status": "resolved", "body": "Done.", "components": {str(email.pk): "operational"}}},
        content_type="application/json",
    )
    assert resolved.status_code == 201
    email.refresh_from_db()
    assert email.status == states.OPERATIONAL
    assert api.delete(f"{BASE}/incidents/{pk}").status_code == 204
    assert not Incident.objects.filter(pk=pk).exists()


def test_tools_set_a_component_status(api, components):
    api_component = components["api"]
    response = api.patch(
        f"{BASE}/components/{api_component.pk}",
        {"component": {"status": "major_outage"}},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "major_outage"
    assert ComponentStatusChange.objects.get(component=api_component).reason == "Manage API"


def test_bad_input_is_a_field_error_and_writes_nothing(api, components):
    future = (timezone.now() + timedelta(days=400)).isoformat()
    cases = [
        {"incident": {"name": "x", "status": "investigating", "body": "y", "started_at": future}},
        {"incident": {"name": "x", "status": "on_fire", "body": "y"}},
        {"incident": {"name": "x", "status": "investigating", "body": "y", "components": {"999999": "major_outage"}}},
        {"incident": {"name": "x", "backfilled": True, "incident_updates": [
            {"status": "resolved", "body": "y", "display_at": future}]}},
        {"incident": {"name": "x"}},
        {"nothing": 1},
    ]  # fmt: skip
    for body in cases:
        response = api.post(f"{BASE}/incidents", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
    assert not Incident.objects.exists()


def test_token_and_the_support_permission_are_required(client, components, staff_a):
    body = {"incident": {"name": "x", "status": "investigating", "body": "y"}}
    assert client.post(f"{BASE}/incidents", body, content_type="application/json").status_code == 401
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=staff_a).key}"
    assert client.post(f"{BASE}/incidents", body, content_type="application/json").status_code == 403
    assert not Incident.objects.exists()


def test_wrong_page_id_is_404(api, components):
    body = {"incident": {"name": "x", "status": "investigating", "body": "y"}}
    assert api.post("/api/v1/pages/other/incidents", body, content_type="application/json").status_code == 404


def test_the_write_api_is_in_the_openapi_schema(client, support):
    client.force_login(support)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/pages/{page_id}/incidents"]
    assert {"patch", "delete"} <= paths["/api/v1/pages/{page_id}/incidents/{id}/incident_updates/{update_pk}"].keys()
    assert "patch" in paths["/api/v1/pages/{page_id}/components/{id}"]
    operation = paths["/api/v1/pages/{page_id}/incidents"]["post"]
    assert any("tokenAuth" in requirement for requirement in operation["security"])
