"""Feeds and API details: Atom `updated` is the update's own time with an author (read by a real feed
parser); monitoring_at is the first monitoring; reminder_intervals; CORS preflight; ETag and 304; no
Vary: Cookie; page.url the status page; one answer per Accept; deletions visible at once."""

from datetime import UTC, timedelta

import feedparser
import pytest
from django.utils import timezone

from statuspage import services, states, v2


def test_feed_is_valid_atom_with_each_updates_own_time_and_an_author(client, components, open_incident):
    start = (timezone.now() - timedelta(days=900)).replace(microsecond=0)
    incident = open_incident(name="Old email delays", started_at=start)
    services.incident_post_update(
        incident=incident, status=states.RESOLVED, body="Fixed.", display_at=start + timedelta(hours=7)
    )
    body = client.get("/status/feed.atom").content
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")  # well-formed, as a real reader parses it
    assert feed.version == "atom10"
    assert feed.feed.author == "Kalix"
    updated = sorted(e.updated_parsed[:6] for e in feed.entries)
    expected = sorted(u.display_at.astimezone(UTC).timetuple()[:6] for u in incident.updates.all())
    assert updated == expected  # not the entry time (today)
    assert all(e.author == "Kalix" for e in feed.entries)
    assert all(e.id.startswith("tag:") for e in feed.entries)


def test_monitoring_at_is_the_first_monitoring_update(client, components, open_incident):
    start = timezone.now() - timedelta(hours=5)
    incident = open_incident(started_at=start)
    for hours in (1, 2):
        services.incident_post_update(
            incident=incident, status=states.MONITORING, body="Watching.", display_at=start + timedelta(hours=hours)
        )
    body = client.get("/api/v2/incidents.json").json()["incidents"][0]
    assert body["monitoring_at"] == v2.iso(start + timedelta(hours=1))
    assert body["created_at"] == v2.iso(start)  # the incident's own time, not the entry time
    assert body["updated_at"] == v2.iso(start + timedelta(hours=2))
    assert {u["created_at"] for u in body["incident_updates"]} == {
        v2.iso(start), v2.iso(start + timedelta(hours=1)), v2.iso(start + timedelta(hours=2))
    }  # fmt: skip


def test_maintenances_carry_reminder_intervals(client, components, settings):
    settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES = 180
    now = timezone.now()
    services.incident_open(
        kind="maintenance", name="DB", status=states.SCHEDULED, body="Planned.",
        scheduled_for=now + timedelta(days=1), scheduled_until=now + timedelta(days=1, hours=1),
    )  # fmt: skip
    maintenance = client.get("/api/v2/scheduled-maintenances/upcoming.json").json()["scheduled_maintenances"][0]
    assert maintenance["reminder_intervals"] == "[3]"


def test_cors_preflight_allows_any_origin_to_get(client, components):
    response = client.options(
        "/api/v2/summary.json",
        HTTP_ORIGIN="https://dashboard.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert response.status_code in (200, 204)
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "if-none-match"
    assert int(response["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize("url", ["/api/v2/summary.json", "/status/", "/status/history/", "/status/feed.atom"])
def test_etag_and_304_on_public_documents(client, components, open_incident, url):
    first = client.get(url)
    tag = first["ETag"]
    assert first.status_code == 200 and tag.startswith('"')
    again = client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag
    open_incident(name="Something new")  # changes every one of these documents
    changed = client.get(url, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag


def test_public_json_does_not_vary_by_cookie_even_for_a_logged_in_reader(client, components, support):
    client.force_login(support)
    response = client.get("/api/v2/status.json")
    assert "cookie" not in response.get("Vary", "").lower()


def test_page_url_is_the_status_page(client, components):
    assert client.get("/api/v2/status.json").json()["page"]["url"] == "http://status.test/status/"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", "application/json"])
def test_one_answer_per_accept_cached_or_not(client, components, accept):
    answers = {client.get("/api/v2/status.json", HTTP_ACCEPT=accept).status_code for _ in range(3)}
    assert answers == {200}
    assert client.get("/api/v2/status.json", HTTP_ACCEPT=accept)["Content-Type"] == "application/json"


def test_a_deleted_maintenance_leaves_the_api_at_once(client, components, support):
    now = timezone.now()
    maintenance = services.incident_open(
        kind="maintenance", name="Gone soon", status=states.SCHEDULED, body="Planned.",
        scheduled_for=now + timedelta(days=1), scheduled_until=now + timedelta(days=1, hours=1),
    )  # fmt: skip
    url = "/api/v2/scheduled-maintenances/upcoming.json"
    assert client.get(url).json()["scheduled_maintenances"]
    client.force_login(support)
    response = client.post(f"/admin/statuspage/scheduledmaintenance/{maintenance.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert client.get(url).json()["scheduled_maintenances"] == []
