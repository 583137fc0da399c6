"""/api/v2/: every endpoint answers with Atlassian Statuspage's field set and vocabularies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from statuspage import api, services, states

# Field sets of Statuspage's public API v2 (https://<page>.statuspage.io/api/v2/), written out here
# independently of the code under test.
PAGE = {"id", "name", "url", "time_zone", "updated_at"}
STATUS = {"indicator", "description"}
COMPONENT = {
    "id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
    "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
    "shortlink", "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
MAINTENANCE = INCIDENT | {"scheduled_for", "scheduled_until", "reminder_intervals"}
UPDATE = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components",
    "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
AFFECTED = {"code", "name", "old_status", "new_status"}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INDICATORS = {"none", "minor", "major", "critical"}

ENDPOINTS = {
    "summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
    "status.json": {"page", "status"},
    "components.json": {"page", "components"},
    "incidents.json": {"page", "incidents"},
    "incidents/unresolved.json": {"page", "incidents"},
    "scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}


@pytest.fixture
def populated(components, open_incident):
    """One open and one resolved incident, one upcoming and one active maintenance."""
    email, sms = components["email"], components["sms"]
    open_incident(name="Email delays", impact=states.IMPACT_MAJOR, components={email: states.PARTIAL_OUTAGE})
    resolved = open_incident(name="Old one", components={sms: states.DEGRADED_PERFORMANCE})
    services.incident_post_update(
        incident=resolved, status=states.RESOLVED, body="Done.", components={sms: states.OPERATIONAL}
    )
    now = timezone.now()
    services.incident_open(
        kind="maintenance", name="Later", status=states.SCHEDULED, body="Soon.",
        scheduled_for=now + timedelta(days=1), scheduled_until=now + timedelta(days=1, hours=1),
        components={sms: states.UNDER_MAINTENANCE},
    )  # fmt: skip
    services.incident_open(
        kind="maintenance", name="Now", status=states.IN_PROGRESS, body="Working.",
        scheduled_for=now - timedelta(minutes=5), scheduled_until=now + timedelta(hours=1),
        components={components["api"]: states.UNDER_MAINTENANCE},
    )  # fmt: skip


def check_component(c):
    assert set(c) >= COMPONENT and set(c) - COMPONENT <= {"components"}
    assert c["status"] in COMPONENT_STATUSES
    assert isinstance(c["id"], str) and isinstance(c["group"], bool)


def check_incident(i, fields):
    assert set(i) == fields
    for update in i["incident_updates"]:
        assert set(update) == UPDATE
        for affected in update["affected_components"] or []:
            assert set(affected) == AFFECTED
            assert {affected["old_status"], affected["new_status"]} <= COMPONENT_STATUSES
    for c in i["components"]:
        check_component(c)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_v2_endpoint_returns_the_statuspage_field_set(client, populated, endpoint):
    response = client.get(f"/api/v2/{endpoint}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == ENDPOINTS[endpoint]
    assert set(body["page"]) == PAGE
    if "status" in body:
        assert set(body["status"]) == STATUS and body["status"]["indicator"] in INDICATORS
    for c in body.get("components", []):
        check_component(c)
    for i in body.get("incidents", []):
        check_incident(i, INCIDENT)
    for m in body.get("scheduled_maintenances", []):
        check_incident(m, MAINTENANCE)
    assert any(body.get(key) for key in ("components", "incidents", "scheduled_maintenances", "status"))


def test_summary_reflects_the_state(client, populated):
    body = client.get("/api/v2/summary.json").json()
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert [i["name"] for i in body["incidents"]] == ["Email delays"]
    assert {m["name"] for m in body["scheduled_maintenances"]} == {"Later", "Now"}
    by_name = {c["name"]: c for c in body["components"]}
    assert by_name["Email"]["status"] == "partial_outage"
    assert by_name["API"]["status"] == "under_maintenance"
    assert by_name["Messaging"]["group"] is True
    assert set(by_name["Messaging"]["components"]) == {by_name["Email"]["id"], by_name["SMS"]["id"]}
    assert by_name["Email"]["group_id"] == by_name["Messaging"]["id"]
    update = body["incidents"][0]["incident_updates"][0]
    assert update["affected_components"][0] == {
        "code": by_name["Email"]["id"],
        "name": "Email",
        "old_status": "operational",
        "new_status": "partial_outage",
    }


@pytest.mark.parametrize(
    ("endpoint", "names"),
    [
        ("incidents.json", {"Email delays", "Old one"}),
        ("incidents/unresolved.json", {"Email delays"}),
        ("scheduled-maintenances.json", {"Later", "Now"}),
        ("scheduled-maintenances/upcoming.json", {"Later"}),
        ("scheduled-maintenances/active.json", {"Now"}),
    ],
)
def test_lists_hold_what_their_names_say(client, populated, endpoint, names):
    key = "incidents" if endpoint.startswith("incidents") else "scheduled_maintenances"
    assert {i["name"] for i in client.get(f"/api/v2/{endpoint}").json()[key]} == names


def test_all_operational_page(client, components):
    assert client.get("/api/v2/status.json").json()["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }


def test_drafts_stay_out_of_the_api(client, components, open_incident):
    open_incident(name="Secret draft", draft=True)
    assert client.get("/api/v2/incidents.json").json()["incidents"] == []


def test_a_write_invalidates_the_cached_body(client, components, open_incident):
    assert client.get("/api/v2/incidents/unresolved.json").json()["incidents"] == []
    open_incident(name="Fresh")
    assert [i["name"] for i in client.get("/api/v2/incidents/unresolved.json").json()["incidents"]] == ["Fresh"]


def test_a_cached_body_is_served_without_querying(client, components, django_assert_num_queries, settings):
    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 60
    client.get("/api/v2/summary.json")
    with django_assert_num_queries(0):
        assert client.get("/api/v2/summary.json").status_code == 200


def test_other_processes_see_a_change_after_the_check_interval(client, components, settings):
    """Another process's write bumps the generation row; this process notices on its next check."""
    from statuspage import cache
    from statuspage.models import PageGeneration

    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 3600
    client.get("/api/v2/components.json")
    PageGeneration.objects.filter(pk=1).update(generation=10_000)  # as another process would
    from statuspage.models import Component

    Component.objects.filter(pk=components["api"].pk).update(name="Public API")  # no bump in this process
    assert "Public API" not in str(client.get("/api/v2/components.json").json())  # still within the interval
    cache._seen["checked"] -= 3601  # the interval has passed
    assert "Public API" in str(client.get("/api/v2/components.json").json())


def test_documents_match_the_schema_serializers(populated):
    """The OpenAPI schema describes exactly the fields the documents carry."""
    from statuspage import v2

    summary = v2.document("summary")
    assert set(summary) == set(api.SummaryDocument().fields)
    assert set(summary["page"]) == set(api.PageSerializer().fields)
    assert set(summary["incidents"][0]) == set(api.IncidentSerializer().fields)
    assert set(summary["incidents"][0]["incident_updates"][0]) == set(api.IncidentUpdateSerializer().fields)
    assert set(summary["scheduled_maintenances"][0]) == set(api.ScheduledMaintenanceSerializer().fields)
    plain = next(c for c in summary["components"] if not c["group"])
    assert set(plain) == set(api.ComponentSerializer().fields) - {"components"}


def test_openapi_schema_documents_every_v2_endpoint(client, admin_user):
    client.force_login(admin_user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for endpoint in ENDPOINTS:
        operation = schema["paths"][f"/api/v2/{endpoint}"]["get"]
        assert "200" in operation["responses"]
    enums = schema["components"]["schemas"]
    assert set(enums["StatuspageComponentStatusEnum"]["enum"]) == COMPONENT_STATUSES
    assert set(enums["StatuspageIndicatorEnum"]["enum"]) == INDICATORS
