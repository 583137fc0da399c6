"""Public pages: no login, cached, accessible; the incident timeline, history, Atom feed, uptime bars."""

from datetime import timedelta

from defusedxml import ElementTree as ET
from django.utils import timezone

from statuspage import selectors, services, states
from statuspage.models import ComponentStatusChange

ATOM = "{http://www.w3.org/2005/Atom}"


def test_home_shows_indicator_components_by_group_and_active_incidents(client, components, open_incident):
    open_incident(name="Email delays", body="Emails are **slow**.")
    html = client.get("/status/").content.decode()
    assert "Minor Service Outage" in html
    assert "Messaging" in html and "Email" in html and "SMS" in html
    assert "Degraded performance" in html  # a text label, not only a colour
    assert "Email delays" in html and "<strong>slow</strong>" in html
    for landmark in ("<header", "<main", "<footer", "<nav"):
        assert landmark in html


def test_only_show_if_degraded_hides_operational_components(client, components):
    from statuspage.models import Component

    Component.objects.create(name="Fax relay", only_show_if_degraded=True)
    assert "Fax relay" not in client.get("/status/").content.decode()


def test_incident_page_shows_timeline_newest_first_components_and_duration(client, components, open_incident):
    start = timezone.now() - timedelta(days=3)
    incident = open_incident(name="Email delays", started_at=start)
    services.incident_post_update(
        incident=incident, status=states.IDENTIFIED, body="Found the cause.", display_at=start + timedelta(hours=2)
    )
    services.incident_post_update(
        incident=incident, status=states.RESOLVED, body="All clear.", display_at=start + timedelta(days=1, hours=4)
    )
    html = client.get(f"/status/incidents/{incident.pk}/").content.decode()
    assert html.index("All clear.") < html.index("Found the cause.") < html.index("We are looking into it.")
    assert "lasting 1d 4h" in html
    assert "Resolved" in html and "Identified" in html and "Investigating" in html
    assert "Email" in html
    assert 'title="' in html and " UTC" in html  # UTC on hover


def test_open_incident_page_says_ongoing(client, components, open_incident):
    incident = open_incident(started_at=timezone.now() - timedelta(hours=2, minutes=5))
    assert "ongoing for 2h 5m" in client.get(f"/status/incidents/{incident.pk}/").content.decode()


def test_drafts_and_unknown_incidents_are_404(client, components, open_incident):
    draft = open_incident(draft=True)
    assert client.get(f"/status/incidents/{draft.pk}/").status_code == 404
    assert client.get("/status/incidents/999999/").status_code == 404


def test_script_in_an_update_is_inert_on_the_page(client, components, open_incident):
    incident = open_incident(body='Hi <script>alert("x")</script> <img src=x onerror=alert(1)>')
    html = client.get(f"/status/incidents/{incident.pk}/").content.decode()
    assert "<script>alert" not in html and "onerror" not in html


def test_history_groups_incidents_by_month(client, components, open_incident):
    now = timezone.now()
    open_incident(name="This month", started_at=now - timedelta(minutes=5))
    open_incident(name="Long ago", started_at=now - timedelta(days=62))
    months = selectors.history(months=4)
    local_now = now.astimezone(selectors.page_zone())
    assert months[0]["month"].month == local_now.month
    assert [i.name for i in months[0]["incidents"]] == ["This month"]
    assert "Long ago" in [i.name for m in months[1:] for i in m["incidents"]]
    html = client.get("/status/history/").content.decode()
    assert "This month" in html and "No incidents reported this month." in html


def test_feed_parses_as_valid_atom(client, components, open_incident):
    incident = open_incident(name="Email delays")
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Fixed <b>it</b>.")
    response = client.get("/status/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Email delays: Resolved", "Email delays: Investigating"]
    for entry in entries:
        assert entry.find(f"{ATOM}id").text and entry.find(f"{ATOM}updated").text
        assert entry.find(f"{ATOM}link").get("href").startswith(f"http://status.test/status/incidents/{incident.pk}/")


def test_pages_are_cached_until_a_write(client, components, open_incident, django_assert_num_queries, settings):
    settings.STATUSPAGE_GENERATION_CHECK_SECONDS = 60
    client.get("/status/")
    with django_assert_num_queries(0):
        client.get("/status/")
    open_incident(name="Now visible")
    assert "Now visible" in client.get("/status/").content.decode()


def test_uptime_bar_from_the_status_log(components):
    email = components["email"]
    now = timezone.now()
    email.created_at = now - timedelta(days=200)
    email.save(update_fields=["created_at"])
    ComponentStatusChange.objects.create(
        component=email, old_status="operational", new_status="major_outage", base_status="major_outage",
        source="manual", changed_at=now - timedelta(days=10, hours=12),
    )  # fmt: skip
    ComponentStatusChange.objects.create(
        component=email, old_status="major_outage", new_status="operational", base_status="operational",
        source="manual", changed_at=now - timedelta(days=10, hours=6),
    )  # fmt: skip
    bar = selectors.uptime([email], days=90, now=now)[email.pk]
    assert len(bar.days) == 90
    worst_days = [d for d in bar.days if d.status == states.MAJOR_OUTAGE]
    assert 1 <= len(worst_days) <= 2  # six hours of outage fall on one or two local days
    assert sum(d.down_seconds for d in bar.days) == timedelta(hours=6).total_seconds()
    assert bar.percent == round(100 * (1 - 6 / (90 * 24 - 24 + _hours_today(now))), 2)


def _hours_today(now):
    local = now.astimezone(selectors.page_zone())
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - midnight).total_seconds() / 3600


def test_uptime_days_before_a_component_existed_have_no_data(components):
    bar = selectors.uptime([components["sms"]], days=5)[components["sms"].pk]
    assert bar.days[0].status is None and bar.days[-1].status == states.OPERATIONAL
    assert bar.percent == 100.0


def test_staff_banner_on_pages_whose_component_has_an_active_incident(client_a, components, open_incident):
    from statuspage.models import Component

    patients = Component.objects.create(name="Patient records", staff_path="/patients/")
    assert "Service notice" not in client_a.get("/patients/").content.decode()
    incident = open_incident(name="Records slow", components={patients: states.DEGRADED_PERFORMANCE})
    html = client_a.get("/patients/").content.decode()
    assert "Service notice" in html and "Records slow" in html
    services.incident_post_update(incident=incident, status=states.RESOLVED, body="Fixed.")
    assert "Service notice" not in client_a.get("/patients/").content.decode()
